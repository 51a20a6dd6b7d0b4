// Deletes removed containers' directories (renamed into containers-trash/ at once) and force-removed containers'
// cgroups off the daemon's main thread. A promise-based recursive rm runs its dozens of small fs calls' callbacks
// on the main thread: ~0.3 ms per container, a fifth of the daemon's work in an `rm -f` of 1,000; a cgroup's
// rmdirs were another fifth. A worker thread does them instead; unref'd when idle, so it never keeps the daemon
// alive. Whatever a killed daemon left in the trash, the next one deletes; cgroups left, its sweep() removes.
import { rmSync } from 'node:fs';
import { isMainThread, parentPort } from 'node:worker_threads';
import { WorkerQueue } from '../../common/worker-queue.js';
import { removeCgroupDirs } from '../cgroups/background-remove.js';
import { TeardownGate } from './teardown-gate.js';

type Job = { kind: 'dir'; dir: string } | { kind: 'cgroups'; dirs: string[] };

export class TrashReaper {
  private readonly queue = new WorkerQueue<Job, null>(new URL(import.meta.url));
  /** Jobs wait here while removals are in flight (teardown-gate.ts); so do removed containers' shims. */
  readonly gate = new TeardownGate();

  /**
   * Resolves once every queued job is done, or after `maxMs` (a graceful shutdown waits for the cgroups of the
   * last removals, so it can drop its own cgroup parent; what is left then, the next start sweeps).
   */
  drained(maxMs: number): Promise<void> {
    this.gate.flush();
    return this.queue.drain(maxMs);
  }

  /** Queues the recursive deletion of `dir` (a path under the daemon's own trash dir; gone already is fine). */
  delete(dir: string): void {
    this.gate.later(() => this.queue.post({ kind: 'dir', dir }));
  }

  /** Queues the removal of a dead container's own cgroup dirs (CgroupDriver.ownDirs), see background-remove.ts. */
  removeCgroups(dirs: string[]): void {
    if (dirs.length > 0) this.gate.later(() => this.queue.post({ kind: 'cgroups', dirs }));
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    try {
      if (job.kind === 'dir') rmSync(job.dir, { recursive: true, force: true });
      else removeCgroupDirs(job.dirs);
    } catch { /* left for the next daemon's start */ }
    port.postMessage(null);
  });
}
