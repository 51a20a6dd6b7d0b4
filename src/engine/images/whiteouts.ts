// Converts a layer tar stream from OCI whiteout form to overlayfs form, as a stream transform placed in
// front of the extracting tar:
//   `DIR/.wh.NAME`     → a character device 0:0 named `DIR/NAME` (owner 0:0, mode 0)
//   `DIR/.wh..wh..opq` → the directory `DIR` again, with the xattr `trusted.overlay.opaque=y`
//   other `.wh..wh.*`  → dropped (aufs bookkeeping)
// Every other entry passes through byte for byte, except that `trusted.*` xattrs the tarball carries are
// dropped (`trusted.overlay.*` would steer overlayfs: opaque dirs, redirects; only the conversion sets them).
// The entry count is capped (LayerLimits.maxEntries), extended headers at 1 MiB (Go's limit). Bytes after the
// end-of-archive marker are consumed (so hashes computed upstream see the whole blob) but not forwarded.
import { Transform, type TransformCallback } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { EntryPolicy, cleanName, refusedEntry } from './entry-policy.js';
import { tooManyEntries } from './limits.js';
import { BLOCK, dropPaxRecords, encodeBodylessEntry, encodeExtendedEntry, isZeroBlock, paddedSize, parseHeader, parsePaxRecords, type TarHeader } from './tar.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export interface LayerStats {
  /** Entries in the archive (whiteouts included). */
  entries: number;
  /** Bytes of regular file content: the layer's size as `gantry images` reports it. */
  contentBytes: number;
  whiteouts: number;
  opaqueDirs: number;
}

type Mode =
  | { kind: 'header' }
  | { kind: 'pass'; left: number }
  | { kind: 'skip'; left: number }
  | { kind: 'collect'; left: number; size: number; header: TarHeader; raw: Buffer[] }
  | { kind: 'ended' };

/** Largest PAX / GNU long-name body read into memory. */
export const MAX_EXTENDED_HEADER_BYTES = 1024 * 1024;

/** xattr records never taken from a tarball: `trusted.*` (GNU/star and libarchive spellings). */
export function isTrustedXattrRecord(key: string): boolean {
  return key.startsWith('SCHILY.xattr.trusted.') || key.startsWith('LIBARCHIVE.xattr.trusted.');
}

const HEADER_ONLY_TYPES = new Set(['1', '2', '3', '4', '5', '6']);

interface DirInfo { mode: number; uid: number; gid: number; mtime: number }

/** `./a//b/` → `a/b`; the layer root is `.`. */
export const normalizeEntryName = cleanName;

function splitName(name: string): { dir: string; base: string } {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? { dir: '.', base: name } : { dir: name.slice(0, slash), base: name.slice(slash + 1) };
}

function notTar(why: string): GantryError {
  return new GantryError('INVALID_IMAGE_ARCHIVE', `the layer is not a valid tar archive: ${why}`, {
    hint: 'a layer or rootfs tarball must be a tar archive, plain or gzip-compressed',
  });
}

export class WhiteoutTransform extends Transform {
  readonly stats: LayerStats = { entries: 0, contentBytes: 0, whiteouts: 0, opaqueDirs: 0 };
  #mode: Mode = { kind: 'header' };
  #partial: Buffer = Buffer.alloc(0);
  /** Raw PAX / GNU long-name entries waiting for the entry they describe. */
  #pendingRaw: Buffer[] = [];
  #pendingPax = new Map<string, string>();
  #pendingLongName: string | undefined;
  #pendingLongLink: string | undefined;
  readonly #policy = new EntryPolicy();
  #zeroBlocks = 0;
  #sawHeader = false;
  readonly #dirs = new Map<string, DirInfo>();
  readonly #maxEntries: number;

  constructor(opts: { maxEntries?: number } = {}) {
    super();
    this.#maxEntries = opts.maxEntries ?? Number.POSITIVE_INFINITY;
  }

  /** Output of the chunk being consumed: pushed as one buffer when it is done. Pushed piece by piece (a few KiB
   * each, ~11,000 for the nginx layer), every piece became a write to tar's pipe; one per input chunk is ~2,000. */
  #out: Buffer[] = [];

