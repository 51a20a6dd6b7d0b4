// `gantry cp` inside the daemon (Docker's `HEAD/GET/PUT /containers/{id}/archive?path=`). Paths are resolved in the
// container's layered root (rootfs/resolve.ts: links followed inside the root, never out of it). Reads are a tar
// of the resolved entry through a read-only overlay in tar's own mount namespace (snapshot/upper-tar.ts); writes
// are extracted (with the layer entry checks) into a staging dir of the daemon, then moved into the container's
// upper dir one entry at a time, each parent checked to be a real directory there (copied up from the image when
// only the image has it). A running container is frozen while a path is resolved and, for a write, while entries
// are moved, so it cannot swap a directory for a link in between. A path at or below a volume or bind mount is
// read from and written to that mount's host directory (resolved inside it, as its own root), as Docker does;
// a read-only mount refuses writes, a tmpfs (only in the container's namespace) is not reachable.
import { spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, mkdtemp, readdir, rename, rm, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GantryError } from '../../common/errors.js';
import { LayerBudget, type LayerLimits } from '../images/limits.js';
import { WhiteoutTransform } from '../images/whiteouts.js';
import { isWhiteout, ResolveError, resolveInLayers, type ResolvedEntry } from '../rootfs/resolve.js';
import { mergedTar, plainTar } from '../snapshot/upper-tar.js';
import { goFileMode, type PathStat } from './path-stat.js';
import { removeInRunning, syncIntoRunning } from './live-sync.js';
import { tarRenameExpr } from './tar-rename.js';

export interface ContainerMount {
  /** Absolute path in the container. */
  target: string;
  /** Host directory (a volume's data dir, a bind's source); undefined for a tmpfs. */
  source: string | undefined;
  readOnly: boolean;
}

export interface ContainerRoot {
  name: string;
  /** The upper dir, then the image's layer dirs. */
  layers: readonly string[];
  mounts: readonly ContainerMount[];
  running: boolean;
  /** The container's init pid while it runs (0 otherwise): watch's sync writes through /proc/PID/root. */
  pid: number;
  freeze: () => Promise<void>;
  thaw: () => Promise<void>;
  tmpDir: string;
}

function notFound(root: ContainerRoot, path: string, e: ResolveError): GantryError {
  const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'ENOTDIR' ? 'not a directory' : 'too many levels of symbolic links';
  return new GantryError('NOT_FOUND', `could not find the file ${path} in container ${root.name}: ${why} (${e.containerPath})`, { hint: `gantry exec ${root.name} ls -la ${posix.dirname(path)} shows what is there` });
}

/** Where a container path lives: the layered root, or a mount's host dir (with the path inside it). */
interface Place { layers: readonly string[]; path: string; mount: ContainerMount | undefined }

function mountOf(root: ContainerRoot, containerPath: string): ContainerMount | undefined {
  const p = posix.normalize(containerPath).replace(/\/+$/, '') || '/';
  let best: ContainerMount | undefined;
  for (const m of root.mounts) {
    const t = posix.normalize(m.target).replace(/\/+$/, '') || '/';
    if ((p === t || p.startsWith(`${t}/`)) && (best === undefined || t.length > best.target.length)) best = { ...m, target: t };
  }
  return best;
}

function inMount(m: ContainerMount, root: ContainerRoot, containerPath: string): Place {
  if (m.source === undefined) {
    throw new GantryError('UNSUPPORTED', `${containerPath} is on a tmpfs of container ${root.name}, which only the container sees`, { hint: `use gantry exec ${root.name} cat …, or tar inside the container` });
  }
  const rest = posix.normalize(containerPath).slice(m.target.length) || '/';
  return { layers: [m.source], path: rest.startsWith('/') ? rest : `/${rest}`, mount: m };
}

/** The place of `path`: a mount named lexically, else the layered root (and a mount the links lead into). */
async function place(root: ContainerRoot, path: string, followFinal: boolean): Promise<{ place: Place; entry: ResolvedEntry }> {
  if (!path.startsWith('/')) throw new GantryError('INVALID_ARGUMENT', `the container path ${path} is not absolute`, { hint: 'give it from the container\'s root, e.g. /etc/hosts' });
  const lexical = mountOf(root, path);
  const first: Place = lexical !== undefined ? inMount(lexical, root, path) : { layers: root.layers, path, mount: undefined };
  try {
    const entry = await resolveInLayers(first.layers, first.path, { followFinal });
    if (first.mount === undefined) {
      const via = mountOf(root, entry.containerPath);
      if (via !== undefined) {
        const second = inMount(via, root, entry.containerPath);
        return { place: second, entry: await resolveInLayers(second.layers, second.path, { followFinal }) };
      }
    }
    return { place: first, entry };
  } catch (e) {
    if (e instanceof ResolveError) throw notFound(root, path, e);
    throw e;
  }
}

