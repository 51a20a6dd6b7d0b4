// Compose's rule for a recreated container: it inherits the old container's anonymous volumes, so the data of
// an image `VOLUME` (a database's directory) or of a `- /path` entry survives a config change. Pure.
import { posix } from 'node:path';
import type { ContainerSpec } from '../engine/containers/container-spec.js';
import type { ContainerVolume } from './engine-ops.js';

const clean = (p: string): string => {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

/**
 * The spec of a container replacing one that had `old` volume mounts: every anonymous volume of the old
 * container at a target the new one would give a fresh anonymous volume (an image `VOLUME` of `imageVolumes`,
 * or an anonymous entry of the spec) is mounted there instead, by name; a target the new config mounts something
 * else at gets that. The volume keeps its anonymous mark, so `rm -v` of the new container still removes it.
 */
export function inheritAnonymousVolumes(spec: ContainerSpec, old: readonly ContainerVolume[], imageVolumes: readonly string[]): ContainerSpec {
  const explicit = new Set(spec.host.mounts.map((m) => clean(m.target)));
  const wanted = new Set([...imageVolumes, ...spec.anonymousVolumes].map(clean));
  const inherited = old.filter((m) => m.anonymous && wanted.has(clean(m.target)) && !explicit.has(clean(m.target)));
  if (inherited.length === 0) return spec;
  const targets = new Set(inherited.map((m) => clean(m.target)));
  return {
    ...spec, anonymousVolumes: spec.anonymousVolumes.filter((t) => !targets.has(clean(t))),
    host: { ...spec.host, mounts: [...spec.host.mounts, ...inherited.map((m) => ({ type: 'volume' as const, source: m.volume, target: m.target, readOnly: m.readOnly }))] },
  };
}
