// Builds answered whole from memory: when a build request carries the same context bytes and the same parameters as
// an earlier build in which every step came from the cache, and each image that build took from the store (FROM,
// COPY --from=IMAGE) is still the same image, the step cache would give every step again, so the result is that
// build's image and its messages ("Using cache" for every step). The daemon then neither unpacks the context nor
// walks it nor looks up a step. Only fully cached builds are remembered (a first build prints what it ran, a
// replay must print what a cached rebuild prints); `--no-cache` and `--pull` never use it; `builder prune`
// forgets it; it lives in the daemon's memory only (a restarted daemon walks the steps once again).
import { createHash } from 'node:crypto';
import type { BuildMessage } from './executor.js';

/** Contexts up to this size are held in memory to be hashed before they are unpacked; bigger ones stream. */
export const MEMO_MAX_CONTEXT_BYTES = 4 * 1024 * 1024;
const MAX_ENTRIES = 128;
const KEY_VERSION = 'gantry-build-memo-1';

export interface MemoParams {
  readonly dockerfile: string;
  readonly tags: readonly string[];
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly labels: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  readonly network: string;
}

export interface MemoEntry {
  readonly imageId: string;
  /** Each image reference the build took from the store, and the image id it was then. */
  readonly external: Readonly<Record<string, string>>;
  /** What the executor emitted, in order (tags included). */
  readonly messages: readonly BuildMessage[];
}

export class BuildMemo {
  readonly #entries = new Map<string, MemoEntry>();

  /** The key of a request: the context's bytes (as sent) and every parameter that shapes the result or its output. */
  static key(context: Buffer, p: MemoParams): string {
    const h = createHash('sha256');
    h.update(`${KEY_VERSION}\0`);
    h.update(createHash('sha256').update(context).digest('hex'));
    h.update(JSON.stringify([p.dockerfile, [...p.tags], [...p.buildArgs].sort(), Object.entries(p.labels).sort(), p.target ?? null, p.network]));
    return h.digest('hex');
  }

  /**
   * The remembered build for `key`, when its image still exists and every image it took from the store still
   * resolves to the same id; a stale entry is dropped.
   */
  lookup(key: string, resolve: (ref: string) => string | undefined, exists: (id: string) => boolean): MemoEntry | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    const fresh = exists(e.imageId) && Object.entries(e.external).every(([ref, id]) => resolve(ref) === id);
    if (!fresh) {
      this.#entries.delete(key);
      return undefined;
    }
    // most recently used last: the oldest goes first when full
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e;
  }

  store(key: string, entry: MemoEntry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
