// Just enough of the tar format (ustar, GNU long names, PAX) to read entry headers from a stream and to
// write the few entries the whiteout conversion emits. Entry bodies are never interpreted here.

export const BLOCK = 512;

export interface TarHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' dir, '6' fifo,
   *  'x' PAX header, 'g' PAX global header, 'L'/'K' GNU long name / long link name. */
  type: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function readString(block: Uint8Array, start: number, length: number): string {
  const slice = block.subarray(start, start + length);
  const nul = slice.indexOf(0);
  return Buffer.from(nul < 0 ? slice : slice.subarray(0, nul)).toString('utf8');
}

function readNumber(block: Uint8Array, start: number, length: number): number {
  const first = block[start] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte is the marker.
    let n = first & 0x3f;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + (block[i] ?? 0);
    return n;
  }
  const text = readString(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return sum;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses one 512-byte header block; undefined when its checksum is wrong (not a tar header). */
export function parseHeader(block: Uint8Array): TarHeader | undefined {
  if (block.length < BLOCK) return undefined;
  const stored = readNumber(block, 148, 8);
  if (stored !== checksum(block)) return undefined;
  let name = readString(block, 0, 100);
  const isUstar = readString(block, 257, 6) === 'ustar' && readString(block, 263, 2) === '00';
  if (isUstar) {
    const prefix = readString(block, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const type = block[156] === 0 || block[156] === undefined ? '0' : String.fromCharCode(block[156]);
  return {
    name,
    mode: readNumber(block, 100, 8),
    uid: readNumber(block, 108, 8),
    gid: readNumber(block, 116, 8),
    size: readNumber(block, 124, 12),
    mtime: readNumber(block, 136, 12),
    type,
    linkname: readString(block, 157, 100),
    devmajor: readNumber(block, 329, 8),
    devminor: readNumber(block, 337, 8),
  };
}

/** Bytes taken by an entry body of `size` bytes, padded to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** Parses PAX extended header records (`"%d %s=%s\n"`). */
export function parsePaxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(buf.toString('ascii', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > buf.length) break;
    const record = buf.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

/**
 * `data` (a PAX extended header body) without the records whose key `drop` accepts, byte for byte otherwise
 * (values such as `security.capability` are binary); undefined when nothing is dropped.
 */
export function dropPaxRecords(data: Uint8Array, drop: (key: string) => boolean): Buffer | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const kept: Buffer[] = [];
  let dropped = false;
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    const len = space < 0 ? NaN : parseInt(buf.toString('ascii', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0 || pos + len > buf.length) { kept.push(buf.subarray(pos)); break; }
    const eq = buf.indexOf(0x3d, space + 1);
    const key = eq < 0 || eq >= pos + len ? '' : buf.toString('utf8', space + 1, eq);
    if (key !== '' && drop(key)) dropped = true;
    else kept.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return dropped ? Buffer.concat(kept) : undefined;
}

/** An extended header entry (`x`/`g`) re-encoded around a new body: `header`'s fields, the new size. */
export function encodeExtendedEntry(header: TarHeader, body: Buffer): Buffer {
  return Buffer.concat([encodeHeader({ ...header, size: body.length }), body, Buffer.alloc(paddedSize(body.length) - body.length)]);
}

function writeString(block: Buffer, start: number, length: number, value: string): void {
  Buffer.from(value, 'utf8').subarray(0, length).copy(block, start);
}

function writeOctal(block: Buffer, start: number, length: number, value: number): void {
  writeString(block, start, length, value.toString(8).padStart(length - 1, '0'));
}

/** Encodes a ustar header block. Names longer than 100 bytes must also be carried by a PAX `path` record. */
export function encodeHeader(h: TarHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, h.name);
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, h.uid);
  writeOctal(block, 116, 8, h.gid);
  writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, Math.max(0, Math.floor(h.mtime)));
  block[156] = h.type.charCodeAt(0);
  writeString(block, 157, 100, h.linkname);
  writeString(block, 257, 6, 'ustar');
  writeString(block, 263, 2, '00');
  writeOctal(block, 329, 8, h.devmajor);
  writeOctal(block, 337, 8, h.devminor);
  const sum = checksum(block);
  writeString(block, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A PAX extended header entry (header block + padded body) applying `records` to the next entry. */
export function encodePaxHeader(records: ReadonlyArray<readonly [string, string]>, forName: string): Buffer {
  const body = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(''), 'utf8');
  const base = forName.split('/').filter(Boolean).pop() ?? 'root';
  const header = encodeHeader({
    name: `PaxHeaders/${base}`.slice(0, 100), mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: 0,
    type: 'x', linkname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([header, body, Buffer.alloc(paddedSize(body.length) - body.length)]);
}

/** An entry without a body (directory, device, symlink…), with a PAX header for its path and extra records. */
export function encodeBodylessEntry(h: Omit<TarHeader, 'size'>, extra: ReadonlyArray<readonly [string, string]> = []): Buffer {
  const records: Array<readonly [string, string]> = [['path', h.name], ...extra];
  return Buffer.concat([encodePaxHeader(records, h.name), encodeHeader({ ...h, size: 0 })]);
}
