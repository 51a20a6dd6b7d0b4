// `gantry cp` inside the daemon (Docker's `HEAD/GET/PUT /containers/{id}/archive?path=`). Paths are resolved in the
// container's layered root (rootfs/resolve.ts: links followed inside the root, never out of it). Reads are a tar
// of the resolved entry through a read-only overlay in tar's own mount namespace (snapshot/upper-tar.ts); writes
// are extracted (with the layer entry checks) into a staging dir of the daemon, then moved into the container's
// upper dir one entry at a time, each parent checked to be a real directory there (copied up from the image when
// only the image has it). A running container is frozen while a path is resolved and, for a write, while entries
// are moved, so it cannot swap a directory for a link in between.
import { spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rename, rm, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GantryError } from '../../common/errors.js';
import { LayerBudget, type LayerLimits } from '../images/limits.js';
import { WhiteoutTransform } from '../images/whiteouts.js';
import { isWhiteout, ResolveError, resolveInLayers, type ResolvedEntry } from '../rootfs/resolve.js';
import { mergedTar } from '../snapshot/upper-tar.js';
import { goFileMode, type PathStat } from './path-stat.js';

export interface ContainerRoot {
  name: string;
  /** The upper dir, then the image's layer dirs. */
  layers: readonly string[];
  running: boolean;
  freeze: () => Promise<void>;
  thaw: () => Promise<void>;
  tmpDir: string;
}

function notFound(root: ContainerRoot, path: string, e: ResolveError): GantryError {
  const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'ENOTDIR' ? 'not a directory' : 'too many levels of symbolic links';
  return new GantryError('NOT_FOUND', `could not find the file ${path} in container ${root.name}: ${why} (${e.containerPath})`, { hint: `gantry exec ${root.name} ls -la ${posix.dirname(path)} shows what is there` });
}

async function resolve(root: ContainerRoot, path: string, followFinal: boolean): Promise<ResolvedEntry> {
  if (!path.startsWith('/')) throw new GantryError('INVALID_ARGUMENT', `the container path ${path} is not absolute`, { hint: 'give it from the container\'s root, e.g. /etc/hosts' });
  try {
    return await resolveInLayers(root.layers, path, { followFinal });
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

async function statOf(root: ContainerRoot, path: string, entry: ResolvedEntry): Promise<PathStat> {
  let linkTarget = '';
  if (entry.stat.isSymbolicLink()) {
    linkTarget = await resolveInLayers(root.layers, entry.containerPath, { followFinal: true }).then((t) => t.containerPath, () => '');
  }
  const name = posix.basename(path.replace(/\/\.?$/, '')) || '/';
  return { name, size: entry.stat.size, mode: goFileMode(entry.stat), mtime: entry.stat.mtime.toISOString(), linkTarget };
}

export async function statContainerPath(root: ContainerRoot, path: string): Promise<PathStat> {
  return frozen(root, async () => statOf(root, path, await resolve(root, path, followsFinal(path))));
}

/** The stat of `path` and a tar of it (its entry named after its last component). */
export async function readContainerPath(root: ContainerRoot, path: string): Promise<{ stat: PathStat; stream: Readable }> {
  return frozen(root, async () => {
    const entry = await resolve(root, path, followsFinal(path));
    const stat = await statOf(root, path, entry);
    const rel = entry.containerPath.replace(/^\/+/, '');
    const stream = rel === ''
      ? mergedTar({ layers: root.layers, tmpDir: root.tmpDir, dir: '.', member: '.', what: `/ of ${root.name}` })
      : mergedTar({ layers: root.layers, tmpDir: root.tmpDir, dir: posix.dirname(rel), member: posix.basename(rel), what: `${path} of ${root.name}` });
    // tar has changed into the directory once its first bytes come: a link swapped in later cannot move it
    await new Promise<void>((resolveReady) => { stream.once('readable', resolveReady); stream.once('error', () => resolveReady()); stream.once('close', resolveReady); });
    return { stat, stream };
  });
}

export interface WriteOptions {
  /** Keep the archive's owners (`docker cp -a`); otherwise files belong to root (0:0), as Docker does. */
  copyUidGid: boolean;
  /** Refuse to replace a directory with a non-directory or the reverse (Docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  limits: LayerLimits;
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
      await keepOwnerAndMode(target, s);
      continue;
    }
    if (s.isDirectory() && d !== undefined && isWhiteout(d)) {
      throw new GantryError('UNSUPPORTED', `${containerPath} was deleted in container ${root.name}; copying a directory over it is not supported`, { hint: `create it first: gantry exec ${root.name} mkdir -p ${containerPath}` });
    }
    if (d !== undefined && (d.isDirectory() || !isWhiteout(d))) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}

/** Extracts `archive` into the directory `path` of the container (it must exist there). */
export async function writeContainerPath(root: ContainerRoot, path: string, archive: Readable, o: WriteOptions): Promise<void> {
  const staging = await mkdtemp(join(root.tmpDir, 'cp-'));
  try {
    await stage(archive, staging, o);
    await frozen(root, async () => {
      const entry = await resolve(root, path, true);
      if (!entry.stat.isDirectory()) throw new GantryError('INVALID_ARGUMENT', `${path} in container ${root.name} is not a directory`, { hint: 'extract into a directory; gantry cp renames a single file for you' });
      const target = await ensureUpperDir(root, entry.containerPath);
      await moveInto(root, staging, target, entry.containerPath, o);
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

