// Deletes removed containers' directories (renamed into containers-trash/ at once) off the daemon's main thread.
// A promise-based recursive rm runs its dozens of small fs calls' callbacks on the main thread: ~0.3 ms per
// container, a fifth of the daemon's work in an `rm -f` of 1,000. A worker thread does them instead; unref'd when
// idle, so it never keeps the daemon alive. Whatever a killed daemon left in the trash, the next one deletes.
import { rmSync } from 'node:fs';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

export class TrashReaper {
  private worker: Worker | undefined;
  private pending = 0;

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(new URL(import.meta.url));
    w.on('message', () => {
      if (--this.pending === 0) w.unref();
    });
    w.on('error', () => undefined);
    w.on('exit', () => {
      this.worker = undefined;
      this.pending = 0;
    });
    this.worker = w;
    return w;
  }

  /** Queues the recursive deletion of `dir` (a path under the daemon's own trash dir; gone already is fine). */
  delete(dir: string): void {
    const w = this.start();
    w.ref();
    this.pending++;
    w.postMessage(dir);
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (dir: string) => {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* left for the next daemon's start */ }
    port.postMessage(dir);
  });
}
