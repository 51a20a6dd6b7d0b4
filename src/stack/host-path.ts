// Host paths written in stack files: `~` is the home directory, absolute paths are kept as they are — POSIX
// ones and Windows ones ("C:\data", "C:/data", "\\server\share"), as Compose keeps them for a Windows client
// talking to a Linux engine — and anything else is relative to the directory of the file that wrote it.

import { homedir } from 'node:os';
import { resolve } from 'node:path';

/** A drive letter and a separator ("C:\", "c:/"), or a UNC / named-pipe path ("\\host\share"). */
export function isWindowsAbsolute(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** What path.resolve changes in an absolute POSIX path: "//", a "." or ".." segment, a trailing "/". */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)|.\/$/;

/**
 * path.resolve(p), without its walk over the characters when `p` is absolute and normal already (the stack
 * loader resolves each bind source three times; in the CLI's cold process each walk costs microseconds).
 */
export function resolvedPath(p: string): string {
  return p.startsWith('/') && !NOT_NORMAL.test(p) ? p : resolve(p);
}

/** `p` as an absolute host path; relative paths resolve against `base`. */
export function resolveHostPath(base: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  if (isWindowsAbsolute(p)) return p;
  if (p.startsWith('/')) return resolvedPath(p);
  // resolve(base, p) is the normal form of base/p: "./" in front taken off, a join that is normal needs nothing.
  let rel = p;
  while (rel.startsWith('./')) rel = rel.slice(2);
  return resolvedPath(`${base}/${rel}`);
}
