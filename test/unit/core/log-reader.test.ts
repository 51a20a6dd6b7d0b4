import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logSize, readLogs, type LogEntry, type LogReadOptions } from '../../../src/engine/logs/reader.js';
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
