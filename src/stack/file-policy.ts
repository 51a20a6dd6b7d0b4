// What a stack may make the loader read, and which files' contents may be shown in diagnostics.
//
// By default Compose's rules hold: a stack may name files anywhere (`env_file: ../shared.env`). In strict
// mode (`--strict`, and always for deployments from git) every path a stack names must stay inside the
// project directory: resolved after interpolation and through the symlinks of its existing part, so neither
// `${X}` nor a link in the project that points out gets past it. Every file read is size-capped (stat first).
// Files outside the project directory are someone else's: diagnostics located in them carry no excerpt and
// no text from them (see Reporter.markUntrusted).

import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { errnoCode } from '../common/errors.js';
import { isWindowsAbsolute, resolvedPath } from './host-path.js';
import type { PathSeg, Pos } from './pnode.js';
import type { Reporter } from './report.js';

/** Largest stack, included, extended or env file read (bytes). */
export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface FilePolicy {
  readonly strict: boolean;
  /** The project directory, symlinks resolved. */
  readonly projectDir: string;
  readonly maxFileBytes: number;
  /** realPathOfExisting's cache for this load. */
  readonly realPaths: Map<string, string | null>;
}

export function makeFilePolicy(projectDir: string, strict: boolean, maxFileBytes = DEFAULT_MAX_FILE_BYTES): FilePolicy {
  const realPaths = new Map<string, string | null>();
  return { strict, projectDir: realPathOfExisting(projectDir, realPaths), maxFileBytes, realPaths };
}

/**
 * `p` with the symlinks of its longest existing prefix resolved (the rest appended as written). `cache` (one
 * per load) remembers each directory met: a stack names many paths under the same few directories.
 */
export function realPathOfExisting(p: string, cache?: Map<string, string | null>): string {
  const abs = resolvedPath(p);
  const rest: string[] = [];
  let cur = abs;
  let real: string | null | undefined;
  for (;;) {
    real = cache?.get(cur);
    if (real === undefined) {
      // A path under a directory known not to exist does not exist either; otherwise stat, without throwing
      // (many named paths do not exist yet).
      if (cache?.get(dirname(cur)) === null || statSync(cur, { throwIfNoEntry: false }) === undefined) real = null;
      else {
        try {
          real = realpathSync.native(cur);
        } catch {
          real = cur; // unreadable on the way (EACCES): as written
        }
      }
      cache?.set(cur, real);
    }
    if (real !== null) break;
    const parent = dirname(cur);
    if (parent === cur) return abs;
    rest.push(basename(cur));
    cur = parent;
  }
  return rest.length === 0 ? real : join(real, ...rest.reverse());
}

/** True when `p` (an absolute host path) is the project directory or inside it, symlinks resolved. */
export function insideProject(policy: FilePolicy, p: string): boolean {
  if (isWindowsAbsolute(p)) return false;
  const rel = relative(policy.projectDir, realPathOfExisting(p, policy.realPaths));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * In strict mode, reports SPEC_PATH_OUTSIDE_PROJECT and returns false when `p` leaves the project directory;
 * true otherwise (always true outside strict mode). `what` names the key ("env_file", "include", ...).
 */
export function allowPath(policy: FilePolicy, reporter: Reporter, p: string, what: string, pos: Pos | undefined, path: readonly PathSeg[]): boolean {
  if (!policy.strict || insideProject(policy, p)) return true;
  reporter.error('SPEC_PATH_OUTSIDE_PROJECT', `${what} ${p} is outside the project directory ${policy.projectDir}`, pos, path,
    'strict mode (--strict, and every deployment from git) allows only paths inside the project directory; move the file into the project or drop --strict');
  return false;
}

/**
 * Reads a file the stack names, refusing one larger than the cap before reading it. Reports and returns
 * undefined on failure. `what` names the kind of file ("stack file", "env file").
 */
export function readCapped(policy: FilePolicy, reporter: Reporter, file: string, what: string, pos: Pos | undefined, path: readonly PathSeg[] = []): string | undefined {
  try {
    const st = statSync(file);
    if (st.isFile() && st.size > policy.maxFileBytes) {
      reportTooLarge(policy, reporter, file, what, st.size, pos, path);
      return undefined;
    }
    // Read at most one byte past the cap either way: the file may grow after the stat, or not be a regular
    // file at all (a FIFO, a device).
    const bytes = readUpTo(file, policy.maxFileBytes + 1);
    if (bytes.length > policy.maxFileBytes) {
      reportTooLarge(policy, reporter, file, what, undefined, pos, path);
      return undefined;
    }
    return bytes.toString('utf8');
  } catch (e) {
    const errno = errnoCode(e) ?? String(e);
    reporter.error('SPEC_FILE_NOT_FOUND', `cannot read ${what} ${file}: ${errno}`, pos, path, errno === 'ENOENT' ? 'check the path (relative paths are resolved against the project directory)' : undefined);
    return undefined;
  }
}

export function reportTooLarge(policy: FilePolicy, reporter: Reporter, file: string, what: string, size: number | undefined, pos: Pos | undefined, path: readonly PathSeg[] = []): void {
  const got = size === undefined ? '' : ` (${size} bytes)`;
  reporter.error('SPEC_FILE_TOO_LARGE', `${what} ${file} is larger than the ${policy.maxFileBytes}-byte cap${got}`, pos, path, `stack and env files are capped at ${policy.maxFileBytes % 1048576 === 0 ? `${policy.maxFileBytes / 1048576} MiB` : `${policy.maxFileBytes} bytes`}; split the file, or check that the path names the right file`);
}

function readUpTo(file: string, limit: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(limit, 1 << 20));
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < limit) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, limit - total), null);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      total += n;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/**
 * Standard input as a stack file: read up to one byte past the cap (the loader then refuses it as too large),
 * so an endless pipe cannot fill memory.
 */
export async function readStdinCapped(stream: AsyncIterable<unknown> = process.stdin, cap = DEFAULT_MAX_FILE_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of stream) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c));
    chunks.push(b.subarray(0, cap + 1 - total));
    total += Math.min(b.length, cap + 1 - total);
    if (total > cap) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}
