// Renders pulls' and pushes' progress messages (Docker's JSON progress, from the daemon) on a TTY with listr2:
// one task per image, its layers as lines under it (id, status, bar), rewritten as messages arrive and kept when
// it ends, as docker leaves them. Several images (an `up`) are tasks of one list, side by side.
// listr2 is imported only here, only for a TTY.
import type { ProgressMessage } from '../engine/registry/progress.js';

/** The latest status of each layer, in the order the layers first appeared. */
export class LayerBoard {
  readonly #rows = new Map<string, string>();

  /** Takes a message with a layer id; false for image-level messages (no id), which the caller prints. */
  update(m: ProgressMessage): boolean {
    if (m.id === undefined || m.status === undefined) return false;
    this.#rows.set(m.id, `${m.id}: ${m.status}${m.progress !== undefined && m.progress !== '' ? ` ${m.progress}` : ''}`);
    return true;
  }

  get size(): number {
    return this.#rows.size;
  }

  text(): string {
    return [...this.#rows.values()].join('\n');
  }
}

/** A pushed-to queue read as an async iterable (a listr2 task reads what the stream parser pushes). */
export class MessageQueue implements AsyncIterable<ProgressMessage> {
  readonly #items: ProgressMessage[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  push(m: ProgressMessage): void { this.#items.push(m); this.#wake?.(); }
  end(): void { this.#ended = true; this.#wake?.(); }

  async *[Symbol.asyncIterator](): AsyncIterator<ProgressMessage> {
    for (;;) {
      const next = this.#items.shift();
      if (next !== undefined) { yield next; continue; }
      if (this.#ended) return;
      await new Promise<void>((resolve) => { this.#wake = resolve; });
      this.#wake = undefined;
    }
  }
}

export interface LayerTask {
  /** While it runs, e.g. "Pulling nginx:1.25"; when it ends well, e.g. "Pulled nginx:1.25". */
  title: string;
  doneTitle: string;
  messages: AsyncIterable<ProgressMessage>;
}

/**
 * Shows each task's messages as a listr2 task; resolves with each task's image-level status lines ("Digest: …"),
 * which the caller prints after the list. A message carrying an error fails its task; the first such error
 * (converted by `fail`) rejects the whole rendering once every task ended.
 */
export async function renderLayersTTY(tasks: readonly LayerTask[], fail: (m: ProgressMessage) => Error): Promise<string[][]> {
  const { Listr } = await import('listr2');
  const imageLines = tasks.map((): string[] => []);
  let failure: Error | undefined;
  const list = new Listr(tasks.map((t, i) => ({
    title: t.title,
    rendererOptions: { outputBar: true, persistentOutput: true },
    task: async (_ctx: unknown, task: { title: string; output: string }): Promise<void> => {
      const board = new LayerBoard();
      for await (const m of t.messages) {
        if (m.error !== undefined || m.errorDetail !== undefined) { const e = fail(m); failure ??= e; throw e; }
        if (m.status !== undefined && /^(Pulling from|The push refers to) /.test(m.status)) continue; // the title says it
        if (board.update(m)) task.output = board.text();
        else if (m.status !== undefined) imageLines[i]!.push(m.status);
      }
      task.title = t.doneTitle;
    },
  })), { concurrent: true, exitOnError: false, rendererOptions: { showErrorMessage: false } });
  await list.run().catch(() => undefined);
  if (failure !== undefined) throw failure;
  return imageLines;
}
