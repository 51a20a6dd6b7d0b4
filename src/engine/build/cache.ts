// The build cache: step cache key → the image the step produced (every step's result is an image in the
// store, untagged, as Docker's classic builder keeps its intermediate images). One JSON file per entry,
// `build-cache/<hex>.json`, written to a temp file and renamed, so an interrupted build never leaves a half
// entry, and entries survive a daemon restart. An entry whose image is gone (pruned) is a miss.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CacheEntry {
  /** The image id (`sha256:…`) the step produced. */
  readonly image: string;
  /** When it was stored (ISO 8601). */
  readonly created: string;
}

const KEY = /^sha256:([0-9a-f]{64})$/;
/** An entry is a few hundred bytes; anything bigger is not ours. */
const MAX_ENTRY_BYTES = 64 * 1024;

export class BuildCache {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'build-cache');
    mkdirSync(this.dir, { recursive: true });
  }

  #file(key: string): string {
    const m = KEY.exec(key);
    if (m === null) throw new Error(`not a step cache key: ${key}`);
    return join(this.dir, `${m[1]}.json`);
  }

  get(key: string): CacheEntry | undefined {
    try {
      const text = readFileSync(this.#file(key), 'utf8');
      if (text.length > MAX_ENTRY_BYTES) return undefined;
      const v = JSON.parse(text) as Partial<CacheEntry>;
      return typeof v.image === 'string' && typeof v.created === 'string' ? { image: v.image, created: v.created } : undefined;
    } catch {
      return undefined;
    }
  }

  put(key: string, image: string): void {
    const file = this.#file(key);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ image, created: new Date().toISOString() } satisfies CacheEntry));
    renameSync(tmp, file);
  }

  /** The images entries name: the build's intermediate images (`images` hides them unless -a, as Docker does). */
  imageIds(): Set<string> {
    const out = new Set<string>();
    for (const name of readdirSync(this.dir)) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      const entry = m === null ? undefined : this.get(`sha256:${m[1]}`);
      if (entry !== undefined) out.add(entry.image);
    }
    return out;
  }

  /** `builder prune`: removes every entry; returns their keys. (`mounts/` is the cache mounts', CacheMounts.prune.) */
  prune(): string[] {
    const removed: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (name === 'mounts') continue;
      rmSync(join(this.dir, name), { force: true });
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      if (m !== null) removed.push(`sha256:${m[1]}`);
    }
    return removed;
  }
}
