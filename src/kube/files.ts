// Reads a config's or secret's file for a ConfigMap/Secret: capped at what one object holds (1 MiB), a regular
// file only, the last component never followed if it is a symlink (a checkout's file pointing at /etc/shadow).

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { GantryError, errnoCode } from '../common/errors.js';

/** A ConfigMap or Secret holds at most 1 MiB of data. */
export const MAX_OBJECT_DATA = 1024 * 1024;

export function readObjectFile(path: string, max = MAX_OBJECT_DATA): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e);
    throw new GantryError(code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_ARGUMENT', code === 'ELOOP' ? `${path} is a symbolic link, which is not followed` : `cannot open ${path}: ${code ?? 'error'}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new GantryError('INVALID_ARGUMENT', `${path} is not a regular file`);
    if (st.size > max) throw new GantryError('TOO_LARGE', `${path} is ${st.size} bytes, more than the ${max} a ConfigMap or Secret holds`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
