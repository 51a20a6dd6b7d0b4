// The inverse of images/whiteouts.ts: a tar of a container's upper dir (written by GNU tar with
// `--xattrs --xattrs-include=trusted.overlay.opaque`) turned into an OCI layer, as a stream transform:
//   a 0:0 character device `DIR/NAME`              → an empty file `DIR/.wh.NAME`
//   a directory with `trusted.overlay.opaque=y`    → the directory, then an empty file `DIR/.wh..wh..opq`
// Every `trusted.*` xattr record is dropped (they are overlayfs' bookkeeping, never image content); every other
// entry passes through byte for byte.
import { Transform, type TransformCallback } from 'node:stream';
import { normalizeEntryName, OPAQUE_MARKER, WHITEOUT_PREFIX, isTrustedXattrRecord } from '../images/whiteouts.js';
import { BLOCK, dropPaxRecords, encodeExtendedEntry, encodeHeader, encodePaxHeader, isZeroBlock, paddedSize, parseHeader, parsePaxRecords, type TarHeader } from '../images/tar.js';

const OPAQUE_RECORD = 'SCHILY.xattr.trusted.overlay.opaque';
const HEADER_ONLY_TYPES = new Set(['1', '2', '3', '4', '5', '6']);

/** An empty regular file entry (mode 0, owner 0:0), with a PAX path record so any name length fits. */
/** A whiteout or opaque marker: an empty regular file; `mode` as Docker writes them (0600 for a whiteout, the dir's permissions for an opaque marker). */
function markerEntry(name: string, mtime: number, mode: number): Buffer {
  return Buffer.concat([
    encodePaxHeader([['path', name]], name),
    encodeHeader({ name: name.slice(0, 100), mode, uid: 0, gid: 0, size: 0, mtime, type: '0', linkname: '', devmajor: 0, devminor: 0 }),
  ]);
}

export class OverlayToOciTransform extends Transform {
  /** Names (`etc/hosts`) of empty entries left out of the layer: the runtime's mountpoints. */
  readonly #drop: ReadonlySet<string>;

  constructor(opts: { drop?: ReadonlySet<string> } = {}) {
    super();
    this.#drop = opts.drop ?? new Set();
  }

  /** Entries seen in the input, whiteouts and opaque dirs counted apart. */
  readonly stats = { entries: 0, whiteouts: 0, opaqueDirs: 0 };
  #partial = Buffer.alloc(0);
  #left = 0;
  #collect: { header: TarHeader; size: number; raw: Buffer[]; left: number } | undefined;
  #pendingRaw: Buffer[] = [];
  #pendingPax = new Map<string, string>();
  #pendingLongName: string | undefined;
  #ended = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      let pos = 0;
      while (pos < chunk.length && !this.#ended) {
        if (this.#left > 0) {
          const n = Math.min(this.#left, chunk.length - pos);
          this.push(chunk.subarray(pos, pos + n));
          this.#left -= n;
          pos += n;
          continue;
        }
        const c = this.#collect;
        if (c !== undefined) {
          const n = Math.min(c.left, chunk.length - pos);
          c.raw.push(Buffer.from(chunk.subarray(pos, pos + n)));
          c.left -= n;
          pos += n;
          if (c.left === 0) { this.#collect = undefined; this.#extended(c.header, c.size, Buffer.concat(c.raw)); }
          continue;
        }
        const take = chunk.subarray(pos, pos + BLOCK - this.#partial.length);
        pos += take.length;
        this.#partial = Buffer.concat([this.#partial, take]);
        if (this.#partial.length < BLOCK) break;
        const block = this.#partial;
        this.#partial = Buffer.alloc(0);
        this.#header(block);
      }
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (!this.#ended) this.push(Buffer.alloc(2 * BLOCK));
    done();
  }

  #header(block: Buffer): void {
    if (isZeroBlock(block)) { this.push(Buffer.alloc(2 * BLOCK)); this.#ended = true; return; }
    const h = parseHeader(block);
    if (h === undefined) throw new Error('tar wrote a header with a bad checksum');
    if (h.type === 'x' || h.type === 'g' || h.type === 'L' || h.type === 'K') {
      if (h.size === 0) { this.#extended(h, 0, block); return; }
      this.#collect = { header: h, size: h.size, raw: [block], left: paddedSize(h.size) };
      return;
    }
    this.#entry(h, block);
  }

  #extended(h: TarHeader, size: number, raw: Buffer): void {
    let body = raw.subarray(BLOCK, BLOCK + size);
    if (h.type === 'x' || h.type === 'g') {
      if (h.type === 'x') for (const [k, v] of parsePaxRecords(body)) this.#pendingPax.set(k, v);
      const kept = dropPaxRecords(body, isTrustedXattrRecord);
      if (kept !== undefined) { raw = encodeExtendedEntry(h, kept); body = kept; }
    }
    if (h.type === 'g') { this.push(raw); return; }
    if (h.type === 'L') {
      const nul = body.indexOf(0);
      this.#pendingLongName = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
    }
    this.#pendingRaw.push(raw);
  }

  #entry(h: TarHeader, block: Buffer): void {
    const name = normalizeEntryName(this.#pendingPax.get('path') ?? this.#pendingLongName ?? h.name);
    const opaque = this.#pendingPax.get(OPAQUE_RECORD) === 'y';
    const paxSize = this.#pendingPax.get('size');
    const size = paxSize === undefined ? h.size : Number(paxSize);
    const raw = this.#pendingRaw;
    this.#pendingRaw = [];
    this.#pendingPax = new Map();
    this.#pendingLongName = undefined;
    this.stats.entries++;
    const slash = name.lastIndexOf('/');
    const dir = slash < 0 ? '' : `${name.slice(0, slash)}/`;
    if (h.type === '3' && h.devmajor === 0 && h.devminor === 0) {
      this.stats.whiteouts++;
      this.push(markerEntry(`${dir}${WHITEOUT_PREFIX}${name.slice(slash + 1)}`, h.mtime, 0o600));
      return;
    }
    const bodyBytes = HEADER_ONLY_TYPES.has(h.type) ? 0 : paddedSize(size);
    if (bodyBytes === 0 && this.#drop.has(name)) return;
    for (const r of raw) this.push(r);
    this.push(block);
    this.#left = bodyBytes;
    if (h.type === '5' && opaque) {
      this.stats.opaqueDirs++;
      this.push(markerEntry(name === '.' ? OPAQUE_MARKER : `${name}/${OPAQUE_MARKER}`, h.mtime, h.mode & 0o777));
    }
  }
}
