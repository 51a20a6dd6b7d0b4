// Extracted layers: `layers/<chain id hex>/diff/` in overlay form plus a versioned `layer.json`. A layer is extracted
// into `layers/.tmp-*/` and renamed into place only when complete, so a crash never leaves a half layer
// under its final name; stray temp dirs are removed when the store opens.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GantryError } from '../../common/errors.js';
import { sysSetTopDirFlag } from '../../sys/ffi.js';
import {
  checkMembers, quarantinedError, quarantineRecord, readRecord, SAME_LAYOUT, writeRecord, type RecordFile, type RecordFormat,
} from '../../common/versioned-record.js';
import { HashingStream } from './hashing.js';
import { assertZstdAvailable, createDecompressor } from './inflate.js';
import { chainIds, digestHex, isDigest } from './oci.js';
import { LayerBudget, layerLimitsFromEnv, type LayerLimits } from './limits.js';
import { WhiteoutTransform } from './whiteouts.js';

const TEMP_PREFIX = '.tmp-';
const RECORD = 'layer.json';

/** The JSON record beside a layer's `diff/`. */
export interface LayerRecord {
  /** Chain id (`sha256:…`): names the layer dir; equals diffId for a bottom layer. */
  chainId: string;
  /** sha256 of the uncompressed layer tar. */
  diffId: string;
  /** Chain id of the layer below, or null for a bottom layer. */
  parent: string | null;
  /** Bytes of regular file content in the layer. */
  size: number;
}

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a];
const BZIP2_MAGIC = [0x42, 0x5a, 0x68];

const startsWith = (head: Uint8Array, magic: number[]): boolean => magic.every((b, i) => head[i] === b);

/** Tells gzip from plain tar by the first bytes; other compressions are refused with a clear error. */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) { assertZstdAvailable('the archive'); return 'zstd'; }
  const other = startsWith(head, XZ_MAGIC) ? 'xz' : startsWith(head, BZIP2_MAGIC) ? 'bzip2' : undefined;
  if (other !== undefined) {
    throw new GantryError('INVALID_IMAGE_ARCHIVE', `${other}-compressed archives are not supported`, {
      hint: `decompress it first (e.g. \`${other === 'xz' ? 'xz -d' : 'bunzip2'} FILE\`) or recompress it with gzip`,
    });
  }
  return 'none';
}

export interface ExtractOptions {
  /** Chain id of the layer this one sits on (undefined for a bottom layer). */
  parent?: string | undefined;
  /** When known (pull), the diff id the content must have; a mismatch fails and leaves nothing behind. */
  expectedDiffId?: string | undefined;
  /** When known, the digest the compressed stream must have. */
  expectedDigest?: string | undefined;
  /** When known (pull: the descriptor's size), the blob's size: small blobs inflate in-process (inflate.ts). */
  blobSize?: number | undefined;
}

const LAYER_FORMAT: RecordFormat<LayerRecord> = {
  what: 'layer record',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { chainId: 'string', diffId: 'string', size: 'number' }),
};

/**
 * On ext4 each layer's extraction dir goes to a block group with few directories (the Orlov allocator's
 * "top directory" flag on `layers/`), not near `layers/` itself. Without a journal (this machine's root fs),
 * ext4 checks every new inode against the group's inodes deleted in the last 60-360 s, so extracting next to a
 * layer just removed (an `rmi`, a failed pull, an old build step) cost the kernel O(deleted) per file: 0.8-1.3 s
 * of system time for the nginx layer after a few removals, 0.11-0.13 s with the flag (tar alone, 6 alternating
 * runs). Elsewhere the flag does not exist and nothing changes.
 */
function spreadLayerDirs(dir: string): void {
  try { sysSetTopDirFlag(dir); } catch { /* a placement hint only */ }
}

export class LayerStore {
  readonly dir: string;
  readonly limits: LayerLimits;

  constructor(private readonly root: string, limits: LayerLimits = layerLimitsFromEnv()) {
    this.limits = limits;
    this.dir = join(root, 'layers');
    mkdirSync(this.dir, { recursive: true });
    spreadLayerDirs(this.dir);
  }

