// An uploaded image archive (untrusted) spooled to a private temp dir, entry by entry, without extracting it:
// each regular file's body goes to `<dir>/<n>` (a number, never the entry's name), and the archive's own
// namespace — names, symlinks, hard links — is kept in memory and resolved there (`resolve`), never on disk, so
// a link in the archive cannot reach a host file. Names with `..` are refused; entries are capped in number, JSON
// documents in size before they are parsed. The bytes as a whole are capped by the caller (UploadBudget).
import { open, type FileHandle } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Writable } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { cleanName, entryLabel } from '../images/entry-policy.js';
import { BLOCK, isZeroBlock, paddedSize, parseHeader, parsePaxRecords } from '../images/tar.js';
import { MAX_EXTENDED_HEADER_BYTES } from '../images/whiteouts.js';

/** Entries an image archive may have (files, dirs, links). */
export const ARCHIVE_MAX_ENTRIES = 100_000;
/** manifest.json, index.json, repositories, image configs and manifests: refused above this before parsing. */
export const ARCHIVE_MAX_JSON_BYTES = 4 * 1024 * 1024;
const MAX_LINK_HOPS = 40;

export function badArchive(why: string, hint = 'give a file written by `docker save`, `gantry save` or `skopeo copy … docker-archive:`/`oci-archive:`'): GantryError {
  return new GantryError('INVALID_IMAGE_ARCHIVE', `the image archive ${why}`, { hint });
}

type Mode =
  | { kind: 'header' }
  | { kind: 'body'; left: number; pad: number; file: FileHandle | undefined }
  | { kind: 'extended'; type: string; size: number; left: number; raw: Buffer[] }
  | { kind: 'ended' };

export class ArchiveSpool extends Writable {
  /** archive name → spooled file path and size */
  readonly files = new Map<string, { path: string; size: number }>();
  /** archive name → link target as an archive path (symlinks relative to their dir, hard links from the root) */
  readonly links = new Map<string, string>();
  #mode: Mode = { kind: 'header' };
  #partial = Buffer.alloc(0);
  #pax = new Map<string, string>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #entries = 0;
  #sawHeader = false;

