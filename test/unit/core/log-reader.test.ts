import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { appendFileSync, existsSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  logSize, MAX_LINE_BYTES, nodeLogFileSystem, READ_CHUNK_BYTES, readLogs, type LogEntry, type LogFileSystem, type LogReadOptions,
} from '../../../src/engine/logs/reader.js';
import { removeDir, tempDir } from './helpers.js';

/** One json-file line as the shim writes it. */
const line = (text: string, stream: 'stdout' | 'stderr', time: string): string =>
  `${JSON.stringify({ log: `${text}\n`, stream, time })}\n`;

const T = (s: number): string => `2024-05-01T10:00:${String(s).padStart(2, '0')}.123456789Z`;

const ALL: LogReadOptions = { stdout: true, stderr: true, follow: false };

async function collect(path: string, opts: Partial<LogReadOptions> = {}, stillRunning = (): boolean => false): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogs(path, { ...ALL, ...opts }, stillRunning)) out.push(`${e.stream}:${e.text.trimEnd()}`);
  return out;
}

/** Polls until `check` passes, instead of a fixed sleep. */
async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('readLogs', () => {
  let dir = '';
  let log = '';
  beforeEach(() => {
    dir = tempDir();
    log = join(dir, 'container-json.log');
    writeFileSync(log, line('one', 'stdout', T(1)) + line('two', 'stderr', T(2)) + line('three', 'stdout', T(3))
      + line('four', 'stderr', T(4)) + line('five', 'stdout', T(5)));
  });
  afterEach(() => removeDir(dir));

  test('all entries in order, with stream, text (newline kept) and time', async () => {
    const entries: LogEntry[] = [];
    for await (const e of readLogs(log, ALL, () => false)) entries.push(e);
    assert.equal(entries.length, 5);
    assert.deepEqual(entries[0], { stream: 'stdout', text: 'one\n', time: T(1) });
    assert.deepEqual(entries.map((e) => e.text), ['one\n', 'two\n', 'three\n', 'four\n', 'five\n']);
  });

  test('stdout only / stderr only / neither', async () => {
    assert.deepEqual(await collect(log, { stderr: false }), ['stdout:one', 'stdout:three', 'stdout:five']);
    assert.deepEqual(await collect(log, { stdout: false }), ['stderr:two', 'stderr:four']);
    assert.deepEqual(await collect(log, { stdout: false, stderr: false }), []);
  });

  test('tail: the last N entries; 0 gives none; more than there are gives all', async () => {
    assert.deepEqual(await collect(log, { tail: 2 }), ['stderr:four', 'stdout:five']);
    assert.deepEqual(await collect(log, { tail: 0 }), []);
    assert.deepEqual((await collect(log, { tail: 100 })).length, 5);
  });

  test('tail counts the entries of the selected stream', async () => {
    assert.deepEqual(await collect(log, { tail: 2, stderr: false }), ['stdout:three', 'stdout:five']);
  });

  test('since: entries at or after the time (nanosecond timestamps)', async () => {
    const since = Date.parse('2024-05-01T10:00:03.000Z');
    assert.deepEqual(await collect(log, { sinceMs: since }), ['stdout:three', 'stderr:four', 'stdout:five']);
    assert.deepEqual(await collect(log, { sinceMs: Date.parse('2030-01-01T00:00:00Z') }), []);
  });

  test('since and tail combine: tail of what is after since', async () => {
    assert.deepEqual(await collect(log, { sinceMs: Date.parse('2024-05-01T10:00:02Z'), tail: 1 }), ['stdout:five']);
  });

  test('a missing log file gives no entries (container never started)', async () => {
    assert.deepEqual(await collect(join(dir, 'none.log')), []);
    assert.equal(await logSize(join(dir, 'none.log')), 0);
  });

  test('output without a trailing newline and unicode text survive', async () => {
    writeFileSync(log, `${JSON.stringify({ log: 'prompt> ', stream: 'stdout', time: T(1) })}\n${line('héllo ✓', 'stdout', T(2))}`);
    const entries: LogEntry[] = [];
    for await (const e of readLogs(log, ALL, () => false)) entries.push(e);
    assert.deepEqual(entries.map((e) => e.text), ['prompt> ', 'héllo ✓\n']);
  });

  test('a torn last line (the shim is mid-write) is not emitted', async () => {
    const whole = line('six', 'stdout', T(6));
    appendFileSync(log, whole.slice(0, 20));
    const got = await collect(log);
    assert.deepEqual(got.slice(-1), ['stdout:five']);
    assert.equal(got.length, 5);
  });

  test('follow: lines appended later are yielded, a torn line once it is complete, and it ends when the container stops', async () => {
    let running = true;
    const got: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(log, { ...ALL, tail: 1, follow: true }, () => running)) got.push(e.text.trimEnd());
    })();
    await eventually(() => got.length === 1, 'the tail');
    assert.deepEqual(got, ['five']);

    appendFileSync(log, line('six', 'stdout', T(6)));
    await eventually(() => got.length === 2, 'an appended line');

    const seven = line('seven', 'stderr', T(7));
    appendFileSync(log, seven.slice(0, 15));
    await sleep(400); // more than one poll round: the half line must not come out
    assert.deepEqual(got, ['five', 'six']);
    appendFileSync(log, seven.slice(15));
    await eventually(() => got.length === 3, 'the completed line');
    assert.deepEqual(got, ['five', 'six', 'seven']);

    // The last output written before the exit is still drained.
    appendFileSync(log, line('last words', 'stdout', T(8)));
    running = false;
    await done;
    assert.deepEqual(got, ['five', 'six', 'seven', 'last words']);
  });

  test('follow on a stopped container returns at once after the existing entries', async () => {
    const started = Date.now();
    assert.equal((await collect(log, { follow: true }, () => false)).length, 5);
    assert.ok(Date.now() - started < 1000);
  });

  test('follow ends when the signal aborts, even while the container runs', async () => {
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(log, { ...ALL, follow: true }, () => true, ac.signal)) got.push(e.text);
    })();
    await eventually(() => got.length === 5, 'the existing entries');
    ac.abort();
    await done;
    assert.equal(got.length, 5);
  });

  test('a long follow does not pile up abort listeners on the signal (one per poll round would leak)', async () => {
    const ac = new AbortController();
    let n = 0;
    const done = (async () => {
      for await (const _ of readLogs(log, { ...ALL, follow: true }, () => true, ac.signal)) n++;
    })();
    let listeners = 0;
    try {
      await eventually(() => n === 5, 'the existing entries');
      for (let i = 0; i < 30; i++) {
        appendFileSync(log, line(`l${i}`, 'stdout', T(10)));
        await eventually(() => n === 5 + i + 1, `line ${i}`);
      }
      listeners = getEventListeners(ac.signal, 'abort').length;
    } finally {
      ac.abort();
      await done;
    }
    assert.ok(listeners <= 2, `${listeners} abort listeners registered after 30 rounds`);
  });
});

