// Deletes links off the daemon's main thread. The kernel waits for RCU when it unregisters links (~35 ms for a
// bridge, a grace period and a barrier for each request), which would stall every other request; a worker thread
// does the wait instead. Deletions are batched: the links queued while the worker was busy are put in a device
// group of the daemon's own (`reaperGroup`, a cheap change each) and deleted with one request for the group, which
// the kernel unregisters as one batch (one grace period and barrier for all). A veth whose netns went first is gone
// already (fine). Pending deletions are finished by drain() at shutdown; after a crash, the next daemon's stale-link
// sweep removes them.
import { createHash } from 'node:crypto';
import { isMainThread, parentPort } from 'node:worker_threads';
import { WorkerQueue } from '../../common/worker-queue.js';
import { withRtnl } from '../../sys/netlink.js';

interface Job {
  name: string;
  group: number;
}

/** The device group a daemon's doomed links wait in: a hash of its link prefix, never 0 (every link's default). */
export function reaperGroup(linkPrefix: string): number {
  return (createHash('sha256').update(`reaper/${linkPrefix}`).digest().readUInt32LE(0) % 0x7ffffffe) + 1;
}

export class LinkReaper {
  private readonly queue: WorkerQueue<Job, { name: string; error?: string }>;

  constructor(private readonly group: number, log: (msg: string) => void = () => undefined) {
    this.queue = new WorkerQueue(new URL(import.meta.url),
      (m) => { if (m.error !== undefined) log(`delete link ${m.name}: ${m.error}`); },
      (e) => log(`link reaper: ${e.message}`));
  }

  /** Queue the deletion of link `name` (gone already is fine). */
  delete(name: string): void {
    this.queue.post({ name, group: this.group });
  }

  /** Resolves when every queued deletion is done. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** One batch: every link into its group, then the group deleted at once; a link that refuses the group goes alone. */
function reap(jobs: Job[]): Array<{ name: string; error?: string }> {
  const answers: Array<{ name: string; error?: string }> = [];
  withRtnl((nl) => {
    const groups = new Set<number>();
    for (const job of jobs) {
      try {
        if (nl.setGroupByName(job.name, job.group)) groups.add(job.group);
        answers.push({ name: job.name });
      } catch {
        try {
          nl.deleteLinkByName(job.name);
          answers.push({ name: job.name });
        } catch (e) {
          answers.push({ name: job.name, error: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    for (const group of groups) {
      try {
        nl.deleteGroup(group);
      } catch (e) {
        // the batch failed as a whole: one at a time, each answering for itself
        for (const a of answers) {
          if (a.error !== undefined) continue;
          try { nl.deleteLinkByName(a.name); } catch (e2) { a.error = `${e instanceof Error ? e.message : String(e)}; alone: ${e2 instanceof Error ? e2.message : String(e2)}`; }
        }
      }
    }
  });
  return answers;
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const batch: Job[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const jobs = batch.splice(0);
    let answers: Array<{ name: string; error?: string }>;
    try {
      answers = reap(jobs);
    } catch (e) {
      answers = jobs.map((j) => ({ name: j.name, error: e instanceof Error ? e.message : String(e) }));
    }
    for (const a of answers) port.postMessage(a);
  };
  port.on('message', (job: Job) => {
    batch.push(job);
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush); // the messages that arrived meanwhile join this batch
  });
}
