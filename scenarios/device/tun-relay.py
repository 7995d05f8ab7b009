#!/usr/bin/env python3
"""User-space link emulator between two TUN devices in two network namespaces.

Used by scenarios/device/link.ts where the kernel has no netem qdisc: each
namespace holds a persistent TUN device (created by `ip tuntap add`); this
process attaches to both, reads every IP packet one namespace sends and writes
it into the other after a delay.

Per direction ('ab' = A -> B, 'ba' = B -> A) it applies:
  delay     base one-way delay in ms
  jitter    standard deviation (ms) of a normal sample added to the delay
            (clipped so that the delay never goes below 0)
  loss      drop probability (0..1), only when asked to (nftables usually does it)
  rate      bits/s serialisation, only when asked to (tbf usually does it)
  queue     byte limit of the packets held; a packet that would exceed it is
            dropped and counted (a bounded queue, like netem's limit)

Order: packets leave in arrival order. A packet's departure is
max(previous departure, arrival + delay + jitter sample), so jitter never
reorders (netem with a rate set behaves the same way); a packet drawn a short
delay behind one drawn a long delay waits for it.

It runs at SCHED_FIFO priority 10 (else nice -10) so that the workload it
carries cannot starve it; it sleeps in select() between packets.

Counters (per direction: forwarded packets/bytes, queue drops, loss drops,
write errors, peak queue bytes) are printed as one JSON line on SIGUSR1 and at
exit (SIGTERM/SIGINT). The first line printed is {"ready": true, ...} once
both TUN devices are attached. The process asks the kernel to send it SIGTERM
when its parent dies (PR_SET_PDEATHSIG), so it never outlives the runner.

Python 3.8+ standard library only (ctypes for setns and prctl: os.setns is
3.12+).

usage: tun-relay.py --tag mtb-<pid>-<n> --config '<json>'
  config = {"a": {"netns": "/var/run/netns/X", "dev": "mtbt0"},
            "b": {"netns": "/var/run/netns/Y", "dev": "mtbt0"},
            "ab": {"delayMs": 10, "jitterMs": 4, "loss": 0, "rateBps": 0, "queueBytes": 1048576},
            "ba": {...}, "seed": 1}
"""

import argparse
import collections
import ctypes
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MAX_PACKET = 65535
READ_BATCH = 64

libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def open_tun(netns_path, dev):
    """Open /dev/net/tun inside the namespace (the TUN socket takes the opener's namespace) and attach to `dev`."""
    nsfd = os.open(netns_path, os.O_RDONLY)
    try:
        setns(nsfd)
    finally:
        os.close(nsfd)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", dev.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


class Direction:
    def __init__(self, name, fd_in, fd_out, cfg, rng):
        self.name = name
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.delay = float(cfg.get("delayMs", 0)) / 1000.0
        self.jitter = float(cfg.get("jitterMs", 0)) / 1000.0
        self.loss = float(cfg.get("loss", 0))
        self.rate = float(cfg.get("rateBps", 0))  # bits per second, 0 = unlimited
        self.limit = int(cfg.get("queueBytes", 1 << 20))
        self.rng = rng
        self.queue = collections.deque()  # (departure, packet)
        self.queued_bytes = 0
        self.last_departure = 0.0
        self.last_finish = 0.0
        self.forwarded = 0
        self.forwarded_bytes = 0
        self.queue_drops = 0
        self.loss_drops = 0
        self.write_errors = 0
        self.peak_queue_bytes = 0

    def enqueue(self, packet, now):
        size = len(packet)
        if self.queued_bytes + size > self.limit:
            self.queue_drops += 1
            return
        delay = self.delay
        if self.jitter > 0:
            delay = max(0.0, delay + self.rng.gauss(0.0, self.jitter))
        ready = now + delay
        if self.rate > 0:
            start = max(ready, self.last_finish)
            ready = start + size * 8.0 / self.rate
            self.last_finish = ready
        # Lost after it used the link, as tbf on the sender's side then nftables on the receiver's
        # side do: a saturated link delivers rate x (1 - loss) either way (verify.ts expects that).
        if self.loss > 0 and self.rng.random() < self.loss:
            self.loss_drops += 1
            return
        departure = max(ready, self.last_departure)
        self.last_departure = departure
        self.queue.append((departure, packet))
        self.queued_bytes += size
        if self.queued_bytes > self.peak_queue_bytes:
            self.peak_queue_bytes = self.queued_bytes

    def flush(self, now):
        q = self.queue
        while q and q[0][0] <= now:
            _, packet = q.popleft()
            self.queued_bytes -= len(packet)
            try:
                os.write(self.fd_out, packet)
                self.forwarded += 1
                self.forwarded_bytes += len(packet)
            except OSError:
                self.write_errors += 1

    def next_due(self):
        return self.queue[0][0] if self.queue else None

    def counters(self):
        return {
            "forwarded": self.forwarded,
            "forwardedBytes": self.forwarded_bytes,
            "queueDrops": self.queue_drops,
            "lossDrops": self.loss_drops,
            "writeErrors": self.write_errors,
            "queuedBytes": self.queued_bytes,
            "peakQueueBytes": self.peak_queue_bytes,
        }


