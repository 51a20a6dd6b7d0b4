// The content store: `blobs/sha256/<hex>`, each file named by the sha256 of its bytes. Writes go to a temp
// file in the same directory, are verified against the expected digest, fsynced, then renamed into place.
import { createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { GantryError, noSpaceError } from '../../common/errors.js';
import { HashingStream } from './hashing.js';
import { digestHex, isDigest, sha256Digest } from './oci.js';

const TEMP_PREFIX = '.tmp-';

export interface BlobInfo {
  digest: string;
  size: number;
}

export class BlobStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'blobs', 'sha256');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Removes temp files left by a write that was interrupted (a crash or a kill). */
  cleanTemp(): void {
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) rmSync(join(this.dir, name), { force: true });
    }
  }

  path(digest: string): string {
    return join(this.dir, digestHex(digest));
  }

  has(digest: string): boolean {
    return isDigest(digest) && existsSync(this.path(digest));
  }

  size(digest: string): number {
    return statSync(this.path(digest)).size;
  }

  /** Reads a blob whole and checks its digest (for manifests and configs, which are small). */
  read(digest: string): Buffer {
    let data: Buffer;
    try {
      data = readFileSync(this.path(digest));
    } catch (e) {
      throw new GantryError('STATE_CORRUPT', `blob ${digest} is missing from the content store`, { cause: e, hint: 'remove the image and import or pull it again' });
    }
    if (sha256Digest(data) !== digest) {
      throw new GantryError('STATE_CORRUPT', `blob ${digest} does not match its digest`, { hint: 'remove the image and import or pull it again' });
    }
    return data;
  }

  readJson<T>(digest: string): T {
    return JSON.parse(this.read(digest).toString('utf8')) as T;
  }

  /** Stores bytes; returns their digest. Idempotent. */
  async write(data: Uint8Array | string, expected?: Partial<BlobInfo>): Promise<BlobInfo> {
    return this.writeStream(Readable.from([typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)]), expected);
  }

  async writeJson(value: unknown): Promise<BlobInfo> {
    return this.write(JSON.stringify(value));
  }

  /**
   * Streams content into the store. When `expected.digest`/`expected.size` are given, the content must match
   * them (GantryError INVALID_IMAGE_ARCHIVE otherwise) and nothing is stored.
   */
  async writeStream(source: Readable, expected: Partial<BlobInfo> = {}): Promise<BlobInfo> {
    if (expected.digest !== undefined && !isDigest(expected.digest)) {
      throw new GantryError('INVALID_ARGUMENT', `"${expected.digest}" is not a sha256 digest`);
    }
    const tmp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const hasher = new HashingStream();
    try {
      await pipeline(source, hasher, createWriteStream(tmp, { mode: 0o644 })).catch((e: unknown) => {
        throw noSpaceError(e, this.dir) ?? e; // a write stream's ENOSPC carries no path: name the content store
      });
      const info = { digest: hasher.digest, size: hasher.size };
      if ((expected.digest !== undefined && expected.digest !== info.digest) || (expected.size !== undefined && expected.size !== info.size)) {
        throw new GantryError('INVALID_IMAGE_ARCHIVE',
          `content does not match its descriptor: expected ${expected.digest ?? '?'} (${expected.size ?? '?'} bytes), got ${info.digest} (${info.size} bytes)`,
          { hint: 'the download or the archive is corrupt; try again' });
      }
      // On libuv's pool: a layer blob's fsync waits for its writeback (tens of MB), and the extraction of the same
      // download goes on meanwhile on this thread.
      const fh = await open(tmp, 'r');
      try { await fh.sync(); } finally { await fh.close(); }
      renameSync(tmp, this.path(info.digest));
      return info;
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  /** A read stream of a blob's bytes (not verified here; the reader hashes what it reads). */
  openRead(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  /** Digests of every stored blob. */
  list(): string[] {
    return readdirSync(this.dir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  remove(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }
}
