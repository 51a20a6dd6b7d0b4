// Deletes links off the daemon's main thread. The kernel takes ~35 ms to delete a bridge (it waits for RCU),
// which would stall every other request; a worker thread does the wait instead. The caller takes the link
// down first (a fast call), so it carries no traffic and no routes while it waits to go. Pending deletions
// are finished by drain() at shutdown; after a crash, the next daemon's stale-link sweep removes them.
// It also isolates removed containers' veths on their bridges (bridge.ts isolatePort), which a removal waits for:
// those go to the worker first, deletions one at a time behind them, so an isolation waits at most for one
// deletion. On the worker, not the main thread: both take the kernel's rtnl lock, which a deletion or a network
// namespace's cleanup holds across RCU waits (~30 ms each); the main thread waiting on it stalled an `rm -f` of
// 1,000 from 2.3 s to 9-17 s.
import { isMainThread, parentPort } from 'node:worker_threads';
import { WorkerQueue } from '../../common/worker-queue.js';
import { deleteBridge, isolatePort } from './bridge.js';

type Job = { kind: 'delete' | 'isolate'; name: string };
type Answer = { kind: 'delete' | 'isolate'; name: string; there?: boolean; error?: string };

export class LinkReaper {
  private readonly queue: WorkerQueue<Job, Answer>;
  /** Deletions not yet posted: one is in the worker at a time, and none while an isolation waits. */
  private readonly deletions: string[] = [];
  private inWorker = 0;
  private readonly isolating = new Map<string, Array<(there: boolean | Error) => void>>();

  constructor(private readonly log: (msg: string) => void = () => undefined) {
    this.queue = new WorkerQueue(new URL(import.meta.url), (m) => this.answered(m), (e) => this.crashed(e));
  }

  /** The thread died: what it held is lost (the next start's sweep takes those links); the next job starts another. */
  private crashed(e: Error): void {
    this.log(`link reaper: ${e.message}`);
    this.inWorker = 0;
    const waiting = [...this.isolating.values()].flat();
    this.isolating.clear();
    for (const settle of waiting) settle(e);
    this.pump();
  }

  /** Queue the deletion of link `name` (gone already is fine). */
  delete(name: string): void {
    this.deletions.push(name);
    this.pump();
  }

  /**
   * Isolates veth `name` on its bridge; resolves whether it was there (on a bridge), rejects when the kernel refused.
   */
  isolate(name: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const waiting = this.isolating.get(name);
      const settle = (r: boolean | Error): void => { if (r instanceof Error) reject(r); else resolve(r); };
      if (waiting !== undefined) { waiting.push(settle); return; }
      this.isolating.set(name, [settle]);
      this.inWorker++;
      this.queue.post({ kind: 'isolate', name });
    });
  }

  /** Resolves when every queued deletion is done. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  private pump(): void {
    if (this.inWorker > 0) return;
    const name = this.deletions.shift();
    if (name === undefined) return;
    this.inWorker++;
    this.queue.post({ kind: 'delete', name });
  }

  private answered(m: Answer): void {
    this.inWorker--;
    if (m.kind === 'isolate') {
      const waiting = this.isolating.get(m.name) ?? [];
      this.isolating.delete(m.name);
      for (const settle of waiting) settle(m.error !== undefined ? new Error(m.error) : m.there === true);
    } else if (m.error !== undefined) {
      this.log(`delete link ${m.name}: ${m.error}`);
    }
    this.pump(); // within the answer: the queue never looks idle between two deletions
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    try {
      if (job.kind === 'isolate') port.postMessage({ kind: job.kind, name: job.name, there: isolatePort(job.name) });
      else {
        deleteBridge(job.name);
        port.postMessage({ kind: job.kind, name: job.name });
      }
    } catch (e) {
      port.postMessage({ kind: job.kind, name: job.name, error: e instanceof Error ? e.message : String(e) });
    }
  });
}
