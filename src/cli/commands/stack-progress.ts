// Renders the daemon's stack events: listr2 on a TTY (animated), plain lines otherwise, or JSON lines.
// Only consumes events; listr2 is imported only when a TTY renderer is used.
import type { Operation } from '../../reconcile/types.js';
import type { PullMark, StackEvent, StackFailure } from '../../daemon/stack-service.js';
import type { ProgressMessage } from '../../engine/registry/progress.js';
import type { MessageQueue } from '../layer-progress.js';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

const DONE_WORD: Record<Operation['type'], string> = {
  'create-network': 'Created', 'remove-network': 'Removed', 'create-volume': 'Created', 'remove-volume': 'Removed',
  'create-container': 'Created', 'recreate-container': 'Recreated', 'replace-container': 'Replaced', 'start-container': 'Started', 'stop-container': 'Stopped',
  'remove-container': 'Removed', 'wait-container': 'Ready',
};

function subject(resource: string): string {
  const i = resource.indexOf(':');
  const kind = resource.slice(0, i);
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)} ${resource.slice(i + 1)}`;
}

export interface ProgressResult { ok: boolean; failures: StackFailure[]; planText: string; ended: boolean }

/** Reads JSON-line events and renders them; resolves with the final result. */
export async function renderProgress(lines: AsyncIterable<StackEvent>, mode: ProgressMode, out: NodeJS.WritableStream = process.stderr): Promise<ProgressResult> {
  const result: ProgressResult = { ok: false, failures: [], planText: '', ended: false };
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let listr: Promise<void> | undefined;
  const pulls = new PullBoard();
  for await (const e of lines) {
    if (mode === 'json') process.stdout.write(`${JSON.stringify(e)}\n`);
    switch (e.kind) {
      case 'waiting':
        if (mode === 'tty' && e.pull !== undefined && pulls.takes(e.pull)) break;
        if (mode !== 'json') out.write(`${e.message}\n`);
        break;
      case 'pulls':
        if (mode === 'tty') await pulls.start(e.images);
        break;
      case 'pull':
        pulls.progress(e.image, e.progress);
        break;
      case 'plan':
        await pulls.finished();
        result.planText = e.text;
        if (mode !== 'json') for (const w of e.warnings) out.write(`WARN ${w}\n`);
        if ((mode === 'plain' || mode === 'tty') && e.operations.length === 0) out.write(' Nothing to do: the stack is up to date\n');
        if (mode === 'tty' && e.operations.length > 0) listr = startListr(e.operations, pending);
        break;
      case 'op': {
        if (mode === 'plain') {
          if (e.status === 'done') out.write(` ${subject(e.resource)}  ${DONE_WORD[e.type]}${e.type === 'wait-container' ? ` (${e.message ?? ''})` : ''}\n`);
          else if (e.status === 'failed') out.write(` ${subject(e.resource)}  Error: ${e.message ?? ''}\n`);
          else if (e.status === 'skipped') out.write(` ${subject(e.resource)}  Skipped (${e.message ?? ''})\n`);
        } else if (mode === 'tty') {
          const p = pending.get(e.id);
          if (p && e.status === 'done') p.resolve();
          else if (p && (e.status === 'failed' || e.status === 'skipped')) p.reject(new Error(e.message ?? e.status));
        }
        break;
      }
      case 'wait':
        if (mode === 'plain' || mode === 'tty') {
          if (e.status === 'done') out.write(` Service ${e.service}  Ready\n`);
          else if (e.status === 'failed') out.write(` Service ${e.service}  Error: ${e.message ?? ''}\n`);
        }
        break;
      case 'result':
        result.ok = e.ok;
        result.failures = e.failures;
        result.ended = true;
        break;
    }
  }
  for (const p of pending.values()) p.reject(new Error('interrupted'));
  await pulls.finished();
  await listr?.catch(() => undefined);
  return result;
}

/**
 * An `up`'s pulls on a TTY: a listr2 task per image with its layers under it (layer-progress.ts). The daemon's
 * lines that end an image's pull (`waiting` with `pull`) end its task instead of being printed.
 */
class PullBoard {
  readonly #queues = new Map<string, { queue: MessageQueue; ended: boolean }>();
  #shown: Promise<unknown> | undefined;

  async start(images: readonly string[]): Promise<void> {
    const { MessageQueue, renderLayersTTY } = await import('../layer-progress.js');
    for (const image of images) this.#queues.set(image, { queue: new MessageQueue(), ended: false });
    this.#shown = renderLayersTTY(images.map((image) => ({ title: `Image ${image}  Pulling`, doneTitle: `Image ${image}  Pulled`, messages: this.#queues.get(image)!.queue })),
      (m) => new Error(m.errorDetail?.message ?? m.error ?? 'failed'));
    this.#shown.catch(() => undefined);
  }

  progress(image: string, m: ProgressMessage): void {
    this.#queues.get(image)?.queue.push(m);
  }

  /** True when the image's pull is shown by a task (its start and end are then not printed as lines). */
  takes(pull: PullMark): boolean {
    const entry = this.#queues.get(pull.image);
    if (entry === undefined) return false;
    if (pull.status === 'pulling') return true;
    if (pull.status === 'failed') entry.queue.push({ error: pull.error ?? 'failed' });
    entry.queue.end();
    entry.ended = true;
    return true;
  }

  async finished(): Promise<void> {
    for (const entry of this.#queues.values()) if (!entry.ended) { entry.queue.end(); entry.ended = true; }
    await this.#shown?.catch(() => undefined);
  }
}

async function startListr(ops: readonly Operation[], pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>): Promise<void> {
  const waits = new Map<number, Promise<void>>();
  for (const op of ops) {
    waits.set(op.id, new Promise<void>((resolve, reject) => { pending.set(op.id, { resolve, reject }); }));
    waits.get(op.id)!.catch(() => undefined);
  }
  const { Listr } = await import('listr2');
  const list = new Listr(ops.map((op) => ({
    title: `${subject(op.resource)}  ${op.type.replace(/-.*/, '')} (${op.cause})`,
    task: async (_ctx: unknown, task: { title: string }): Promise<void> => {
      await waits.get(op.id);
      task.title = `${subject(op.resource)}  ${DONE_WORD[op.type]}`;
    },
  })), { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } });
  await list.run().catch(() => undefined);
}
