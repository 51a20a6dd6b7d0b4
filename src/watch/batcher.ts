// Groups file events into batches: a batch closes once no event came for `quietMs` (an editor's save-all, a
// `git checkout`, a formatter touching 200 files is one batch), or `maxWaitMs` after its first event when
// events never stop (a build writing continuously still gets synced). For the same path the last event wins,
// so a rename (unlink + add) or a delete-then-recreate collapses to what is on disk at the end.

import type { Clock, Timer } from '../engine/clock.js';

export type ChangeKind = 'write' | 'remove';

export interface Change {
  /** Absolute host path. */
  readonly path: string;
  readonly kind: ChangeKind;
  readonly isDir: boolean;
}

/** Chosen with bench/watch.mjs (10/15/20/25/50 ms compared): 15 ms gives single saves p50 ~33 ms and keeps a
 *  burst of 200 writes one or two batches; an editor's save-all writes its files well within 15 ms of each other. */
export const DEFAULT_QUIET_MS = 15;
export const DEFAULT_MAX_WAIT_MS = 500;

export class Batcher {
  private pending = new Map<string, Change>();
  private quietTimer: Timer | undefined;
  private maxTimer: Timer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly flush: (changes: Change[]) => void,
    private readonly quietMs = DEFAULT_QUIET_MS,
    private readonly maxWaitMs = DEFAULT_MAX_WAIT_MS,
  ) {}

  add(change: Change): void {
    this.pending.delete(change.path); // re-insert: the order of the last events is kept
    this.pending.set(change.path, change);
    this.quietTimer?.cancel();
    this.quietTimer = this.clock.after(this.quietMs, () => this.close());
    this.maxTimer ??= this.clock.after(this.maxWaitMs, () => this.close());
  }

  get size(): number { return this.pending.size; }

  /** Closes the open batch now (also on Ctrl-C); nothing happens when it is empty. */
  close(): void {
    this.quietTimer?.cancel();
    this.maxTimer?.cancel();
    this.quietTimer = undefined;
    this.maxTimer = undefined;
    if (this.pending.size === 0) return;
    const changes = [...this.pending.values()];
    this.pending = new Map();
    this.flush(changes);
  }
}
