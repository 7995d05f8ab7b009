/**
 * Device profiles: an emulated small device (CPU quota, memory limit) on an
 * emulated link (delay, jitter, loss, rate) between two network namespaces.
 * See scenarios/README.md, "Device profiles".
 */
export {
  setupDeviceProfile, sweepStale, activeDeviceProfiles,
  type SetupOptions, type DeviceSetup, type DeviceManifest, type DeviceUsage, type LinkCounters, type ExecDeviceOptions, type SweepReport,
} from './setup.js';
export {
  DEVICE_PROFILES, LINK_PROFILES, PI_CLASS_CALIBRATION, resolveDeviceProfile, resolveLinkProfile, linkIsShaped, checkDeviceProfile, checkLinkProfile,
  type DeviceProfile, type LinkProfile, type LinkDirection, type CpuCap, type MemoryCap, type CpuCalibration, type BenchmarkScore,
} from './profiles.js';
export {
  createDeviceCgroup, detectCgroups, parseCgroupLayout, readCgroupLayout, findMtbCgroupDirs, removeCgroupDir, cgroupPids, DeviceCgroup,
  type CgroupCaps, type CgroupUsage, type CgroupSupport, type CgroupLayout, type CgroupVersion,
} from './cgroup.js';
export {
  createNamespacePair, addVethLink, addTunDevices, deleteNamespace, listNamespaces, namespacePids, exec, interfaceCounters, interfaceCountersSync,
  DEVICE_ADDRESS, SERVER_ADDRESS, VETH_IF, TUN_IF,
  type NamespacePair, type ExecOptions, type InterfaceCounters,
} from './netns.js';
export {
  detectLinkMechanisms, shapeLink, kernelShapingCounters, Relay,
  type LinkMode, type LinkMechanismSupport, type ShapedLink, type MechanismRecord, type RelayCounters, type RelayDirectionCounters, type KernelShapingCounters,
} from './link.js';
export {
  measureLink, judgeLink, measureCpu, judgeCpu, LINK_TOLERANCE, CPU_TOLERANCE,
  type LinkMeasurement, type RttMeasurement, type LossMeasurement, type RateMeasurement, type CpuMeasurement, type VerifyTarget,
} from './verify.js';
export { DeviceProfileUnavailable, DeviceProfileVerificationFailed, pidAlive } from './system.js';
