// `images/index.json`: which images exist (by id = config digest, with their manifest digest) and which
// references (full form, `docker.io/library/busybox:latest`) point at which image. Written atomically, versioned.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { checkMembers, readRecord, writeRecord, type RecordFile, type RecordFormat } from '../../common/versioned-record.js';

export interface IndexedImage {
  /** Digest of the image's manifest blob. */
  manifest: string;
  /** `repo@sha256:…` references (full form) this image was pulled or pushed by. */
  repoDigests: string[];
  /** When the image entered this store (ISO 8601). */
  added: string;
  /** When a tag last pointed here (ISO 8601), like Docker's Metadata.LastTagTime. */
  lastTagTime?: string;
}

export interface ImageIndexData {
  images: Record<string, IndexedImage>;
  refs: Record<string, string>;
}

/** Format 1 has been written since the index existed (its `version` member predates the other records'). */
const INDEX_FORMAT: RecordFormat<ImageIndexData> = {
  what: 'image index',
  version: 1,
  upgrades: {},
  check: (d) => checkMembers(d, { images: 'object', refs: 'object' }),
};

export class ImageIndexFile {
  readonly path: string;
  private readonly file: RecordFile;

  constructor(root: string) {
    const dir = join(root, 'images');
    mkdirSync(dir, { recursive: true });
    this.file = { root, rel: 'images/index.json' };
    this.path = join(root, this.file.rel);
  }

  /**
   * The index, or an error that stops the daemon: without it every image, layer and blob looks unreferenced, and
   * the store would sweep them. Nothing is moved or rewritten then.
   */
  load(): ImageIndexData {
    const read = readRecord(this.file, INDEX_FORMAT);
    if (read.status === 'missing') return { images: {}, refs: {} };
    if (read.status === 'ok') return read.value;
    if (read.error.code === 'STATE_TOO_NEW') {
      throw new GantryError('STATE_TOO_NEW', `${read.error.message}; the daemon does not start without its image index`, {
        hint: 'upgrade gantry (with the index moved aside, this build would forget every image and remove its layers)', detail: read.error.detail,
      });
    }
    throw new GantryError('STATE_CORRUPT', `${read.error.message}; the daemon does not start without its image index`, {
      hint: `restore ${this.file.rel} from a backup, or move it aside (every image must then be imported again)`, detail: read.error.detail,
    });
  }

  /** `flushLater`: renamed into place now, fsynced in the background (for changes a crash may lose, e.g. a tag time). */
  save(data: ImageIndexData, o: { flushLater?: boolean } = {}): void {
    writeRecord(this.file, INDEX_FORMAT, data, o);
  }
}
