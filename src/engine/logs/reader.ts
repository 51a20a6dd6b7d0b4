// Reads a container's log (Docker json-file lines written by the shim): tail, filter, follow. The shim rotates
// `log` to `log.1` … `log.N` (newest first); this reader sees them as one stream, oldest first. Memory stays
// bounded whatever the size of the files: forward reads go in fixed-size chunks, `tail` reads backwards from
// the end only until it has its lines, and a line longer than MAX_LINE_BYTES is skipped, not buffered.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch } from 'node:fs';

export interface LogEntry { stream: 'stdout' | 'stderr'; text: string; time: string }

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  /** Last N entries (of those the filters keep); undefined = all. */
  tail?: number | undefined;
  /** Only entries at or after this time (ms since epoch). */
  sinceMs?: number | undefined;
  follow: boolean;
}

/** One open log file. */
export interface LogHandle {
  read(buf: Buffer, position: number): Promise<number>;
  /** Device and inode name the file across renames; size is the current one. */
  identity(): Promise<{ dev: number; ino: number; size: number }>;
  close(): Promise<void>;
}

/** How the reader opens files: the real file system, or (in tests) one that counts the bytes read. */
export interface LogFileSystem {
  /** The open file, or undefined when there is none at `path`. */
  open(path: string): Promise<LogHandle | undefined>;
}

export const nodeLogFileSystem: LogFileSystem = {
  async open(path) {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return {
      read: async (buf, position) => (await fh.read(buf, 0, buf.length, position)).bytesRead,
      identity: async () => {
        const s = await fh.stat();
        return { dev: s.dev, ino: s.ino, size: s.size };
      },
      close: () => fh.close(),
    };
  },
};

export const READ_CHUNK_BYTES = 64 * 1024;
/** The shim writes at most one 16 KiB read per entry (≤ ~100 KiB escaped); anything longer is not its line. */
export const MAX_LINE_BYTES = 1024 * 1024;
const ROTATED_FILES_LIMIT = 100_000;

/** `log`, `log.1`, `log.2` …: the name of the n-th newest file. */
export const rotatedName = (path: string, n: number): string => (n === 0 ? path : `${path}.${n}`);

function parseLine(line: Buffer): LogEntry | undefined {
  if (line.length === 0) return undefined;
  try {
    const o = JSON.parse(line.toString('utf8')) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof o.log !== 'string' || typeof o.time !== 'string') return undefined;
    return { text: o.log, stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: o.time };
  } catch {
    return undefined; // damaged line: skipped
  }
}

interface OpenFile { handle: LogHandle; dev: number; ino: number; size: number }

const sameFile = (a: { dev: number; ino: number }, b: { dev: number; ino: number }): boolean => a.dev === b.dev && a.ino === b.ino;

async function closeAll(files: OpenFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.handle.close().catch(() => undefined)));
}

/**
 * Every file of the log, newest first, opened (an open file stays readable when the shim renames or drops it).
 * Opened newest first, so a rotation during the scan shows up as the same file under two names: then again.
 * `log` itself may be missing for a moment (between the shim's rename and its create).
 */
async function openAll(fs: LogFileSystem, path: string): Promise<OpenFile[]> {
  for (let attempt = 0; ; attempt++) {
    const files: OpenFile[] = [];
    let raced = false;
    for (let n = 0; n < ROTATED_FILES_LIMIT; n++) {
      const handle = await fs.open(rotatedName(path, n));
      if (!handle) {
        if (n === 0) continue;
        break;
      }
      const id = await handle.identity();
      if (files.some((f) => sameFile(f, id))) {
        await handle.close();
        raced = true;
        break;
      }
      files.push({ handle, ...id });
    }
    if (!raced || attempt >= 4) return files;
    await closeAll(files);
  }
}

/** Splits a stream of chunks into lines; a line longer than MAX_LINE_BYTES is dropped as it goes. */
class LineSplitter {
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private skipping = false;

