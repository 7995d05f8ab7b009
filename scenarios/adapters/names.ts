/**
 * Topic and resource names, the same shape for every protocol so bytes per
 * message compare fairly: MQTT topics, HTTP paths and CoAP Uri-Path options
 * carry the same segments.
 */
export const names = {
  reading: (id: number): string => `sensors/${id}/reading`,
  command: (id: number): string => `devices/${id}/cmd`,
  reply: (id: number): string => `devices/${id}/cmd/reply`,
  fanOut: 'updates/all',
  haConfig: (component: string, id: number): string => `homeassistant/${component}/${id}/config`,
  haState: (id: number): string => `testbed/${id}/state`,
  /** The device id in a path or topic of the shapes above (its first all-digit segment), or -1. */
  idOf: (path: string): number => {
    const seg = path.split('/').find((x) => /^\d+$/.test(x));
    return seg === undefined ? -1 : Number(seg);
  },
} as const;

/** The version field of an installed package's package.json (for the settings of a variant). */
export async function packageVersion(name: string): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const req = createRequire(import.meta.url);
    const { readFileSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    // Resolve the main entry, then walk up to the package.json that names this package.
    let dir = dirname(req.resolve(name));
    for (let i = 0; i < 6; i++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch { /* up */ }
      dir = dirname(dir);
    }
  } catch { /* unknown */ }
  return 'unknown';
}