/** The shim's rotation, done by hand: log.(n-2) → log.(n-1) … log → log.1, then a new empty log. */
function rotate(log: string, maxFiles: number, createNew = true): void {
  for (let i = maxFiles - 1; i >= 1; i--) {
    const from = i === 1 ? log : `${log}.${i - 1}`;
    if (existsSync(from)) renameSync(from, `${log}.${i}`);
  }
  if (createNew) writeFileSync(log, '');
}

const lines = (from: number, to: number): string => {
  let s = '';
  for (let i = from; i <= to; i++) s += line(`line ${i}`, i % 3 === 0 ? 'stderr' : 'stdout', T(i % 60));
  return s;
};

const texts = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);

/** The real file system, counting what the reader reads (and the largest single read). */
function countingFs(): { fs: LogFileSystem; bytes: () => number; largestRead: () => number } {
  let bytes = 0;
  let largest = 0;
  return {
    fs: {
      async open(path) {
        const h = await nodeLogFileSystem.open(path);
        if (!h) return undefined;
        return { ...h, read: async (buf, position) => {
          largest = Math.max(largest, buf.length);
          const n = await h.read(buf, position);
          bytes += n;
          return n;
        } };
      },
    },
    bytes: () => bytes,
    largestRead: () => largest,
  };
}

async function collectWith(path: string, opts: Partial<LogReadOptions>, fs: LogFileSystem): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogs(path, { ...ALL, ...opts }, () => false, undefined, fs)) out.push(e.text.trimEnd());
  return out;
}