  /** The complete lines in `chunk` (with what came before it), without their newline. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      if (!this.skipping && this.partsBytes + piece.length <= MAX_LINE_BYTES) lines.push(this.partsBytes === 0 ? piece : Buffer.concat([...this.parts, piece]));
      this.parts = [];
      this.partsBytes = 0;
      this.skipping = false;
      start = nl + 1;
    }
    if (start < chunk.length && !this.skipping) {
      // Copied: the caller's buffer is reused for the next read.
      const rest = Buffer.from(chunk.subarray(start));
      this.partsBytes += rest.length;
      if (this.partsBytes > MAX_LINE_BYTES) {
        this.parts = [];
        this.partsBytes = 0;
        this.skipping = true;
      } else {
        this.parts.push(rest);
      }
    }
    return lines;
  }
}

/**
 * Reads `file` forward from `position` to its end (or to `until`), yielding whole lines; `position.at` is
 * where it stopped. A yielded line is only valid until the next one is asked for.
 */
async function* linesForward(file: LogHandle, position: { at: number }, splitter: LineSplitter, until = Infinity): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  while (position.at < until) {
    const n = await file.read(until - position.at < buf.length ? buf.subarray(0, until - position.at) : buf, position.at);
    if (n <= 0) return;
    position.at += n;
    for (const line of splitter.push(buf.subarray(0, n))) yield line;
  }
}

/** A file being read forward: where, and the line it is in the middle of. */
interface Cursor { file: OpenFile; position: { at: number }; splitter: LineSplitter }

/** The entries `keep` accepts, read forward from a cursor (see linesForward). */
async function* entriesForward(c: Cursor, keep: (e: LogEntry) => boolean, until = Infinity): AsyncGenerator<LogEntry> {
  for await (const line of linesForward(c.file.handle, c.position, c.splitter, until)) {
    const e = parseLine(line);
    if (e && keep(e)) yield e;
  }
}

/**
 * The whole lines of the first `size` bytes of `file`, newest first, each with the offset it starts at, read
 * backwards in fixed-size chunks. What follows the last newline (a line the shim is still writing) is not a line
 * yet: `lastLineEnd.at` is set to where it starts, before the first line is yielded.
 */
async function* linesBackward(file: LogHandle, size: number, lastLineEnd: { at: number }): AsyncGenerator<{ line: Buffer; at: number }> {
  let pos = size;
  let after: Buffer[] = []; // the start of the line that continues past the chunk being read, oldest part first
  let afterBytes = 0;
  let tooLong = false;
  let seenNewline = false;
  lastLineEnd.at = 0;
  while (pos > 0) {
    const start = Math.max(0, pos - READ_CHUNK_BYTES);
    const buf = Buffer.allocUnsafe(pos - start);
    let got = 0;
    while (got < buf.length) {
      const n = await file.read(buf.subarray(got), start + got);
      if (n <= 0) break;
      got += n;
    }
    const chunk = buf.subarray(0, got);
    pos = start;
    let end = chunk.length;
    for (let nl = chunk.lastIndexOf(0x0a, end - 1); nl >= 0; nl = end > 0 ? chunk.lastIndexOf(0x0a, end - 1) : -1) {
      const piece = chunk.subarray(nl + 1, end);
      if (!seenNewline) {
        seenNewline = true;
        lastLineEnd.at = start + nl + 1;
      } else if (!tooLong && afterBytes + piece.length <= MAX_LINE_BYTES) {
        yield { line: afterBytes === 0 ? piece : Buffer.concat([piece, ...after]), at: start + nl + 1 };
      }
      after = [];
      afterBytes = 0;
      tooLong = false;
      end = nl;
    }
    if (end > 0 && !tooLong) {
      after.unshift(chunk.subarray(0, end));
      afterBytes += end;
      if (afterBytes > MAX_LINE_BYTES) {
        after = [];
        afterBytes = 0;
        tooLong = true;
      }
    }
  }
  if (seenNewline && !tooLong && afterBytes > 0) yield { line: Buffer.concat(after), at: 0 };
}

/** Where `logs` starts reading forward: files[index] at offset `at`, then every newer file. */
interface Start { index: number; at: number }

/** Where the newest file's last whole line ends (a line being written after it is not read yet). */
async function endOfLastLine(file: OpenFile): Promise<number> {
  const end = { at: 0 };
  for await (const _ of linesBackward(file.handle, file.size, end)) break;
  return end.at;
}

/**
 * Where the last `n` entries `keep` accepts begin, found backwards from `end` across the files (newest first),
 * counting, not keeping them: memory does not grow with n. Stops early at an entry `tooOld` (entries are in time
 * order), starting just after it.
 */
async function tailStart(files: OpenFile[], n: number, keep: (e: LogEntry) => boolean, tooOld: (e: LogEntry) => boolean, end: Start): Promise<Start> {
  let start = end;
  let kept = 0;
  for (const [index, f] of files.entries()) {
    for await (const { line, at } of linesBackward(f.handle, index === 0 ? end.at : f.size, { at: 0 })) {
      const e = parseLine(line);
      if (e && tooOld(e)) return start;
      start = { index, at };
      if (e && keep(e) && ++kept >= n) return start;
    }
  }
  return start;
}

