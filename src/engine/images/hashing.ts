// A pass-through stream that computes the sha256 digest and byte count of what flows through it.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingStream extends Transform {
  /** Undefined: counting bytes only (the digest is checked elsewhere). */
  readonly #hash: Hash | undefined;
  #size = 0;
  #digest: string | undefined;

  constructor(opts: { digest?: boolean } = {}) {
    super();
    this.#hash = opts.digest === false ? undefined : createHash('sha256');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#hash?.update(chunk);
    this.#size += chunk.length;
    done(null, chunk);
  }

  /** `sha256:<hex>` of everything that passed; only valid once the stream has ended. */
  get digest(): string {
    if (this.#hash === undefined) throw new Error('HashingStream: made to count bytes only, it has no digest');
    this.#digest ??= `sha256:${this.#hash.digest('hex')}`;
    return this.#digest;
  }

  get size(): number {
    return this.#size;
  }
}