/** Docker's rule: the final component is followed when the path ends in `/` or `/.`. */
function followsFinal(path: string): boolean {
  return path.endsWith('/') || path.endsWith('/.');
}

async function frozen<T>(root: ContainerRoot, fn: () => Promise<T>): Promise<T> {
  if (!root.running) return fn();
  await root.freeze();
  try { return await fn(); } finally { await root.thaw(); }
}

async function statOf(root: ContainerRoot, path: string, at: Place, entry: ResolvedEntry): Promise<PathStat> {
  let linkTarget = '';
  if (entry.stat.isSymbolicLink()) {
    const full = at.mount === undefined ? entry.containerPath : posix.join(at.mount.target, entry.containerPath);
    linkTarget = await place(root, full, true).then(({ place: p, entry: t }) => (p.mount === undefined ? t.containerPath : posix.join(p.mount.target, t.containerPath)), () => '');
  }
  const name = posix.basename(path.replace(/\/\.?$/, '')) || '/';
  return { name, size: entry.stat.size, mode: goFileMode(entry.stat), mtime: entry.stat.mtime.toISOString(), linkTarget };
}

export async function statContainerPath(root: ContainerRoot, path: string): Promise<PathStat> {
  return frozen(root, async () => {
    const { place: at, entry } = await place(root, path, followsFinal(path));
    return statOf(root, path, at, entry);
  });
}

/** The stat of `path` and a tar of it (its entry named after its last component). */
export async function readContainerPath(root: ContainerRoot, path: string): Promise<{ stat: PathStat; stream: Readable }> {
  return frozen(root, async () => {
    const { place: at, entry } = await place(root, path, followsFinal(path));
    const stat = await statOf(root, path, at, entry);
    const rel = entry.containerPath.replace(/^\/+/, '');
    const what = `${path} of ${root.name}`;
    const [dir, member] = rel === '' ? ['.', '.'] : [posix.dirname(rel), posix.basename(rel)];
    // a mount's own root is archived under the mount's name, as any directory would be
    const source = at.layers[0]!;
    const stream = at.mount === undefined
      ? mergedTar({ layers: root.layers, tmpDir: root.tmpDir, dir, member, what })
      : rel === ''
        ? plainTar(posix.dirname(source), posix.basename(source), what, [tarRenameExpr(posix.basename(source), posix.basename(at.mount.target) || '.')])
        : plainTar(join(source, dir), member, what);
    // tar has changed into the directory once its first bytes come: a link swapped in later cannot move it
    const failed = await new Promise<Error | undefined>((ready) => {
      stream.once('readable', () => ready(undefined));
      stream.once('error', (e: Error) => ready(e));
    });
    if (failed !== undefined) throw failed;
    return { stat, stream };
  });
}

export interface WriteOptions {
  /** Keep the archive's owners (`docker cp -a`); otherwise files belong to root (0:0), as Docker does. */
  copyUidGid: boolean;
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  limits: LayerLimits;
  /** Watch's sync: every written entry is owned by this uid:gid (the container's user), and directories that
   *  already exist keep their owner and mode. */
  owner?: { uid: number; gid: number } | undefined;
}

/** Gives every entry of the staged tree (never following a link) to `owner`. */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const st = await lstat(p);
    await lchown(p, owner.uid, owner.gid);
    if (st.isDirectory()) await chownTree(p, owner);
  }
}