describe('readLogs over rotated files (log, log.1, log.2 …)', () => {
  let dir = '';
  let log = '';
  beforeEach(() => {
    dir = tempDir();
    log = join(dir, 'log');
    writeFileSync(`${log}.2`, lines(1, 3));
    writeFileSync(`${log}.1`, lines(4, 6));
    writeFileSync(log, lines(7, 8));
  });
  afterEach(() => removeDir(dir));

  test('without --tail: every file, oldest first', async () => {
    assert.deepEqual((await collect(log)).map((l) => l.split(':')[1]), texts(1, 8));
  });

  test('--tail N reaches into older files when the newest has fewer than N lines', async () => {
    assert.deepEqual((await collect(log, { tail: 4 })).map((l) => l.split(':')[1]), texts(5, 8));
    assert.deepEqual((await collect(log, { tail: 2 })).map((l) => l.split(':')[1]), texts(7, 8));
    assert.deepEqual((await collect(log, { tail: 100 })).map((l) => l.split(':')[1]), texts(1, 8));
  });

  test('--tail with a stream filter counts the kept entries across files', async () => {
    assert.deepEqual((await collect(log, { tail: 2, stdout: false })).map((l) => l.split(':')[1]), ['line 3', 'line 6']);
  });

  test('a partial last line in the newest file is not an entry; --tail gives the complete ones before it', async () => {
    appendFileSync(log, line('torn', 'stdout', T(9)).slice(0, 25));
    assert.deepEqual((await collect(log, { tail: 2 })).map((l) => l.split(':')[1]), texts(7, 8));
    assert.deepEqual((await collect(log)).length, 8);
  });

  test('the newest file missing for a moment (the shim between rename and create): the rotated ones are read', async () => {
    rotate(log, 4, false);
    assert.deepEqual((await collect(log, { tail: 3 })).map((l) => l.split(':')[1]), texts(6, 8));
  });

  test('a line longer than the reader will buffer is skipped, its neighbours kept (tail and full read)', async () => {
    const huge = `${JSON.stringify({ log: `${'x'.repeat(MAX_LINE_BYTES + 10)}\n`, stream: 'stdout', time: T(9) })}\n`;
    appendFileSync(log, huge + lines(10, 10));
    const short = (l: string): string => (l.length > 100 ? `a line of ${l.length} chars` : l.split(':')[1]!);
    assert.deepEqual((await collect(log, { tail: 2 })).map(short), ['line 8', 'line 10']);
    assert.deepEqual((await collect(log)).map(short), [...texts(1, 8), 'line 10']);
  });
});

describe('readLogs: bounded reads', () => {
  let dir = '';
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => removeDir(dir));

  // A tail reads backwards from the end to find where its entries start, then forward from there to stream them:
  // the last chunk once more than strictly needed, and nothing that grows with the file.
  test('--tail 10 of a 200 000-line log reads a few chunks from the end, not the file', async () => {
    const log = join(dir, 'log');
    writeFileSync(log, lines(1, 200_000));
    const size = statSync(log).size;
    const c = countingFs();
    const got = await collectWith(log, { tail: 10 }, c.fs);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `line ${199_991 + i}`));
    assert.ok(c.bytes() <= 3 * READ_CHUNK_BYTES, `read ${c.bytes()} of ${size} bytes`);
  });

  test('a large --tail streams its entries (found backwards, read forwards in chunks), in order', async () => {
    const log = join(dir, 'log');
    writeFileSync(`${log}.1`, lines(1, 100_000));
    writeFileSync(log, lines(100_001, 200_000));
    const c = countingFs();
    const got = await collectWith(log, { tail: 150_000 }, c.fs);
    assert.equal(got.length, 150_000);
    assert.equal(got[0], 'line 50001');
    assert.equal(got[149_999], 'line 200000');
    assert.ok(c.largestRead() <= READ_CHUNK_BYTES, `largest read ${c.largestRead()}`);
  });

  test('--tail of a 16 GiB (sparse) log reads only its end', async () => {
    const log = join(dir, 'log');
    writeFileSync(log, '');
    truncateSync(log, 16 * 1024 ** 3);
    appendFileSync(log, `\n${lines(1, 5)}`);
    const c = countingFs();
    assert.deepEqual(await collectWith(log, { tail: 3 }, c.fs), ['line 3', 'line 4', 'line 5']);
    assert.ok(c.bytes() <= 3 * READ_CHUNK_BYTES, `read ${c.bytes()} bytes`);
  });

  test('--tail into rotated files reads only what it needs from the older file', async () => {
    const log = join(dir, 'log');
    writeFileSync(`${log}.1`, lines(1, 100_000));
    writeFileSync(log, lines(100_001, 100_003));
    const c = countingFs();
    assert.deepEqual(await collectWith(log, { tail: 5 }, c.fs), ['line 99999', 'line 100000', 'line 100001', 'line 100002', 'line 100003']);
    assert.ok(c.bytes() <= 2 * READ_CHUNK_BYTES, `read ${c.bytes()} of ${statSync(`${log}.1`).size + statSync(log).size} bytes`);
  });

  test('a full read streams in fixed-size chunks: no read is larger than a chunk', async () => {
    const log = join(dir, 'log');
    writeFileSync(`${log}.1`, lines(1, 50_000));
    writeFileSync(log, lines(50_001, 100_000));
    const c = countingFs();
    const got = await collectWith(log, {}, c.fs);
    assert.equal(got.length, 100_000);
    assert.equal(got[0], 'line 1');
    assert.equal(got[99_999], 'line 100000');
    assert.ok(c.largestRead() <= READ_CHUNK_BYTES, `largest read ${c.largestRead()}`);
  });
});

