// Docker's JSON progress messages (what `POST /images/create` and `POST /images/{name}/push` stream, one JSON
// object per line), so the docker CLI and docker-py render them as they do for dockerd.
import { Transform, type TransformCallback } from 'node:stream';

export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message: string };
  aux?: Record<string, unknown>;
}

export type Emit = (m: ProgressMessage) => void;

/** The 12-hex id Docker shows for a blob. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

function human(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)}${units[i]}`;
}

/** Docker's bar: `[=====>      ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  if (total <= 0) return human(current);
  const width = 50;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${human(current)}/${human(total)}`;
}

/** Counts bytes flowing through and reports them at most every 100 ms; fails past `limit` bytes. */
export class ProgressCounter extends Transform {
  bytes = 0;
  #last = 0;

  constructor(private readonly report: (bytes: number) => void, private readonly limit: number, private readonly tooMany: () => Error) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(this.tooMany());
    const now = Date.now();
    if (now - this.#last >= 100) { this.#last = now; this.report(this.bytes); }
    done(null, chunk);
  }
}
