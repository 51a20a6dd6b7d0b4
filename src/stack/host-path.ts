// Host paths written in stack files: `~` is the home directory, absolute paths are kept as they are — POSIX
// ones and Windows ones ("C:\data", "C:/data", "\\server\share"), as Compose keeps them for a Windows client
// talking to a Linux engine — and anything else is relative to the directory of the file that wrote it.

import { homedir } from 'node:os';
import { resolve } from 'node:path';

/** A drive letter and a separator ("C:\", "c:/"), or a UNC / named-pipe path ("\\host\share"). */
export function isWindowsAbsolute(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** `p` as an absolute host path; relative paths resolve against `base`. */
export function resolveHostPath(base: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  if (isWindowsAbsolute(p)) return p;
  return resolve(base, p);
}
