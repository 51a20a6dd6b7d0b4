// Compose's rule for a recreated container: it inherits the old container's anonymous volumes, so the data of
// an image `VOLUME` (a database's directory) or of a `- /path` entry survives a config change. Pure.
import { posix } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import type { ContainerVolume } from './engine-ops.js';

const clean = (p: string): string => {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

/** Targets the body mounts something at explicitly (mounts, binds, tmpfs). */
function explicitTargets(body: ContainerCreateOptions): Set<string> {
  const hc = body.HostConfig ?? {};
  const out = new Set<string>();
  for (const m of hc.Mounts ?? []) out.add(clean(m.Target));
  for (const b of hc.Binds ?? []) { const target = b.split(':')[1]; if (target !== undefined) out.add(clean(target)); }
  for (const t of Object.keys(hc.Tmpfs ?? {})) out.add(clean(t));
  return out;
}

/**
 * The create body of a container replacing one that had `old` volume mounts: every anonymous volume of the old
 * container at a target the new one would give a fresh anonymous volume (an image `VOLUME` of `imageVolumes`,
 * or an anonymous entry of the body) is mounted there instead, by name; a target the new config mounts something
 * else at gets that. The volume keeps its anonymous mark, so `rm -v` of the new container still removes it.
 */
export function inheritAnonymousVolumes(body: ContainerCreateOptions, old: readonly ContainerVolume[], imageVolumes: readonly string[]): ContainerCreateOptions {
  const explicit = explicitTargets(body);
  const wanted = new Set([...imageVolumes, ...Object.keys(body.Volumes ?? {})].map(clean));
  const inherited = old.filter((m) => m.anonymous && wanted.has(clean(m.target)) && !explicit.has(clean(m.target)));
  if (inherited.length === 0) return body;
  const targets = new Set(inherited.map((m) => clean(m.target)));
  const volumes = Object.fromEntries(Object.entries(body.Volumes ?? {}).filter(([t]) => !targets.has(clean(t))));
  const mounts = [...(body.HostConfig?.Mounts ?? []), ...inherited.map((m) => ({ Type: 'volume' as const, Source: m.volume, Target: m.target, ReadOnly: m.readOnly }))];
  return { ...body, Volumes: volumes, HostConfig: { ...body.HostConfig, Mounts: mounts } };
}