  constructor(private readonly dir: string) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.#consume(chunk).then(() => done(), (e: unknown) => done(e instanceof Error ? e : new Error(String(e))));
  }

  override _final(done: (e?: Error | null) => void): void {
    const m = this.#mode;
    if (!this.#sawHeader) return done(badArchive('is empty or not a tar archive'));
    if (m.kind === 'body' || m.kind === 'extended' || this.#partial.length > 0) return done(badArchive('ends in the middle of an entry (is it complete?)'));
    done();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    const m = this.#mode;
    if (m.kind === 'body' && m.file !== undefined) { void m.file.close().finally(() => done(err)); return; }
    done(err);
  }

  async #consume(chunk: Buffer): Promise<void> {
    let pos = 0;
    while (pos < chunk.length) {
      const m = this.#mode;
      if (m.kind === 'ended') return;
      if (m.kind === 'body') {
        if (m.left > 0) {
          const n = Math.min(m.left, chunk.length - pos);
          if (m.file !== undefined) await m.file.write(chunk.subarray(pos, pos + n));
          m.left -= n;
          pos += n;
        }
        if (m.left === 0) {
          const n = Math.min(m.pad, chunk.length - pos);
          m.pad -= n;
          pos += n;
          if (m.pad === 0) { await m.file?.close(); this.#mode = { kind: 'header' }; }
        }
        continue;
      }
      if (m.kind === 'extended') {
        const n = Math.min(m.left, chunk.length - pos);
        m.raw.push(Buffer.from(chunk.subarray(pos, pos + n)));
        m.left -= n;
        pos += n;
        if (m.left === 0) { this.#mode = { kind: 'header' }; this.#extended(m.type, Buffer.concat(m.raw).subarray(0, m.size)); }
        continue;
      }
      const take = chunk.subarray(pos, pos + BLOCK - this.#partial.length);
      pos += take.length;
      this.#partial = Buffer.concat([this.#partial, take]);
      if (this.#partial.length < BLOCK) return;
      const block = this.#partial;
      this.#partial = Buffer.alloc(0);
      await this.#header(block);
    }
  }

  #extended(type: string, body: Buffer): void {
    if (type === 'x') for (const [k, v] of parsePaxRecords(body)) this.#pax.set(k, v);
    else if (type === 'L' || type === 'K') {
      const nul = body.indexOf(0);
      const text = body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
      if (type === 'L') this.#longName = text; else this.#longLink = text;
    }
    // 'g' (global) records are ignored: they name nothing in an image archive
  }

  async #header(block: Buffer): Promise<void> {
    if (isZeroBlock(block)) {
      if (!this.#sawHeader) throw badArchive('is not a tar archive (it starts with an empty block)');
      this.#mode = { kind: 'ended' };
      return;
    }
    const h = parseHeader(block);
    if (h === undefined) throw badArchive(this.#sawHeader ? 'has a header with a bad checksum' : 'is not a tar archive');
    this.#sawHeader = true;
    if (h.type === 'x' || h.type === 'g' || h.type === 'L' || h.type === 'K') {
      if (h.size > MAX_EXTENDED_HEADER_BYTES) throw badArchive(`has an extended header larger than ${MAX_EXTENDED_HEADER_BYTES} bytes`);
      this.#mode = h.size === 0 ? { kind: 'header' } : { kind: 'extended', type: h.type, size: h.size, left: paddedSize(h.size), raw: [] };
      return;
    }
    const rawName = this.#pax.get('path') ?? this.#longName ?? h.name;
    const linkname = this.#pax.get('linkpath') ?? this.#longLink ?? h.linkname;
    const paxSize = this.#pax.get('size');
    const size = paxSize === undefined ? h.size : Number(paxSize);
    this.#pax = new Map();
    this.#longName = undefined;
    this.#longLink = undefined;
    if (++this.#entries > ARCHIVE_MAX_ENTRIES) throw badArchive(`has more than ${ARCHIVE_MAX_ENTRIES} entries`);
    if (rawName.split('/').includes('..')) throw badArchive(`entry ${entryLabel(rawName)} has a ".." component`);
    const name = cleanName(rawName);
    const isFile = h.type === '0' || h.type === '7';
    if (h.type === '2') this.links.set(name, linkname.startsWith('/') ? linkname : posix.join(posix.dirname(name), linkname));
    else if (h.type === '1') this.links.set(name, cleanName(linkname));
    const bodySize = isFile ? size : ['1', '2', '3', '4', '5', '6'].includes(h.type) ? 0 : size;
    if (!Number.isSafeInteger(bodySize) || bodySize < 0) throw badArchive(`entry ${entryLabel(rawName)} has an invalid size`);
    let file: FileHandle | undefined;
    if (isFile) {
      const path = join(this.dir, String(this.#entries));
      file = await open(path, 'wx', 0o600);
      this.files.set(name, { path, size: bodySize });
      this.links.delete(name);
    }
    if (bodySize === 0) { await file?.close(); this.#mode = { kind: 'header' }; return; }
    this.#mode = { kind: 'body', left: bodySize, pad: paddedSize(bodySize) - bodySize, file };
  }

  /** The spooled file an archive path names, following the archive's own links (never the host's). */
  resolve(name: string): { path: string; size: number } | undefined {
    let cur = cleanName(name);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const file = this.files.get(cur);
      if (file !== undefined) return file;
      const link = this.links.get(cur);
      if (link === undefined) return undefined;
      const next = posix.normalize(link);
      if (next.startsWith('../') || next === '..') return undefined; // a link pointing above the archive root
      cur = cleanName(next);
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  /** A file of the archive, read whole: for JSON documents and configs (capped before reading). */
  read(name: string): Buffer {
    const file = this.resolve(name);
    if (file === undefined) throw badArchive(`has no file ${entryLabel(name)}`);
    const size = statSync(file.path).size;
    if (size > ARCHIVE_MAX_JSON_BYTES) throw badArchive(`file ${entryLabel(name)} is larger than ${ARCHIVE_MAX_JSON_BYTES} bytes`);
    return readFileSync(file.path);
  }

  readJson(name: string): unknown {
    try {
      return JSON.parse(this.read(name).toString('utf8')) as unknown;
    } catch (e) {
      if (e instanceof GantryError) throw e;
      throw badArchive(`file ${entryLabel(name)} is not valid JSON`);
    }
  }
}
