// A blob download that survives dropped connections: when the response breaks off, the rest is asked for with a
// Range request (after a backoff) and the bytes continue in the same stream, so the one-pass extraction that
// reads it never sees the break. After `attempts` breaks the stream fails with the last error.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { backoffMs, isRetryable, sleep } from './transport.js';

export class ResumingBlobStream extends Readable {
  #offset = 0;
  #res: IncomingMessage | undefined;
  #failures = 0;
  #opening = false;

  constructor(
    private readonly open: (from: number) => Promise<IncomingMessage>,
    private readonly size: number,
    private readonly attempts: number,
    private readonly onRetry: (attempt: number, from: number, e: unknown) => void,
  ) {
    super();
  }

  override _read(): void {
    if (this.#res !== undefined) { this.#res.resume(); return; }
    if (!this.#opening) void this.#start();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    this.#res?.destroy();
    done(err);
  }

  async #start(): Promise<void> {
    this.#opening = true;
    for (;;) {
      try {
        const res = await this.open(this.#offset);
        this.#opening = false;
        this.#attach(res);
        return;
      } catch (e) {
        if (!(await this.#mayRetry(e))) { this.#opening = false; this.destroy(e instanceof Error ? e : new Error(String(e))); return; }
      }
    }
  }

  async #mayRetry(e: unknown): Promise<boolean> {
    if (this.destroyed || !isRetryable(e) || ++this.#failures >= this.attempts) return false;
    this.onRetry(this.#failures - 1, this.#offset, e);
    await sleep(backoffMs(this.#failures - 1));
    return !this.destroyed;
  }

  #attach(res: IncomingMessage): void {
    this.#res = res;
    res.on('data', (chunk: Buffer) => {
      this.#offset += chunk.length;
      if (!this.push(chunk)) res.pause();
    });
    res.on('end', () => {
      if (this.#res !== res) return;
      this.#res = undefined;
      if (this.#offset >= this.size) { this.push(null); return; }
      void this.#broke(res, new GantryError('REGISTRY_ERROR', `the blob ended after ${this.#offset} of ${this.size} bytes`, { detail: { retryable: true } }));
    });
    res.on('error', (e) => { if (this.#res === res) { this.#res = undefined; void this.#broke(res, e); } });
  }

  async #broke(res: IncomingMessage, e: unknown): Promise<void> {
    res.destroy();
    if (await this.#mayRetry(e)) void this.#start();
    else this.destroy(e instanceof Error ? e : new Error(String(e)));
  }
}
