// Tar archives written byte by byte, for tests that need entries GNU tar would never create (`..`, devices
// named anything, global PAX headers, links through links).
import { BLOCK, encodeHeader, encodePaxHeader, paddedSize } from '../../src/engine/images/tar.js';

export interface CraftedEntry {
  name: string;
  /** '0' file (default), '1' hard link, '2' symlink, '3'/'4' device, '5' dir, 'g' global PAX header. */
  type?: string;
  body?: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  mode?: number;
  /** PAX records put before the entry (or, for type 'g', its records). */
  pax?: Record<string, string>;
}

export function craftTar(entries: readonly CraftedEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? '0';
    if (type === 'g') {
      const global = encodePaxHeader(Object.entries(e.pax ?? {}), e.name);
      global[156] = 'g'.charCodeAt(0);
      // re-checksum after changing the type
      const header = global.subarray(0, BLOCK);
      header.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += header[i] ?? 0;
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
      parts.push(global);
      continue;
    }
    if (e.pax !== undefined) parts.push(encodePaxHeader(Object.entries(e.pax), e.name));
    const body = Buffer.from(e.body ?? '');
    parts.push(encodeHeader({
      name: e.name, mode: e.mode ?? (type === '5' ? 0o755 : 0o644), uid: 0, gid: 0, size: type === '0' ? body.length : 0, mtime: 946684800,
      type, linkname: e.linkname ?? '', devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0,
    }));
    if (type === '0' && body.length > 0) parts.push(body, Buffer.alloc(paddedSize(body.length) - body.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** Entries every layer check must refuse: the entry named in the error, and why. */
export const HOSTILE: Array<{ what: string; entries: CraftedEntry[]; entry: string; why: RegExp }> = [
  { what: '.. in a name', entries: [{ name: '../escape', body: 'x' }], entry: '../escape', why: /has a "\.\." component/ },
  { what: '.. inside a name', entries: [{ name: 'a/../../escape', body: 'x' }], entry: 'a/../../escape', why: /has a "\.\." component/ },
  { what: '.. in a PAX path', entries: [{ name: 'harmless', body: 'x', pax: { path: 'etc/../../x' } }], entry: 'etc/../../x', why: /has a "\.\." component/ },
  { what: 'a file below a symlink to /', entries: [{ name: 'root', type: '2', linkname: '/' }, { name: 'root/etc/evil', body: 'x' }], entry: 'root/etc/evil', why: /below the symlink "root"/ },
  { what: 'a file below a relative symlink out', entries: [{ name: 'up', type: '2', linkname: '../../..' }, { name: 'up/x', body: 'x' }], entry: 'up/x', why: /below the symlink "up"/ },
  { what: 'a directory over a symlink', entries: [{ name: 'd', type: '2', linkname: '/etc' }, { name: 'd/', type: '5' }], entry: 'd/', why: /directory over a symlink/ },
  { what: 'a hard link with ..', entries: [{ name: 'h', type: '1', linkname: '../../etc/shadow' }], entry: 'h', why: /hard link to "\.\.\/\.\.\/etc\/shadow", outside the layer/ },
  { what: 'a hard link through a symlink', entries: [{ name: 'l', type: '2', linkname: '/etc' }, { name: 'h', type: '1', linkname: 'l/shadow' }], entry: 'h', why: /hard link through the symlink "l"/ },
  { what: 'a whiteout of ..', entries: [{ name: 'etc/.wh...', body: '' }], entry: 'etc/.wh...', why: /whiteout of "\.\."/ },
  { what: 'a whiteout of nothing', entries: [{ name: 'etc/.wh.', body: '' }], entry: 'etc/.wh.', why: /whiteout of ""/ },
  { what: 'a block device', entries: [{ name: 'dev/sda', type: '4', devmajor: 8, devminor: 0 }], entry: 'dev/sda', why: /block device 8:0/ },
  { what: '/dev/mem', entries: [{ name: 'dev/mem', type: '3', devmajor: 1, devminor: 1 }], entry: 'dev/mem', why: /character device 1:1/ },
  { what: 'a 0:0 node (overlay whiteout form)', entries: [{ name: 'etc/passwd', type: '3' }], entry: 'etc/passwd', why: /character device 0:0/ },
  { what: 'a global PAX path', entries: [{ name: 'g', type: 'g', pax: { path: '/etc/passwd' } }, { name: 'a', body: 'x' }], entry: '/etc/passwd', why: /global PAX header/ },
];
