// Deletes links off the daemon's main thread. The kernel takes ~35 ms to delete a bridge (it waits for RCU),
// which would stall every other request; a worker thread does the wait instead. The caller takes the link
// down first (a fast call), so it carries no traffic and no routes while it waits to go. Pending deletions
// are finished by drain() at shutdown; after a crash, the next daemon's stale-link sweep removes them.
import { isMainThread, parentPort } from 'node:worker_threads';
import { WorkerQueue } from '../../common/worker-queue.js';
import { deleteBridge } from './bridge.js';

export class LinkReaper {
  private readonly queue: WorkerQueue<string, { name: string; error?: string }>;

  constructor(log: (msg: string) => void = () => undefined) {
    this.queue = new WorkerQueue(new URL(import.meta.url),
      (m) => { if (m.error !== undefined) log(`delete link ${m.name}: ${m.error}`); },
      (e) => log(`link reaper: ${e.message}`));
  }

  /** Queue the deletion of link `name` (gone already is fine). */
  delete(name: string): void {
    this.queue.post(name);
  }

  /** Resolves when every queued deletion is done. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  close(): Promise<void> {
    return this.queue.close();
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
