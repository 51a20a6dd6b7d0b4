// The archive a sync sends: the copies of one base directory as a tar stream, names relative to the base. Files
// are read when the stream is consumed (the newest content); a path gone meanwhile is left out (its removal comes
// in a later batch); links are sent as links (the engine resolves them inside the container); sockets, FIFOs and
// devices are skipped. Owners are 0:0 here: the daemon gives the entries the container user's ids.

import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { BLOCK, encodeHeader, encodePaxHeader, paddedSize, type TarHeader } from '../engine/images/tar.js';
import type { Copy } from './plan.js';

const CHUNK = 256 * 1024;

function header(name: string, type: string, mode: number, size: number, mtime: number, linkname = ''): Buffer {
  const h: TarHeader = { name, mode, uid: 0, gid: 0, size, mtime, type, linkname, devmajor: 0, devminor: 0 };
  const long = Buffer.byteLength(name) > 99 || Buffer.byteLength(linkname) > 99;
  if (!long) return encodeHeader(h);
  const records: Array<readonly [string, string]> = [['path', name]];
  if (linkname !== '') records.push(['linkpath', linkname]);
  return Buffer.concat([encodePaxHeader(records, name), encodeHeader({ ...h, name: name.slice(0, 99), linkname: linkname.slice(0, 99) })]);
}

/** What was sent of each regular file: compared after the sync, so a write that raced the read is sent again. */
export type SentFiles = Map<string, { readonly size: number; readonly mtimeMs: number }>;

async function* entries(base: string, copies: readonly Copy[], sent: SentFiles | undefined): AsyncGenerator<Buffer> {
  for (const c of copies) {
    const name = posix.relative(base, c.containerPath);
    const st = await lstat(c.hostPath).catch(() => undefined);
    if (st === undefined || name === '' || name.startsWith('..')) continue;
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) { yield header(`${name}/`, '5', st.mode, 0, mtime); continue; }
    if (st.isSymbolicLink()) {
      const target = await readlink(c.hostPath).catch(() => undefined);
      if (target !== undefined) yield header(name, '2', 0o777, 0, mtime, target);
      continue;
    }
    if (!st.isFile()) continue;
    const fh = await open(c.hostPath, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
    if (fh === undefined) continue;
    try {
      const fst = await fh.stat();
      const size = fst.size;
      sent?.set(c.hostPath, { size, mtimeMs: fst.mtimeMs });
      yield header(name, '0', st.mode, size, mtime);
      let left = size;
      while (left > 0) {
        const buf = Buffer.alloc(Math.min(CHUNK, left));
        const { bytesRead } = await fh.read(buf, 0, buf.length, size - left);
        if (bytesRead === 0) { yield Buffer.alloc(left); break; } // the file shrank meanwhile: pad; the next batch brings it
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        left -= bytesRead;
      }
      const pad = paddedSize(size) - size;
      if (pad > 0) yield Buffer.alloc(pad);
    } finally {
      await fh.close();
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}

export function syncArchive(base: string, copies: readonly Copy[], sent?: SentFiles): Readable {
  return Readable.from(entries(base, copies, sent), { objectMode: false });
}

/** The files that changed since they were read for the archive (an editor still writing, a truncate-then-write). */
export async function changedSince(sent: SentFiles): Promise<string[]> {
  const out: string[] = [];
  for (const [path, was] of sent) {
    const now = await lstat(path).catch(() => undefined);
    if (now !== undefined && now.isFile() && (now.size !== was.size || now.mtimeMs !== was.mtimeMs)) out.push(path);
  }
  return out;
}