class Stop(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description="TUN-to-TUN link emulator (delay, jitter, loss, rate)")
    parser.add_argument("--tag", required=True, help="mtb-<runner pid>-<n>, for finding stale relays")
    parser.add_argument("--config", required=True, help="JSON, see the module docstring")
    args = parser.parse_args()
    cfg = json.loads(args.config)

    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        return 0  # the parent died before prctl took effect

    # The relay is the emulated network: it must not be starved by the workload it carries.
    sched = "SCHED_OTHER nice 0"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(int(cfg.get("rtPriority", 10))))
        sched = "SCHED_FIFO %d" % int(cfg.get("rtPriority", 10))
    except (OSError, AttributeError):
        try:
            os.nice(-10)
            sched = "SCHED_OTHER nice -10"
        except OSError:
            pass

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd_a = open_tun(cfg["a"]["netns"], cfg["a"]["dev"])
    fd_b = open_tun(cfg["b"]["netns"], cfg["b"]["dev"])
    setns(home)
    os.close(home)

    rng = random.Random(cfg.get("seed", 1))
    ab = Direction("ab", fd_a, fd_b, cfg.get("ab", {}), rng)
    ba = Direction("ba", fd_b, fd_a, cfg.get("ba", {}), rng)
    by_fd = {fd_a: ab, fd_b: ba}
    started = time.monotonic()

    def report(final):
        line = {"tag": args.tag, "final": final, "uptimeS": round(time.monotonic() - started, 3),
                "ab": ab.counters(), "ba": ba.counters()}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def on_usr1(_signum, _frame):
        report(False)

    def on_stop(_signum, _frame):
        raise Stop()

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)

    sys.stdout.write(json.dumps({"ready": True, "pid": os.getpid(), "tag": args.tag, "sched": sched}) + "\n")
    sys.stdout.flush()

    fds = [fd_a, fd_b]
    try:
        while True:
            now = time.monotonic()
            ab.flush(now)
            ba.flush(now)
            dues = [d for d in (ab.next_due(), ba.next_due()) if d is not None]
            timeout = None
            if dues:
                timeout = max(0.0, min(dues) - time.monotonic())
            # select(): microsecond timeouts (poll/epoll round to whole milliseconds)
            readable, _, _ = select.select(fds, [], [], timeout)
            now = time.monotonic()
            for fd in readable:
                direction = by_fd[fd]
                for _ in range(READ_BATCH):
                    try:
                        packet = os.read(fd, MAX_PACKET)
                    except BlockingIOError:
                        break
                    except OSError:
                        break
                    if not packet:
                        break
                    direction.enqueue(packet, now)
    except Stop:
        pass
    finally:
        report(True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
