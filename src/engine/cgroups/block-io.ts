// Block I/O counters of a cgroup, in the shape `docker stats` sums (blkio_stats.io_service_bytes_recursive).
export interface BlockIoEntry { major: number; minor: number; op: string; value: number }

/** v1 `blkio.throttle.io_service_bytes_recursive` (what Docker reads): "8:0 Read 4096" lines (Total lines left out). */
export function parseBlkioServiceBytes(text: string): BlockIoEntry[] {
  const out: BlockIoEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+) (Read|Write|Sync|Async|Discard) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

/** v2 `io.stat`: "8:0 rbytes=4096 wbytes=0 rios=1 …" lines, as Docker reports them (op read / write). */
export function parseIoStat(text: string): BlockIoEntry[] {
  const out: BlockIoEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = new Map(m[3]!.split(' ').map((kv) => kv.split('=') as [string, string]));
    for (const [key, op] of [['rbytes', 'read'], ['wbytes', 'write']] as const) {
      const v = Number(fields.get(key));
      if (Number.isFinite(v)) out.push({ major: Number(m[1]), minor: Number(m[2]), op, value: v });
    }
  }
  return out;
}

/** `{ blockIo }` when the file was there, `{}` otherwise (spread into the stats). */
export function blockIoOf(text: string | undefined, parse: (t: string) => BlockIoEntry[]): { blockIo?: BlockIoEntry[] } {
  return text === undefined ? {} : { blockIo: parse(text) };
}
