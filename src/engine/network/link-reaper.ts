// Deletes links off the daemon's main thread. The kernel takes ~35 ms to delete a bridge (it waits for RCU),
// which would stall every other request; a worker thread does the wait instead. The caller takes the link
// down first (a fast call), so it carries no traffic and no routes while it waits to go. Pending deletions
// are finished by drain() at shutdown; after a crash, the next daemon's stale-link sweep removes them.
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { deleteBridge } from './bridge.js';

export class LinkReaper {
  private worker: Worker | undefined;
  private pending = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly log: (msg: string) => void = () => undefined) {}

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(new URL(import.meta.url));
    w.on('message', (m: { name: string; error?: string }) => {
      if (m.error !== undefined) this.log(`delete link ${m.name}: ${m.error}`);
      if (--this.pending === 0) {
        w.unref();
        for (const fn of this.waiters.splice(0)) fn();
      }
    });
    w.on('error', (e) => this.log(`link reaper: ${e.message}`));
    w.on('exit', () => {
      this.worker = undefined;
      this.pending = 0;
      for (const fn of this.waiters.splice(0)) fn();
    });
    this.worker = w;
    return w;
  }

  /** Queue the deletion of link `name` (gone already is fine). */
  delete(name: string): void {
    const w = this.start();
    w.ref();
    this.pending++;
    w.postMessage(name);
  }

  /** Resolves when every queued deletion is done. */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (name: string) => {
    try {
      deleteBridge(name);
      port.postMessage({ name });
    } catch (e) {
      port.postMessage({ name, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