/**
 * Yields log entries (`path` is the newest file, `log`). With `follow`, keeps reading until `stillRunning()` is
 * false (then drains) or the signal aborts, across rotations.
 */
export async function* readLogs(path: string, opts: LogReadOptions, stillRunning: () => boolean, signal?: AbortSignal,
  fs: LogFileSystem = nodeLogFileSystem): AsyncGenerator<LogEntry> {
  const since = opts.sinceMs;
  const keep = (e: LogEntry): boolean => (e.stream === 'stdout' ? opts.stdout : opts.stderr) && (since === undefined || Date.parse(e.time) >= since);
  const tooOld = (e: LogEntry): boolean => since !== undefined && Date.parse(e.time) < since;
  const files = await openAll(fs, path);
  let cursor: Cursor | undefined;
  let followed: OpenFile | undefined;
  try {
    const newest = files[0];
    if (newest) {
      let start: Start = { index: files.length - 1, at: 0 };
      if (opts.tail !== undefined) {
        const end = { index: 0, at: await endOfLastLine(newest) };
        start = opts.tail <= 0 ? end : await tailStart(files, opts.tail, keep, tooOld, end);
      }
      // Forward from there, oldest first, up to what each file held when `logs` was asked for (without follow, a
      // fast writer cannot keep it going forever; with follow, the rest comes next).
      for (let index = start.index; index >= 0; index--) {
        const c: Cursor = { file: files[index]!, position: { at: index === start.index ? start.at : 0 }, splitter: new LineSplitter() };
        yield* entriesForward(c, keep, c.file.size);
        if (index === 0) cursor = c;
      }
    }
    if (!opts.follow) return;
    followed = cursor?.file;
    yield* follow(fs, path, cursor, keep, stillRunning, signal);
  } finally {
    await closeAll(files.filter((f) => f !== followed)); // follow closes the files it was given
  }
}

/** Rotation seen from the reader: the files after the one it holds (oldest first), or none if it still is `log`. */
async function newerFiles(fs: LogFileSystem, path: string, current: OpenFile | undefined): Promise<OpenFile[] | undefined> {
  const now = await fs.open(path);
  // No `log`: none yet, or the shim is between its rename and its create (the next round sees the new one).
  if (!now) return undefined;
  const id = await now.identity();
  await now.close();
  if (current && sameFile(current, id)) return undefined;
  const files = await openAll(fs, path);
  const at = current ? files.findIndex((f) => sameFile(f, current)) : -1;
  // Not found: the file held was dropped as the oldest (or there was none), so every file there is is newer.
  const newer = (at < 0 ? files : files.slice(0, at)).reverse();
  await closeAll(files.filter((f) => !newer.includes(f)));
  return newer.length > 0 ? newer : undefined;
}

async function* follow(fs: LogFileSystem, path: string, start: Cursor | undefined, keep: (e: LogEntry) => boolean,
  stillRunning: () => boolean, signal: AbortSignal | undefined): AsyncGenerator<LogEntry> {
  let cursor = start;
  let pending: OpenFile[] = []; // newer files not read yet (closed if the caller stops early)
  let wake: (() => void) | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  const rewatch = (): void => {
    watcher?.close();
    try {
      watcher = watch(path, () => wake?.());
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined;
    }
  };
  rewatch();
  try {
    for (;;) {
      if (signal?.aborted) return;
      const running = stillRunning();
      if (cursor) {
        yield* entriesForward(cursor, keep);
        // Emptied in place (max-file=1): start again from its beginning.
        if ((await cursor.file.handle.identity()).size < cursor.position.at) cursor = { ...cursor, position: { at: 0 }, splitter: new LineSplitter() };
      }
      const newer = await newerFiles(fs, path, cursor?.file);
      if (newer) {
        // The file held is finished: what the shim wrote to it before renaming it is read first.
        if (cursor) {
          yield* entriesForward(cursor, keep);
          await cursor.file.handle.close();
          cursor = undefined;
        }
        pending = newer;
        for (let f = pending.shift(); f; f = pending.shift()) {
          const next: Cursor = { file: f, position: { at: 0 }, splitter: new LineSplitter() };
          cursor = next;
          yield* entriesForward(next, keep);
          if (pending.length > 0) await f.handle.close();
        }
        rewatch();
        continue; // more may have been rotated meanwhile
      }
      if (!running) return;
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
        const t = setTimeout(done, 250);
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
    await closeAll(cursor ? [cursor.file, ...pending] : pending);
  }
}

export async function logSize(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}