  #emit(piece: Buffer): void {
    if (piece.length > 0) this.#out.push(piece);
  }

  #pushOut(): void {
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    this.push(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#consume(chunk);
      this.#pushOut();
      done();
    } catch (e) {
      this.#out = [];
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.#mode.kind === 'ended') return done();
    if (!this.#sawHeader) return done(notTar('it is empty'));
    if (this.#mode.kind !== 'header' || this.#partial.length !== 0) return done(notTar('it ends in the middle of an entry'));
    // No end-of-archive marker: add one so the extracting tar sees a well-formed archive.
    this.#emit(Buffer.alloc(2 * BLOCK - this.#zeroBlocks * BLOCK));
    this.#pushOut();
    done();
  }

  #consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      const mode = this.#mode;
      if (mode.kind === 'ended') return;
      if (mode.kind === 'pass' || mode.kind === 'skip') {
        const n = Math.min(mode.left, chunk.length - pos);
        if (mode.kind === 'pass') this.#emit(chunk.subarray(pos, pos + n));
        pos += n;
        mode.left -= n;
        if (mode.left === 0) this.#mode = { kind: 'header' };
        continue;
      }
      if (mode.kind === 'collect') {
        const n = Math.min(mode.left, chunk.length - pos);
        mode.raw.push(Buffer.from(chunk.subarray(pos, pos + n)));
        pos += n;
        mode.left -= n;
        if (mode.left === 0) {
          this.#mode = { kind: 'header' };
          this.#extendedHeaderDone(mode.header, mode.size, Buffer.concat(mode.raw));
        }
        continue;
      }
      // header: gather one whole block
      const need = BLOCK - this.#partial.length;
      const take = chunk.subarray(pos, pos + need);
      pos += take.length;
      this.#partial = this.#partial.length === 0 && take.length === BLOCK ? Buffer.from(take) : Buffer.concat([this.#partial, take]);
      if (this.#partial.length < BLOCK) return;
      const block = this.#partial;
      this.#partial = Buffer.alloc(0);
      this.#header(block);
    }
  }

  #header(block: Buffer): void {
    if (isZeroBlock(block)) {
      if (!this.#sawHeader) throw notTar('it starts with an empty block');
      this.#emit(block);
      this.#zeroBlocks++;
      if (this.#zeroBlocks === 2) this.#mode = { kind: 'ended' };
      return;
    }
    const h = parseHeader(block);
    if (h === undefined) throw notTar(this.#sawHeader ? 'a header has a bad checksum' : 'no tar header at its start');
    this.#sawHeader = true;
    this.#zeroBlocks = 0;
    if (h.type === 'x' || h.type === 'g' || h.type === 'L' || h.type === 'K') {
      if (h.size > MAX_EXTENDED_HEADER_BYTES) throw notTar(`an extended header is larger than ${MAX_EXTENDED_HEADER_BYTES} bytes`);
      this.#mode = { kind: 'collect', left: paddedSize(h.size), size: h.size, header: h, raw: [block] };
      if (h.size === 0) { this.#mode = { kind: 'header' }; this.#extendedHeaderDone(h, 0, block); }
      return;
    }
    this.#entry(h, block);
  }

  #extendedHeaderDone(h: TarHeader, size: number, raw: Buffer): void {
    let body = raw.subarray(BLOCK, BLOCK + size);
    if (h.type === 'x' || h.type === 'g') {
      const kept = dropPaxRecords(body, isTrustedXattrRecord);
      if (kept !== undefined) { raw = encodeExtendedEntry(h, kept); body = kept; }
    }
    if (h.type === 'g') {
      // applies to every later entry: forwarded at once; it may not rename them
      const records = parsePaxRecords(body);
      for (const key of ['path', 'linkpath']) {
        const value = records.get(key);
        if (value !== undefined) throw refusedEntry(value, `is set as the ${key} of every entry by a global PAX header`);
      }
      this.#emit(raw);
      return;
    }
    this.#pendingRaw.push(raw);
    if (h.type === 'x') {
      for (const [k, v] of parsePaxRecords(body)) this.#pendingPax.set(k, v);
    } else if (h.type === 'L') {
      const nul = body.indexOf(0);
      this.#pendingLongName = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
    } else if (h.type === 'K') {
      const nul = body.indexOf(0);
      this.#pendingLongLink = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
    }
  }

  #entry(h: TarHeader, block: Buffer): void {
    const rawName = this.#pendingPax.get('path') ?? this.#pendingLongName ?? h.name;
    const linkname = this.#pendingPax.get('linkpath') ?? this.#pendingLongLink ?? h.linkname;
    const paxSize = this.#pendingPax.get('size');
    const size = paxSize === undefined ? h.size : Number(paxSize);
    const pendingRaw = this.#pendingRaw;
    this.#pendingRaw = [];
    this.#pendingPax = new Map();
    this.#pendingLongName = undefined;
    this.#pendingLongLink = undefined;
    this.stats.entries++;
    if (this.stats.entries > this.#maxEntries) throw tooManyEntries(this.#maxEntries);

    const name = normalizeEntryName(rawName);
    const { dir, base } = splitName(name);
    this.#policy.check({ rawName, type: base.startsWith(WHITEOUT_PREFIX) ? 'w' : h.type, linkname, devmajor: h.devmajor, devminor: h.devminor });
    if (h.type === '5') this.#dirs.set(name, { mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
    // Like Go's archive/tar: links, devices, dirs and fifos are header-only whatever their size field says.
    const bodyBytes = HEADER_ONLY_TYPES.has(h.type) ? 0 : paddedSize(size);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.#mode = bodyBytes > 0 ? { kind: 'skip', left: bodyBytes } : { kind: 'header' };
      if (base === OPAQUE_MARKER) {
        this.stats.opaqueDirs++;
        const info = this.#dirs.get(dir) ?? { mode: 0o755, uid: 0, gid: 0, mtime: h.mtime };
        this.#emit(encodeBodylessEntry(
          { name: dir === '.' ? './' : `${dir}/`, type: '5', linkname: '', devmajor: 0, devminor: 0, ...info },
          [[`SCHILY.xattr.${OPAQUE_XATTR}`, 'y']],
        ));
      } else if (!base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        this.stats.whiteouts++;
        const target = base.slice(WHITEOUT_PREFIX.length);
        this.#policy.checkWhiteout(rawName, target);
        this.#emit(encodeBodylessEntry({
          name: dir === '.' ? target : `${dir}/${target}`, type: '3', mode: 0, uid: 0, gid: 0, mtime: h.mtime,
          linkname: '', devmajor: 0, devminor: 0,
        }));
      }
      return;
    }

    if (h.type === '0' || h.type === '7') this.stats.contentBytes += size;
    for (const raw of pendingRaw) this.#emit(raw);
    this.#emit(block);
    this.#mode = bodyBytes > 0 ? { kind: 'pass', left: bodyBytes } : { kind: 'header' };
  }
}
