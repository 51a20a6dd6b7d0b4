// Reads a container's log (Docker json-file lines written by the shim): tail, filter, follow.
import { open, stat } from 'node:fs/promises';
import { watch } from 'node:fs';

export interface LogEntry { stream: 'stdout' | 'stderr'; text: string; time: string }

export interface LogReadOptions {
  stdout: boolean;
  stderr: boolean;
  /** Last N entries; undefined = all. */
  tail?: number | undefined;
  /** Only entries at or after this time (ms since epoch). */
  sinceMs?: number | undefined;
  follow: boolean;
}

function parseLine(line: string): LogEntry | undefined {
  if (line === '') return undefined;
  try {
    const o = JSON.parse(line) as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof o.log !== 'string' || typeof o.time !== 'string') return undefined;
    return { text: o.log, stream: o.stream === 'stderr' ? 'stderr' : 'stdout', time: o.time };
  } catch {
    return undefined; // a torn last line while the shim writes: read again later
  }
}

async function readFrom(path: string, offset: number): Promise<{ text: string; end: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return { text: '', end: offset };
  }
  try {
    const { size } = await fh.stat();
    if (size <= offset) return { text: '', end: offset };
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    // Only whole lines: a line still being written is read on the next round.
    const lastNl = text.lastIndexOf('\n');
    const whole = lastNl < 0 ? '' : text.slice(0, lastNl + 1);
    return { text: whole, end: offset + Buffer.byteLength(whole) };
  } finally {
    await fh.close();
  }
}

/**
 * Yields log entries. With `follow`, keeps reading until `stillRunning()` is false (then drains) or the
 * signal aborts.
 */
export async function* readLogs(path: string, opts: LogReadOptions, stillRunning: () => boolean, signal?: AbortSignal): AsyncGenerator<LogEntry> {
  const keep = (e: LogEntry): boolean => (e.stream === 'stdout' ? opts.stdout : opts.stderr)
    && (opts.sinceMs === undefined || Date.parse(e.time) >= opts.sinceMs);
  let { text, end } = await readFrom(path, 0);
  let entries = text.split('\n').map(parseLine).filter((e): e is LogEntry => e !== undefined && keep(e));
  if (opts.tail !== undefined) entries = opts.tail <= 0 ? [] : entries.slice(-opts.tail);
  yield* entries;
  if (!opts.follow) return;
  let wake: (() => void) | undefined;
  let watcher: ReturnType<typeof watch> | undefined;
  try {
    watcher = watch(path, () => wake?.());
  } catch {
    watcher = undefined;
  }
  try {
    for (;;) {
      if (signal?.aborted) return;
      const running = stillRunning();
      ({ text, end } = await readFrom(path, end).then((r) => ({ text: r.text, end: r.end })));
      for (const e of text.split('\n').map(parseLine)) if (e && keep(e)) yield e;
      if (!running) return;
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
        const t = setTimeout(done, 250);
        wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}

export async function logSize(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}
