// `images/index.json`: which images exist (by id = config digest, with their manifest digest) and which
// references (full form, `docker.io/library/busybox:latest`) point at which image. Written atomically.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../common/atomic-file.js';
import { GantryError } from '../../common/errors.js';

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
  version: 1;
  images: Record<string, IndexedImage>;
  refs: Record<string, string>;
}

export class ImageIndexFile {
  readonly path: string;

  constructor(root: string) {
    const dir = join(root, 'images');
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'index.json');
  }

  load(): ImageIndexData {
    let data: ImageIndexData | undefined;
    try {
      data = readJsonFile<ImageIndexData>(this.path);
    } catch (e) {
      throw new GantryError('STATE_CORRUPT', `the image index ${this.path} cannot be read`, { cause: e, hint: 'restore it from a backup or remove it (images must then be imported again)' });
    }
    if (data === undefined) return { version: 1, images: {}, refs: {} };
    if (data.version !== 1 || typeof data.images !== 'object' || typeof data.refs !== 'object') {
      throw new GantryError('STATE_CORRUPT', `the image index ${this.path} has an unknown format`, { hint: 'was it written by a newer gantry?' });
    }
    return data;
  }

  save(data: ImageIndexData): void {
    writeJsonAtomic(this.path, data);
  }
}
