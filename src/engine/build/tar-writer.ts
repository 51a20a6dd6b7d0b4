// A small streaming tar writer for the build context the CLI sends: the walked entries (walkContext, so
// .dockerignore is applied and no link is followed: a symlink is sent as a link), in path order, each file read
// as it is written (never all in memory). PAX `path`/`linkpath` records carry long names. Uses the ustar
// encoder of images/tar.ts. Chosen over spawning `tar -T`: the entry list is ours already (walkContext), and
// an extra in-memory file (`-f -`'s Dockerfile) is one more entry, not a second command.
import { constants } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { BLOCK, encodeHeader, encodePaxHeader, paddedSize, type TarHeader } from '../images/tar.js';
import { POOL_FS, type ContextEntry, type ContextFs } from './context.js';

const TYPE: Record<ContextEntry['type'], string | undefined> = { file: '0', dir: '5', symlink: '2', other: undefined };

function header(name: string, h: Omit<TarHeader, 'name' | 'devmajor' | 'devminor'>): Buffer {
  const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(h.linkname) > 100;
  const records: Array<readonly [string, string]> = long ? [['path', name], ...(h.linkname === '' ? [] : [['linkpath', h.linkname] as const])] : [];
  const block = encodeHeader({ ...h, name, devmajor: 0, devminor: 0 });
  return records.length === 0 ? block : Buffer.concat([encodePaxHeader(records, name), block]);
}

async function* entries(root: string, list: readonly ContextEntry[], extra: ReadonlyArray<{ name: string; content: Buffer }>, fs: ContextFs): AsyncGenerator<Buffer> {
  // Each entry carries its own mtime and in-memory files none: the same context gives the same bytes (the daemon
  // answers an identical fully cached build from memory, keyed by them).
  for (const e of list) {
    const type = TYPE[e.type];
    if (type === undefined) continue; // sockets, fifos, devices are not sent (Docker skips them too)
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    if (e.type !== 'file') {
      yield header(name, { mode: e.mode, uid: e.uid, gid: e.gid, size: 0, mtime: e.mtime, type, linkname: e.linkTarget ?? '' });
      continue;
    }
    const handle = await fs.open(join(root, e.path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (!st.isFile() || st.size !== e.size) throw new GantryError('BUILD_CONTEXT_INVALID', `${e.path} changed while the build context was sent`, { hint: 'do not modify the context during a build' });
      yield header(name, { mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, mtime: Math.floor(st.mtimeMs / 1000), type, linkname: '' });
      let left = e.size;
      const buf = Buffer.allocUnsafe(1 << 20);
      while (left > 0) {
        const bytesRead = await handle.read(buf, 0, Math.min(buf.length, left));
        if (bytesRead === 0) throw new GantryError('BUILD_CONTEXT_INVALID', `${e.path} shrank while the build context was sent`, { hint: 'do not modify the context during a build' });
        left -= bytesRead;
        yield Buffer.from(buf.subarray(0, bytesRead));
      }
      yield Buffer.alloc(paddedSize(e.size) - e.size);
    } finally {
      await handle.close();
    }
  }
  for (const x of extra) {
    yield header(x.name, { mode: 0o644, uid: 0, gid: 0, size: x.content.length, mtime: 0, type: '0', linkname: '' });
    yield x.content;
    yield Buffer.alloc(paddedSize(x.content.length) - x.content.length);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The context as a tar stream: `list` read from `root`, then `extra` in-memory files. */
export function contextTar(root: string, list: readonly ContextEntry[], extra: ReadonlyArray<{ name: string; content: Buffer }> = [], fs: ContextFs = POOL_FS): Readable {
  return Readable.from(entries(root, list, extra, fs), { objectMode: false });
}
