// Caps on what one layer may unpack to, so an untrusted tarball (a gzip bomb, millions of empty files) is
// refused while it streams, before it fills the disk. Configurable through the daemon's environment.
import { Transform, type TransformCallback } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { parseMemorySize } from '../../common/units.js';

export interface LayerLimits {
  /** Uncompressed tar bytes of one layer (GANTRY_MAX_LAYER_BYTES). */
  maxBytes: number;
  /** Entries (files, dirs, links, whiteouts) of one layer (GANTRY_MAX_LAYER_ENTRIES). */
  maxEntries: number;
  /** Uncompressed : compressed bytes, checked once a layer is past RATIO_FLOOR_BYTES (GANTRY_MAX_LAYER_RATIO; 0 = off). */
  maxRatio: number;
}

export const DEFAULT_LAYER_LIMITS: Readonly<LayerLimits> = { maxBytes: 16 * 1024 ** 3, maxEntries: 1_000_000, maxRatio: 100 };

/** Below this many uncompressed bytes the ratio is not checked (small layers of text compress very well). */
export const RATIO_FLOOR_BYTES = 256 * 1024 * 1024;

const ENV = { maxBytes: 'GANTRY_MAX_LAYER_BYTES', maxEntries: 'GANTRY_MAX_LAYER_ENTRIES', maxRatio: 'GANTRY_MAX_LAYER_RATIO' } as const;

function wholeNumber(name: string, text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new GantryError('USAGE', `invalid ${name} "${text}"`, { hint: `${name} is a whole number` });
  return Number(text);
}

/** The limits from GANTRY_MAX_LAYER_BYTES (a size: "16g"), GANTRY_MAX_LAYER_ENTRIES and GANTRY_MAX_LAYER_RATIO. */
export function layerLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): LayerLimits {
  const text = (key: string): string | undefined => (env[key] === undefined || env[key] === '' ? undefined : env[key]);
  const bytes = text(ENV.maxBytes);
  const entries = text(ENV.maxEntries);
  const ratio = text(ENV.maxRatio);
  return {
    maxBytes: bytes === undefined ? DEFAULT_LAYER_LIMITS.maxBytes : parseMemorySize(bytes, ENV.maxBytes),
    maxEntries: entries === undefined ? DEFAULT_LAYER_LIMITS.maxEntries : wholeNumber(ENV.maxEntries, entries),
    maxRatio: ratio === undefined ? DEFAULT_LAYER_LIMITS.maxRatio : wholeNumber(ENV.maxRatio, ratio),
  };
}

export function tooManyEntries(limit: number): GantryError {
  return new GantryError('TOO_LARGE', `the layer has more than ${limit} entries`, {
    hint: `layers are capped at ${limit} files; start the daemon with ${ENV.maxEntries}=N to raise it`,
  });
}

/**
 * Counts the uncompressed bytes flowing to the extracting tar and fails the stream when they pass `maxBytes`,
 * or when they pass RATIO_FLOOR_BYTES at more than `maxRatio` times the compressed bytes read so far.
 */
export class LayerBudget extends Transform {
  #bytes = 0;

  constructor(private readonly limits: LayerLimits, private readonly compressedBytes: () => number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    const { maxBytes, maxRatio } = this.limits;
    if (this.#bytes > maxBytes) {
      return done(new GantryError('TOO_LARGE', `the layer unpacks to more than ${maxBytes} bytes`, {
        hint: `layers are capped at ${maxBytes} uncompressed bytes; start the daemon with ${ENV.maxBytes}=SIZE (e.g. 64g) to raise it`,
      }));
    }
    const compressed = this.compressedBytes();
    if (maxRatio > 0 && compressed > 0 && this.#bytes > RATIO_FLOOR_BYTES && this.#bytes > compressed * maxRatio) {
      return done(new GantryError('TOO_LARGE', `the layer unpacks to more than ${maxRatio} times its compressed size (${this.#bytes} bytes from ${compressed}): it looks like a decompression bomb`, {
        hint: `start the daemon with ${ENV.maxRatio}=N (0 turns the check off) if the layer is genuine`,
      }));
    }
    done(null, chunk);
  }
}

/** Fails the stream once more than `limits.maxBytes` pass: an uploaded archive is never larger than what it unpacks to. */
export class UploadBudget extends Transform {
  #bytes = 0;

  constructor(private readonly limits: LayerLimits) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes <= this.limits.maxBytes) return done(null, chunk);
    done(new GantryError('TOO_LARGE', `the uploaded archive is larger than ${this.limits.maxBytes} bytes`, {
      hint: `image archives are capped at ${this.limits.maxBytes} bytes; start the daemon with ${ENV.maxBytes}=SIZE (e.g. 64g) to raise it`,
    }));
  }
}
