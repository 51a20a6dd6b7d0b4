// The main-thread side of a worker thread that runs queued jobs one after another (slow syscalls the daemon's
// thread must not wait for: link deletions, trash and cgroup removals). Started on the first job; unref'd while
// idle, so it never keeps the process alive; each job answers with one message.
import { Worker } from 'node:worker_threads';

export class WorkerQueue<Job, Answer> {
  private worker: Worker | undefined;
  private pending = 0;
  private readonly idle: Array<() => void> = [];

  /** `script`: the worker's module; `onAnswer`/`onError`: its answers and a crash of the thread. */
  constructor(
    private readonly script: URL,
    private readonly onAnswer: (answer: Answer) => void = () => undefined,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {}

  post(job: Job): void {
    const w = this.start();
    w.ref();
    this.pending++;
    w.postMessage(job);
  }

  /** Resolves once every queued job is done (or the worker died), or after `maxMs` when given. */
  drain(maxMs?: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = maxMs === undefined ? undefined : setTimeout(resolve, maxMs);
      timer?.unref();
      this.idle.push(() => { if (timer !== undefined) clearTimeout(timer); resolve(); });
    });
  }

  /** Drains, then stops the thread. */
  async close(): Promise<void> {
    await this.drain();
    await this.worker?.terminate();
    this.worker = undefined;
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(this.script);
    w.on('message', (answer: Answer) => {
      this.onAnswer(answer);
      if (--this.pending === 0) {
        w.unref();
        this.wake();
      }
    });
    w.on('error', (e) => this.onError(e));
    w.on('exit', () => {
      this.worker = undefined;
      this.pending = 0;
      this.wake();
    });
    this.worker = w;
    return w;
  }

  private wake(): void {
    for (const done of this.idle.splice(0)) done();
  }
}
