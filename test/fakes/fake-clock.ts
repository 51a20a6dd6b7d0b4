// A clock tests drive by hand: timers fire only when advance() passes their time, in order, with the
// engine's follow-up work (promises, I/O callbacks) let run between them.
import type { Clock, Timer } from '../../src/engine/clock.js';

interface Pending { at: number; seq: number; fn: () => void }

export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export class FakeClock implements Clock {
  private t = Date.parse('2026-01-01T00:00:00.000Z');
  private seq = 0;
  private readonly timers = new Set<Pending>();

  now(): number { return this.t; }

  after(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(p);
    return { cancel: () => { this.timers.delete(p); } };
  }

  /** Moves time forward by `ms`, firing due timers one by one. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await flush();
    for (;;) {
      const next = [...this.timers].filter((p) => p.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.timers.delete(next);
      this.t = next.at;
      next.fn();
      await flush();
    }
    this.t = target;
    await flush();
  }
}
