// Docker's `X-Docker-Container-Path-Stat` header: base64 of {name, size, mode, mtime, linkTarget}, `mode` in Go's
// os.FileMode bits (type bits high, permissions low), which the docker CLI decodes.
import type { Stats } from 'node:fs';

export interface PathStat {
  name: string;
  size: number;
  /** Go os.FileMode. */
  mode: number;
  mtime: string;
  /** For a symlink: what it resolves to inside the container (absolute), else ''. */
  linkTarget: string;
}

const GO_MODE = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, namedPipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, charDevice: 2 ** 21, sticky: 2 ** 20 };

export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_MODE.dir;
  else if (st.isSymbolicLink()) m += GO_MODE.symlink;
  else if (st.isFIFO()) m += GO_MODE.namedPipe;
  else if (st.isSocket()) m += GO_MODE.socket;
  else if (st.isBlockDevice()) m += GO_MODE.device;
  else if (st.isCharacterDevice()) m += GO_MODE.device + GO_MODE.charDevice;
  if (st.mode & 0o4000) m += GO_MODE.setuid;
  if (st.mode & 0o2000) m += GO_MODE.setgid;
  if (st.mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

export function isGoDir(mode: number): boolean {
  return mode >= GO_MODE.dir;
}

export function isGoSymlink(mode: number): boolean {
  return Math.floor(mode / GO_MODE.symlink) % 2 === 1;
}

export function pathStatHeader(s: PathStat): string {
  return Buffer.from(JSON.stringify(s)).toString('base64');
}

export function parsePathStatHeader(value: string | undefined): PathStat | undefined {
  if (value === undefined || value === '') return undefined;
  try { return JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as PathStat; } catch { return undefined; }
}
