// `gantry diff`: what a container changed, read from its upper dir against the image's layers, with overlay's
// rules (Docker's `GET /containers/{id}/changes`, Kind 0 = changed, 1 = added, 2 = deleted):
//   a whiteout (0:0 char device)                       → D
//   an entry whose path the image's merged view has   → C  (directories too: they were copied up)
//   anything else                                      → A
// The walk never follows a link: names are looked up by lstat in directories already seen to be real ones,
// in the upper dir and in each lower layer (down to a whiteout, a non-directory, or an opaque directory).
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { probeOpaque } from '../rootfs/opaque.js';
import { findInLayers, isWhiteout } from '../rootfs/resolve.js';

export const CHANGE_MODIFIED = 0;
export const CHANGE_ADDED = 1;
export const CHANGE_DELETED = 2;

/**
 * Mountpoints the runtime makes in the upper dir when the image lacks them (Docker keeps these in its hidden init
 * layer): not changes of the container's own while they are empty.
 */
export const RUNTIME_MOUNTPOINTS: ReadonlySet<string> = new Set([
  '/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/proc', '/sys', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sbin/gantry-init',
]);

/**
 * The runtime's mountpoints in the upper dir that are not the container's own change: empty, a real entry of the
 * upper dir at that very path (no link on the way), and absent from the image. Tar names (`etc/hosts`).
 * `extra`: more mountpoints (a build step's RUN --mount targets); their parents count too when the image lacked
 * them and they hold nothing but such mountpoints (the stubs the runtime made on the way, as BuildKit removes them).
 */
export async function runtimeMountpointsIn(upper: string, lowerDirs: readonly string[], extra: readonly string[] = []): Promise<Set<string>> {
  const out = new Set<string>();
  const candidates = new Set(RUNTIME_MOUNTPOINTS);
  for (const target of extra) {
    for (let p = posix.normalize(`/${target}`); p !== '/'; p = posix.dirname(p)) candidates.add(p.replace(/\/+$/, ''));
  }
  // deepest first: a stub dir is empty when all it holds are stubs already found
  const ordered = [...candidates].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const path of ordered) {
    const entry = await findInLayers([upper], path, { followFinal: false });
    if (entry === undefined || entry.containerPath !== path) continue;
    const empty = entry.stat.isFile() ? entry.stat.size === 0
      : entry.stat.isDirectory() && (await readdir(entry.hostPath)).every((n) => out.has(`${path.slice(1)}/${n}`));
    if (!empty || (lowerDirs.length > 0 && (await findInLayers(lowerDirs, path, { followFinal: false })) !== undefined)) continue;
    out.add(path.slice(1));
  }
  // A dir of the image that overlay copied up only to hold such mountpoints (/etc for /etc/hosts), its owner and
  // mode unchanged and not made opaque, is no change either: Docker's layer does not have it.
  const parents = new Set<string>();
  for (const name of out) for (let p = posix.dirname(`/${name}`); p !== '/'; p = posix.dirname(p)) parents.add(p);
  for (const path of [...parents].sort((a, b) => b.split('/').length - a.split('/').length)) {
    if (out.has(path.slice(1)) || lowerDirs.length === 0) continue;
    const entry = await findInLayers([upper], path, { followFinal: false });
    if (entry === undefined || entry.containerPath !== path || !entry.stat.isDirectory()) continue;
    if (!(await readdir(entry.hostPath)).every((n) => out.has(`${path.slice(1)}/${n}`))) continue;
    const lower = await findInLayers(lowerDirs, path, { followFinal: false });
    if (lower === undefined || lower.containerPath !== path || !lower.stat.isDirectory()) continue;
    if ((lower.stat.mode & 0o7777) !== (entry.stat.mode & 0o7777) || lower.stat.uid !== entry.stat.uid || lower.stat.gid !== entry.stat.gid) continue;
    if ((await probeOpaque([entry.hostPath]))[0] === true) continue;
    out.add(path.slice(1));
  }
  return out;
}

export interface ContainerChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try { return await lstat(p); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** Where `name` is in the merged lower directory `parents` (host dirs, topmost first). */
async function lowerLookup(parents: readonly string[], name: string): Promise<{ exists: boolean; dirs: string[] }> {
  const dirs: string[] = [];
  for (const parent of parents) {
    const p = join(parent, name);
    const st = await lstatOrUndefined(p);
    if (st === undefined) continue;
    if (isWhiteout(st)) return { exists: dirs.length > 0, dirs };
    if (!st.isDirectory()) return { exists: true, dirs };
    dirs.push(p);
  }
  if (dirs.length > 1) {
    const opaque = await probeOpaque(dirs.slice(0, -1));
    const cut = opaque.indexOf(true);
    if (cut >= 0) dirs.length = cut + 1;
  }
  return { exists: dirs.length > 0, dirs };
}

/**
 * The changes of the upper dir `upper` over `lowerDirs` (the image's layer dirs, topmost first), sorted by path.
 * Refused past `maxEntries` entries (TOO_LARGE), so a container with millions of new files cannot exhaust memory.
 */
/** `hidden`: tar names (runtimeMountpointsIn) that are no change either (a build step's mount stubs). */
export async function upperChanges(upper: string, lowerDirs: readonly string[], maxEntries: number, hidden: ReadonlySet<string> = new Set()): Promise<ContainerChange[]> {
  const out: ContainerChange[] = [];
  /** Walks one dir; answers whether it held only runtime mountpoints (then its own copy-up is no change either). */
  const walk = async (hostDir: string, containerDir: string, lowers: readonly string[]): Promise<boolean> => {
    const entries = (await readdir(hostDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs = entries.filter((e) => e.isDirectory());
    const opaque = await probeOpaque(subdirs.map((e) => join(hostDir, e.name)));
    const isOpaque = new Map(subdirs.map((e, i) => [e.name, opaque[i] === true]));
    let hiddenCount = 0;
    for (const e of entries) {
      if (out.length >= maxEntries) {
        throw new GantryError('TOO_LARGE', `the container changed more than ${maxEntries} files`, { hint: 'commit or export it instead of listing its changes' });
      }
      const path = containerDir === '/' ? `/${e.name}` : `${containerDir}/${e.name}`;
      const hostPath = join(hostDir, e.name);
      const lower = lowers.length === 0 ? { exists: false, dirs: [] } : await lowerLookup(lowers, e.name);
      const st = await lstat(hostPath);
      if (isWhiteout(st)) {
        if (lower.exists) out.push({ Path: path, Kind: CHANGE_DELETED });
        continue;
      }
      if (!lower.exists && (hidden.has(path.slice(1)) || (RUNTIME_MOUNTPOINTS.has(path) && (st.isFile() ? st.size === 0 : st.isDirectory() && (await readdir(hostPath)).length === 0)))) {
        hiddenCount++;
        continue;
      }
      const at = out.length;
      out.push({ Path: path, Kind: lower.exists ? CHANGE_MODIFIED : CHANGE_ADDED });
      if (e.isDirectory()) {
        const onlyMountpoints = await walk(hostPath, path, isOpaque.get(e.name) === true ? [] : lower.dirs);
        if (onlyMountpoints && lower.exists) { out.splice(at, 1); hiddenCount++; }
      }
    }
    return hiddenCount > 0 && hiddenCount === entries.length;
  };
  await walk(upper, '/', lowerDirs);
  return out;
}
