// Reads a file as the container would see it, from its upper dir and image layers (without the overlay mounted):
// resolved inside the container root (rootfs/resolve.ts, so the container's links never lead to host files),
// opened non-blocking with no component a link (rootfs/open-beneath.ts: a running container may race us), regular
// files only (fstat: the inode that was resolved), bounded in size. Async: the lstat,
// open and read calls run on libuv's thread pool, so the event loop never waits on them; with O_NONBLOCK a FIFO
// the container put there cannot hang even a pool thread (it is refused after fstat, never read).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { GantryError } from '../../common/errors.js';
import { openBeneath } from '../rootfs/open-beneath.js';
import { DIRECT_FS, findInLayers, type LayeredRoot, type ResolvedEntry } from '../rootfs/resolve.js';

/** Cap for /etc/passwd and /etc/group: far above real ones (a few KiB), small enough to parse at every exec. */
export const USER_DB_MAX_BYTES = 1024 * 1024;

const defaultWarn = (msg: string): void => { process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`); };

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * The text of `path` in the container, or undefined when it is absent, not a regular file (warned), or changed
 * while being opened (warned). A file larger than `maxBytes` is refused with an error naming container and file.
 */
export async function readContainerFile(root: LayeredRoot, path: string, maxBytes: number, warn: (msg: string) => void = defaultWarn,
  opts: { running?: boolean } = {}): Promise<string | undefined> {
  // A container that does not run cannot change its files under us: resolved and read on this thread, directly
  // (still no link followed, O_NONBLOCK, regular files only, capped). One that runs: dir by dir, on the pool.
  const running = opts.running ?? true;
  const entry = await findInLayers(root.layers, path, running ? {} : { fs: DIRECT_FS });
  if (entry === undefined) return undefined;
  const what = `${path} of container ${root.name}`;
  if (!entry.stat.isFile()) {
    if (!entry.stat.isDirectory()) warn(`ignoring ${what}: not a regular file`);
    return undefined;
  }
  if (!running) return readStopped(entry, what, maxBytes, warn);
  let fh;
  try {
    fh = await openBeneath(entry.layer, entry.containerPath, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR') { warn(`ignoring ${what}: it changed while being read`); return undefined; }
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.dev !== entry.stat.dev || st.ino !== entry.stat.ino) {
      warn(`ignoring ${what}: ${st.isFile() ? 'it changed while being read' : 'not a regular file'}`);
      return undefined;
    }
    const tooBig = (): GantryError => tooBigError(what, maxBytes);
    if (st.size > maxBytes) throw tooBig();
    // read one byte more than allowed: a file that grows after fstat is refused too
    let buf = Buffer.alloc(st.size + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) throw tooBig();
        buf = Buffer.concat([buf, Buffer.alloc(maxBytes + 1 - got)]);
      }
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    await fh.close();
  }
}

function tooBigError(what: string, maxBytes: number): GantryError {
  return new GantryError('INVALID_ARGUMENT', `${what} is larger than the ${maxBytes} bytes the daemon reads`,
    { hint: 'use a numeric user (e.g. -u 1000:1000), or make the file smaller' });
}

/** The resolved regular file of a container that does not run, read on this thread with the same checks. */
function readStopped(entry: ResolvedEntry, what: string, maxBytes: number, warn: (msg: string) => void): string | undefined {
  let fd: number;
  try {
    fd = openSync(entry.hostPath, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOENT' || code === 'ENOTDIR') { warn(`ignoring ${what}: it changed while being read`); return undefined; }
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.dev !== entry.stat.dev || st.ino !== entry.stat.ino) {
      warn(`ignoring ${what}: ${st.isFile() ? 'it changed while being read' : 'not a regular file'}`);
      return undefined;
    }
    if (st.size > maxBytes) throw tooBigError(what, maxBytes);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) throw tooBigError(what, maxBytes);
        warn(`ignoring ${what}: it changed while being read`);
        return undefined;
      }
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