  /** Removes half-extracted or half-deleted layers left by a crash. */
  cleanTemp(): void {
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(TEMP_PREFIX)) rmSync(join(this.dir, name), { recursive: true, force: true });
    }
  }

  layerDir(chainId: string): string {
    return join(this.dir, digestHex(chainId));
  }

  /** Absolute path of the layer's `diff/` (an overlay lowerdir). */
  diffDir(chainId: string): string {
    return join(this.layerDir(chainId), 'diff');
  }

  /** The layer's record; undefined when it is not extracted; throws STATE_TOO_NEW or STATE_CORRUPT when refused. */
  get(chainId: string): LayerRecord | undefined {
    if (!isDigest(chainId)) return undefined;
    const f: RecordFile = { root: this.root, rel: `layers/${digestHex(chainId)}/${RECORD}` };
    const read = readRecord(f, LAYER_FORMAT);
    if (read.status === 'ok') return read.value;
    if (read.status === 'missing') return undefined;
    if (read.error.code === 'STATE_TOO_NEW') throw read.error;
    throw quarantinedError(f, read.error, quarantineRecord(f), 'the layer counts as not extracted', 'import the image again');
  }

  has(chainId: string): boolean {
    return this.get(chainId) !== undefined;
  }

  /** Chain ids of every extracted layer. */
  list(): string[] {
    return readdirSync(this.dir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /**
   * Extracts a layer from a tar file (plain or gzip, detected), converting OCI whiteouts to overlay form.
   * Returns the layer's record; when a layer with the same chain id already exists it is reused.
   */
  async extract(file: string, opts: ExtractOptions = {}): Promise<LayerRecord> {
    return this.#extract(async () => ({ source: createReadStream(file), compression: detectCompression(readHead(file, 8)), size: statSync(file).size }), opts);
  }

  /**
   * Like `extract`, from a stream of the layer blob (a download): compression sniffed from its first bytes,
   * extracted as it arrives; nothing is left when the stream fails or does not match `expectedDigest`.
   */
  async extractStream(source: Readable, opts: ExtractOptions = {}): Promise<LayerRecord> {
    return this.#extract(async () => {
      const { head, stream } = await peekHead(source, 8);
      return { source: stream, compression: detectCompression(head), size: opts.blobSize };
    }, opts);
  }

  async #extract(open: () => Promise<{ source: Readable; compression: Compression; size: number | undefined }>, opts: ExtractOptions): Promise<LayerRecord> {
    if (opts.expectedDiffId !== undefined) {
      const known = this.get(chainOf(opts.parent, opts.expectedDiffId));
      if (known !== undefined) return known;
    }
    const tmp = join(this.dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const diff = join(tmp, 'diff');
    mkdirSync(diff, { recursive: true, mode: 0o755 });
    try {
      const { source, compression, size: blobSize } = await open();
      const { diffId, compressedDigest, size } = await extractTar(source, compression, diff, this.limits, opts.expectedDigest !== undefined, blobSize);
      if (opts.expectedDigest !== undefined && opts.expectedDigest !== compressedDigest) {
        throw new GantryError('INVALID_IMAGE_ARCHIVE', `layer blob has digest ${compressedDigest}, expected ${opts.expectedDigest}`, { hint: 'the blob is corrupt; pull the image again' });
      }
      if (opts.expectedDiffId !== undefined && opts.expectedDiffId !== diffId) {
        throw new GantryError('INVALID_IMAGE_ARCHIVE', `layer content has diff id ${diffId}, but the image config says ${opts.expectedDiffId}`, { hint: 'the image is corrupt; pull it again' });
      }
      const chainId = chainOf(opts.parent, diffId);
      const existing = this.get(chainId);
      if (existing !== undefined) return existing;
      const record: LayerRecord = { chainId, diffId, parent: opts.parent ?? null, size };
      writeRecord({ root: this.root, rel: `layers/${basename(tmp)}/${RECORD}` }, LAYER_FORMAT, record);
      const final = this.layerDir(chainId);
      if (existsSync(final)) rmSync(final, { recursive: true, force: true }); // a dir without a record: a leftover
      renameSync(tmp, final);
      const fd = openSync(this.dir, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
      return record;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** Removes a layer: renamed to a temp name first, so a crash mid-delete leaves only a temp dir. */
  remove(chainId: string): void {
    const dir = this.layerDir(chainId);
    if (!existsSync(dir)) return;
    const doomed = join(this.dir, `${TEMP_PREFIX}rm-${digestHex(chainId).slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    renameSync(dir, doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
}

function chainOf(parent: string | undefined, diffId: string): string {
  return parent === undefined ? diffId : (chainIds([parent, diffId])[1] as string);
}

/** The first `n` bytes of a file (fewer when it is shorter). */
function readHead(file: string, n: number): Buffer {
  const buf = Buffer.alloc(n);
  const fd = openSync(file, 'r');
  try {
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** The first `n` bytes of a stream (fewer when it is shorter), and a stream that still yields every byte. */
function peekHead(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (ended: boolean): void => {
      source.off('readable', onReadable); source.off('end', onEnd); source.off('error', onError);
      const all = Buffer.concat(chunks);
      if (ended) { resolve({ head: all.subarray(0, n), stream: Readable.from([all]) }); return; }
      source.unshift(all);
      resolve({ head: all.subarray(0, n), stream: source });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (length < n && (chunk = source.read() as Buffer | null) !== null) { chunks.push(chunk); length += chunk.length; }
      if (length >= n) done(false);
    };
    const onEnd = (): void => done(true);
    const onError = (e: Error): void => { source.off('readable', onReadable); source.off('end', onEnd); reject(e); };
    source.on('readable', onReadable);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}

interface ExtractResult { diffId: string; compressedDigest: string | undefined; size: number }

/**
 * source → [hash compressed] → gunzip? → [budget] → [hash diff id] → whiteout conversion → `tar -x` into `dest`.
 * The budget and the entry count stop the stream (and so tar) as soon as a cap is passed.
 */
/** `digestCompressed`: also the sha256 of the bytes as read (for a caller that has no other check of them). */
async function extractTar(source: Readable, compression: Compression, dest: string, limits: LayerLimits, digestCompressed: boolean, compressedSize: number | undefined): Promise<ExtractResult> {
  const compressedHash = new HashingStream({ digest: digestCompressed });
  const diffHash = new HashingStream();
  const budget = new LayerBudget(limits, () => compressedHash.size);
  const whiteouts = new WhiteoutTransform({ maxEntries: limits.maxEntries });
  const tar = spawn('tar', [
    '--extract', '--file=-', '--directory', dest,
    '--numeric-owner', '--same-permissions', '--xattrs', '--xattrs-include=*', '--warning=no-timestamp',
  ], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8');
  tar.stderr.on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
  const exited = new Promise<number>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
  let streamError: unknown;
  const streamed = (compression !== 'none'
    ? pipeline(source, compressedHash, createDecompressor(compression, compressedSize), budget, diffHash, whiteouts, tar.stdin)
    : pipeline(source, compressedHash, budget, diffHash, whiteouts, tar.stdin)
  ).catch((e: unknown) => { streamError = e; });
  const [code] = await Promise.all([exited, streamed]);
  if (streamError instanceof GantryError) throw streamError;
  if (code !== 0) {
    // GNU tar says a full disk as the errno, or (for a file body) as a short write.
    if (/no space left on device|disk quota exceeded|wrote only \d+ of \d+ bytes/i.test(stderr)) {
      throw new GantryError('NO_SPACE', `no space left on device while extracting a layer into ${dest}`, {
        hint: 'free some space (gantry system prune, gantry rmi, or remove old logs) and try again',
      });
    }
    throw new GantryError('INVALID_IMAGE_ARCHIVE', `extracting the layer failed: ${stderr.trim() || `tar exited with status ${code}`}`, {
      hint: 'check that the file is a complete tar archive (plain or gzip)',
    });
  }
  if (streamError !== undefined) {
    const why = streamError instanceof Error ? streamError.message : String(streamError);
    throw new GantryError('INVALID_IMAGE_ARCHIVE', `reading the layer failed: ${why}`, { cause: streamError, hint: 'check that the file is a complete tar archive (plain or gzip)' });
  }
  return { diffId: diffHash.digest, compressedDigest: digestCompressed ? compressedHash.digest : undefined, size: whiteouts.stats.contentBytes };
}
