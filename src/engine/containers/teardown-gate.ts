// What a removal leaves to do once it has answered — a removed container's mount tree and network namespace (its
// shim releases them when the daemon closes the connection that sent `d`), its cgroups and its files (the trash
// reaper's worker) — is held while other removals are in flight, and let go once none has been for QUIET_MS. On a
// machine with few cores that work (unmounts and the overlay's sync of the host filesystem, the kernel's netns
// cleanup, cgroup rmdirs, unlinks: ~1.5 ms of CPU per container) otherwise runs beside the removals still
// answering and slows a burst of them (`rm -f` of 1,000, a stack's `down`) by half. Nothing a user can reach
// waits here: the container's processes are dead, its record and name are gone, its endpoints detached.
// Bounded: held work is let go MAX_HOLD_MS after the oldest of it was held, or once MAX_HELD pieces are held, even
// while removals go on (a held container's mount tree and network namespace are ~0.3 MiB of kernel memory). A
// daemon killed meanwhile loses nothing: its connections close (the shims go on), and the next daemon deletes the
// trash and sweeps the cgroups.

import type { Clock, Timer } from '../clock.js';

export const QUIET_MS = 25;
export const MAX_HOLD_MS = 3_000;
/** Pieces of work, not removals: one removal holds up to three (its shim, its cgroups, its files). */
export const MAX_HELD = 8_192;

/** Monotonic: a wall-clock step must not stretch or cut the bounds. */
const monotonicClock: Clock = {
  now: () => performance.now(),
  after: (ms, fn) => { const t = setTimeout(fn, ms); t.unref(); return { cancel: () => clearTimeout(t) }; },
};

export class TeardownGate {
  private inFlight = 0;
  private held: Array<() => void> = [];
  private oldestAt = 0;
  private timer: Timer | undefined;

  constructor(private readonly clock: Clock = monotonicClock) {}

  /** A removal starts; call the returned function (once) when it has answered. */
  begin(): () => void {
    // the deadline changes only when removals start or stop being in flight, not with each one
    if (++this.inFlight === 1) this.arm();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.inFlight === 0) this.arm();
    };
  }

  /** Runs `work` once no removal is in flight (within the bounds above). */
  later(work: () => void): void {
    const first = this.held.length === 0;
    if (first) this.oldestAt = this.clock.now();
    this.held.push(work);
    if (this.held.length >= MAX_HELD) this.flush(); else if (first) this.arm();
  }

  /** How many pieces of work are held. */
  get size(): number { return this.held.length; }

  /** Lets everything held go now (daemon shutdown, bounds). */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const work = this.held;
    this.held = [];
    for (const w of work) {
      try { w(); } catch { /* each piece is independent; its owner logs what matters */ }
    }
  }

  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.held.length === 0) return;
    const untilBound = this.oldestAt + MAX_HOLD_MS - this.clock.now();
    const wait = Math.max(0, this.inFlight === 0 ? Math.min(QUIET_MS, untilBound) : untilBound);
    this.timer = this.clock.after(wait, () => { this.timer = undefined; this.flush(); });
  }
}
