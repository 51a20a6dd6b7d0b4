// Atomic record writes: temp file in the same directory, fsync, rename, fsync of the directory.
// A reader sees either the old record or the new one, never a torn write.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, writeSync, unlinkSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { open } from 'node:fs/promises';

let counter = 0;

/** The temp file of one write: `.<name>.<pid>.<n>.tmp` beside the record. */
const TEMP_RE = /^\..+\.\d+\.\d+\.tmp$/;

/** Writes `data` to a temp file beside `path` (fsync'ed when `sync`) and renames it over `path`. */
function writeAndRename(path: string, data: string | Uint8Array, mode: number, sync: boolean): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (sync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  writeAndRename(path, data, mode, true);
  const dirFd = openSync(dirname(path), 'r');
  try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
}

export function writeJsonAtomic(path: string, value: unknown, o: { flushLater?: boolean } = {}): void {
  (o.flushLater === true ? writeFileAtomicFlushLater : writeFileAtomic)(path, JSON.stringify(value, null, 2) + '\n');
}

// ---- atomic now, durable a moment later ----
// The hot records (a container's, rewritten at each create, start, exit, health change) are written and renamed
// into place at once — a reader, and a daemon killed at any moment, see the old record or the new one, whole — but
// their fsyncs (file, then directory) run on libuv's pool, coalesced per turn of the event loop, instead of
// blocking the daemon's only thread ~1 ms each. What a power loss could cost is the last few milliseconds of state
// changes, which recovery reconciles with the processes anyway; `flushPendingWrites` ends them at shutdown.

const pendingFiles = new Set<string>();
const pendingDirs = new Set<string>();
/** The next flush (not started yet), and the one running. */
let scheduled: Promise<void> | undefined;
let running: Promise<void> = Promise.resolve();

export function writeFileAtomicFlushLater(path: string, data: string | Uint8Array, mode = 0o600): void {
  writeAndRename(path, data, mode, false);
  pendingFiles.add(path);
  pendingDirs.add(dirname(path));
  scheduled ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
    scheduled = undefined;
    running = running.then(flushNow);
    return running;
  });
}

async function syncPath(path: string): Promise<void> {
  try {
    const fh = await open(path, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch {
    // removed meanwhile: nothing to make durable
  }
}

async function flushNow(): Promise<void> {
  const files = [...pendingFiles];
  const dirs = [...pendingDirs];
  pendingFiles.clear();
  pendingDirs.clear();
  await Promise.all(files.map(syncPath));
  await Promise.all(dirs.map(syncPath));
}

/** Resolves once every write made so far with writeFileAtomicFlushLater is on disk. */
export async function flushPendingWrites(): Promise<void> {
  while (scheduled !== undefined) await scheduled;
  await running;
}

/** Reads a JSON record; undefined when the file does not exist. */
export function readJsonFile<T>(path: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}

/**
 * Removes the temp files of writes that never reached their rename (the writer died in between) from `dir`; call it
 * before the directory's writer starts. Answers the names removed; a missing directory has none.
 */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_RE.test(n))) {
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return removed;
}