describe('readLogs --follow across rotations', () => {
  let dir = '';
  let log = '';
  beforeEach(() => {
    dir = tempDir();
    log = join(dir, 'log');
    writeFileSync(log, lines(1, 2));
  });
  afterEach(() => removeDir(dir));

  async function following(opts: Partial<LogReadOptions>, body: (got: string[]) => Promise<void>): Promise<string[]> {
    let running = true;
    const got: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(log, { ...ALL, follow: true, ...opts }, () => running)) got.push(e.text.trimEnd());
    })();
    try {
      await body(got);
    } finally {
      running = false;
      await done;
    }
    return got;
  }

  test('lines written before and after a rotation all arrive, once, in order', async () => {
    const got = await following({}, async (got) => {
      await eventually(() => got.length === 2, 'the existing lines');
      appendFileSync(log, lines(3, 4));
      rotate(log, 3);
      appendFileSync(log, lines(5, 6));
      await eventually(() => got.length === 6, 'the lines after the rotation');
    });
    assert.deepEqual(got, texts(1, 6));
  });

  test('several rotations between two polls lose nothing (the files in between are read)', async () => {
    const got = await following({ tail: 1 }, async (got) => {
      await eventually(() => got.length === 1, 'the tail');
      for (let r = 0; r < 2; r++) {
        appendFileSync(log, lines(3 + r * 2, 4 + r * 2));
        rotate(log, 4);
      }
      appendFileSync(log, lines(7, 8));
      await eventually(() => got.length === 7, 'every line');
    });
    assert.deepEqual(got, texts(2, 8));
  });

  test('a file dropped as the oldest while held: its rest and every newer file are read', async () => {
    const got = await following({}, async (got) => {
      await eventually(() => got.length === 2, 'the existing lines');
      appendFileSync(log, lines(3, 3));
      rotate(log, 2); // held file is now log.1
      appendFileSync(log, lines(4, 4));
      rotate(log, 2); // held file dropped
      appendFileSync(log, lines(5, 5));
      await eventually(() => got.length === 5, 'every line');
    });
    assert.deepEqual(got, texts(1, 5));
  });

  test('a log emptied in place (max-file=1) is read again from its start', async () => {
    const got = await following({}, async (got) => {
      await eventually(() => got.length === 2, 'the existing lines');
      truncateSync(log, 0);
      appendFileSync(log, lines(3, 3));
      await eventually(() => got.length === 3, 'the line after the truncation');
    });
    assert.deepEqual(got, texts(1, 3));
  });

  test('no log yet when following starts: it is read once the shim creates it', async () => {
    rmSync(log);
    const got = await following({}, async (got) => {
      await sleep(50);
      writeFileSync(log, lines(1, 2));
      await eventually(() => got.length === 2, 'the new log');
    });
    assert.deepEqual(got, texts(1, 2));
  });
});
