// Atomic record writes: temp file in the same directory, fsync, rename, fsync of the directory.
// A reader sees either the old record or the new one, never a torn write.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, writeSync, unlinkSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

let counter = 0;

/** The temp file of one write: `.<name>.<pid>.<n>.tmp` beside the record. */
const TEMP_RE = /^\..+\.\d+\.\d+\.tmp$/;

export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), 'r');
  try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
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
