// `RUN --mount=type=cache` directories: persistent, under the daemon's `build-cache/mounts/<sha256 of the key>/`
// (the key is the mount's id, plus its `from` image and `source` when it is seeded from one), never part of a
// layer, kept across builds and daemon restarts; `builder prune` removes those not in use. Sharing as BuildKit:
// `shared` — every step that asks gets the same dir at once; `locked` — one step at a time, the others wait;
// `private` — a step that finds the dir in use gets another instance of it (`<hex>.1`, `<hex>.2`…, kept too).
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export type CacheSharing = 'shared' | 'private' | 'locked';

export interface CacheMountLease {
  /** The host dir to bind at the target. */
  readonly dir: string;
  /** True when the dir was made for this lease (empty, with the mount's mode and owner): seed it now. */
  readonly fresh: boolean;
  release(): void;
}

interface Instance {
  users: number;
  exclusive: boolean;
  waiters: Array<() => void>;
}

/** Bounds how many private instances one id may have (each is a dir of its own that stays). */
const MAX_PRIVATE_INSTANCES = 64;

export class CacheMounts {
  readonly dir: string;
  readonly #inUse = new Map<string, Instance>();

  constructor(buildCacheDir: string) {
    this.dir = join(buildCacheDir, 'mounts');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    // a dir half made by an interrupted step (see #make) is not a cache
    for (const name of readdirSync(this.dir)) if (name.endsWith('.tmp')) rmSync(join(this.dir, name), { recursive: true, force: true });
  }

  /** The dir name of a cache key: its sha256, so ids may hold any character. */
  static nameOf(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  /**
   * A cache dir for `key`, waiting while `locked` finds it in use; `owner` and `mode` apply when it is made.
   * The lease must be released when the step's container is gone.
   */
  async acquire(key: string, sharing: CacheSharing, owner: { mode: number; uid: number; gid: number }, signal?: AbortSignal): Promise<CacheMountLease> {
    const base = CacheMounts.nameOf(key);
    let name = base;
    if (sharing === 'private') {
      for (let i = 1; (this.#inUse.get(name)?.users ?? 0) > 0; i++) {
        if (i > MAX_PRIVATE_INSTANCES) throw new Error(`more than ${MAX_PRIVATE_INSTANCES} private instances of one cache mount at once`);
        name = `${base}.${i}`;
      }
    }
    let inst = this.#inUse.get(name);
    if (inst === undefined) { inst = { users: 0, exclusive: false, waiters: [] }; this.#inUse.set(name, inst); }
    const exclusive = sharing !== 'shared';
    while (inst.exclusive || (exclusive && inst.users > 0)) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        (inst as Instance).waiters.push(() => { signal?.removeEventListener('abort', onAbort); resolve(); });
      });
    }
    inst.users++;
    inst.exclusive = exclusive;
    const dir = join(this.dir, name);
    let fresh = false;
    try {
      if (!existsSync(dir)) { this.#make(dir, owner); fresh = true; }
    } catch (e) {
      this.#release(name);
      throw e;
    }
    let released = false;
    return { dir, fresh, release: () => { if (!released) { released = true; this.#release(name); } } };
  }

  /** Made under a temp name and renamed, so a half-made dir is never taken for a cache. */
  #make(dir: string, owner: { mode: number; uid: number; gid: number }): void {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    chownSync(tmp, owner.uid, owner.gid);
    chmodSync(tmp, owner.mode);
    renameSync(tmp, dir);
  }

  #release(name: string): void {
    const inst = this.#inUse.get(name);
    if (inst === undefined) return;
    inst.users--;
    if (inst.users <= 0) {
      inst.exclusive = false;
      const waiters = inst.waiters.splice(0);
      if (waiters.length === 0) this.#inUse.delete(name);
      for (const w of waiters) w();
    }
  }

  /** `builder prune`: every cache dir not in use now; returns how many. */
  prune(): number {
    let n = 0;
    for (const name of readdirSync(this.dir)) {
      if ((this.#inUse.get(name)?.users ?? 0) > 0) continue;
      rmSync(join(this.dir, name), { recursive: true, force: true });
      n++;
    }
    return n;
  }
}