/** Extracts `archive` into a fresh staging dir with the layer checks (no `..`, nothing through a link, caps). */
async function stage(archive: Readable, dir: string, o: WriteOptions): Promise<void> {
  const tar = spawn('tar', ['--extract', '--file=-', '--directory', dir, '--numeric-owner', '--same-permissions', ...(o.copyUidGid ? ['--same-owner'] : ['--no-same-owner']), '--warning=no-timestamp'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8');
  tar.stderr.on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
  const exited = new Promise<number>((res) => { tar.on('error', () => res(127)); tar.on('close', (c) => res(c ?? 128)); });
  let streamError: unknown;
  await pipeline(archive, new LayerBudget(o.limits, () => 0), new WhiteoutTransform({ maxEntries: o.limits.maxEntries }), tar.stdin).catch((e: unknown) => { streamError = e; });
  const code = await exited;
  if (streamError instanceof GantryError) throw streamError;
  if (code !== 0 || streamError !== undefined) {
    throw new GantryError('INVALID_ARGUMENT', `the archive to copy could not be extracted: ${stderr.trim() || String(streamError)}`, { hint: 'send a tar archive (gantry cp does that for you)' });
  }
}

/** `to`'s parent chain inside the upper dir as real directories, copied up from the image where only it has them. */
async function ensureUpperDir(root: ContainerRoot, containerDir: string): Promise<string> {
  const upper = root.layers[0]!;
  let host = upper;
  let cur = '';
  for (const name of containerDir.split('/').filter(Boolean)) {
    cur = `${cur}/${name}`;
    host = join(host, name);
    const st = await lstat(host).catch(() => undefined);
    if (st?.isDirectory()) continue;
    if (st !== undefined && !isWhiteout(st)) {
      throw new GantryError('CONFLICT', `${cur} in container ${root.name} is not a directory`, { hint: 'copy to a directory path' });
    }
    if (st !== undefined) {
      throw new GantryError('UNSUPPORTED', `${cur} was deleted in container ${root.name}; copying below it is not supported`, { hint: `create it first: gantry exec ${root.name} mkdir -p ${cur}` });
    }
    const image = await resolveInLayers(root.layers.slice(1), cur, { followFinal: false }).catch(() => undefined);
    await mkdir(host, { mode: 0o755 });
    if (image?.stat.isDirectory()) await keepOwnerAndMode(host, image.stat);
  }
  return host;
}

async function keepOwnerAndMode(path: string, st: Stats): Promise<void> {
  await chown(path, st.uid, st.gid);
  await chmod(path, st.mode & 0o7777);
  await utimes(path, st.atime, st.mtime);
}

/** Moves the staged tree `from` into the upper dir's `to` (a real directory), entry by entry. */
async function moveInto(root: ContainerRoot, from: string, to: string, containerDir: string, o: WriteOptions): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const containerPath = posix.join(containerDir, name);
    const s = await lstat(src);
    const d = await lstat(dst).catch(() => undefined);
    const inImage = d === undefined ? await resolveInLayers(root.layers.slice(1), containerPath, { followFinal: false }).catch(() => undefined) : undefined;
    const existing = d !== undefined && !isWhiteout(d) ? d : inImage?.stat;
    if (existing !== undefined && existing.isDirectory() !== s.isDirectory() && o.noOverwriteDirNonDir) {
      throw new GantryError('CONFLICT', `cannot overwrite ${existing.isDirectory() ? 'directory' : 'non-directory'} ${containerPath} in container ${root.name} with a ${s.isDirectory() ? 'directory' : 'non-directory'}`);
    }
    if (s.isDirectory() && existing?.isDirectory() === true) {
      // merge: the upper dir gets its own copy of the directory, then its entries
      const target = d?.isDirectory() === true ? dst : await ensureUpperDir(root, containerPath);
      await moveInto(root, src, target, containerPath, o);
      if (o.owner === undefined || d?.isDirectory() !== true) await keepOwnerAndMode(target, s);
      continue;
    }
    if (s.isDirectory() && d !== undefined && isWhiteout(d)) {
      throw new GantryError('UNSUPPORTED', `${containerPath} was deleted in container ${root.name}; copying a directory over it is not supported`, { hint: `create it first: gantry exec ${root.name} mkdir -p ${containerPath}` });
    }
    if (d !== undefined && (d.isDirectory() || !isWhiteout(d))) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}

/**
 * Runs `write` against the container as it is now; when it fails because the container stopped or (re)started meanwhile
 * (its pid changed: the process a live write went through is gone), it runs again against the container as it is then,
 * at most twice more. A crash-looping container is written to whichever way it is at that moment.
 */
async function againIfItMoved(root: ContainerRoot, reload: (() => ContainerRoot) | undefined, write: (r: ContainerRoot) => Promise<void>): Promise<void> {
  let cur = root;
  for (let attempt = 0; ; attempt++) {
    try {
      await write(cur);
      return;
    } catch (e) {
      const now = attempt < 2 ? reload?.() : undefined;
      if (now === undefined || (now.running === cur.running && now.pid === cur.pid)) throw e;
      cur = now;
    }
  }
}

/**
 * Extracts `archive` into the directory `path` of the container (it must exist there, unless the container runs and
 * the write is watch's). `reload` gives the container's root again after a failure, to retry once it has moved.
 */
export async function writeContainerPath(root: ContainerRoot, path: string, archive: Readable, o: WriteOptions, reload?: () => ContainerRoot): Promise<void> {
  const staging = await mkdtemp(join(root.tmpDir, 'cp-'));
  try {
    await stage(archive, staging, o);
    if (o.owner !== undefined) await chownTree(staging, o.owner);
    await againIfItMoved(root, reload, (r) => writeStaged(r, staging, path, o));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeStaged(root: ContainerRoot, staging: string, path: string, o: WriteOptions): Promise<void> {
  if (o.owner !== undefined && root.running && root.pid > 0) {
    const owner = o.owner;
    await frozen(root, () => syncIntoRunning(`/proc/${root.pid}/root`, staging, path, owner));
    return;
  }
  await frozen(root, async () => {
    const { place: at, entry } = await place(root, path, true);
    if (!entry.stat.isDirectory()) throw new GantryError('INVALID_ARGUMENT', `${path} in container ${root.name} is not a directory`, { hint: 'extract into a directory; gantry cp renames a single file for you' });
    if (at.mount?.readOnly === true) throw new GantryError('CONFLICT', `${path} is on a read-only mount of container ${root.name}`, { hint: 'copy to a writable path' });
    // a mount's host dir is its own single layer: written in place
    const into: ContainerRoot = at.mount === undefined ? root : { ...root, layers: at.layers, mounts: [] };
    const target = await ensureUpperDir(into, entry.containerPath);
    await moveInto(into, staging, target, entry.containerPath, o);
  });
}

/** Makes `upperPath` a whiteout (a 0:0 character device: overlayfs's mark for a name deleted from the layers below). */
async function whiteout(upperPath: string): Promise<void> {
  const code = await new Promise<number>((res) => {
    const p = spawn('mknod', [upperPath, 'c', '0', '0'], { stdio: 'ignore' });
    p.on('error', () => res(127));
    p.on('close', (c) => res(c ?? 128));
  });
  if (code !== 0) throw new GantryError('INTERNAL', `could not mark ${upperPath} deleted (mknod exited ${code})`, { hint: 'the daemon must run as root to delete image files in a container' });
}

/**
 * Deletes `paths` (absolute container paths; the final component is never followed) from the container, as `rm -rf`
 * inside it would: an entry of the upper dir or of a mount's host dir is removed; one the image still shows is
 * hidden with a whiteout. A path that does not exist is fine. Resolved inside the container root like every cp path.
 */
export async function removeContainerPaths(root: ContainerRoot, paths: readonly string[], reload?: () => ContainerRoot): Promise<void> {
  await againIfItMoved(root, reload, (r) => removeFrom(r, paths));
}

async function removeFrom(root: ContainerRoot, paths: readonly string[]): Promise<void> {
  if (root.running && root.pid > 0) {
    await frozen(root, () => removeInRunning(`/proc/${root.pid}/root`, paths));
    return;
  }
  await frozen(root, async () => {
    for (const path of paths) {
      if (posix.normalize(path) === '/') throw new GantryError('INVALID_ARGUMENT', `refusing to delete / of container ${root.name}`);
      let found: { place: Place; entry: ResolvedEntry };
      try {
        found = await place(root, path, false);
      } catch (e) {
        if (e instanceof GantryError && e.code === 'NOT_FOUND') continue;
        throw e;
      }
      const { place: at, entry } = found;
      if (at.mount?.readOnly === true) throw new GantryError('CONFLICT', `${path} is on a read-only mount of container ${root.name}`, { hint: 'sync to a writable path' });
      const top = at.layers[0]!;
      await rm(join(top, entry.containerPath), { recursive: true, force: true });
      if (at.layers.length === 1) continue;
      const still = await resolveInLayers(at.layers, entry.containerPath, { followFinal: false }).then(() => true, () => false);
      if (!still) continue;
      const parent = await ensureUpperDir(root, posix.dirname(entry.containerPath));
      await whiteout(join(parent, posix.basename(entry.containerPath)));
    }
  });
}
