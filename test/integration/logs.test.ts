// Logs like Docker's json-file driver, through the CLI (root, real kernel): rotation by max-size/max-file,
// --tail from the end with bounded memory, follow across rotations, driver none, refused drivers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, openSync, readFileSync, readdirSync, statSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

interface Inspect { Id: string; LogPath: string; HostConfig: { LogConfig: { Type: string; Config: Record<string, string> } } }

/** A shell script for the container: `count` lines "line NNNNNN xxx…" (~100 bytes each), in batches of 1000. */
function printer(count: number, pauseBetweenBatches: string): string {
  const batches = Math.ceil(count / 1000);
  return `i=0; while [ $i -lt ${batches} ]; do awk -v b=$i 'BEGIN { p = sprintf("%0" 86 "d", 0); for (j = 0; j < 1000; j++) printf "line %06d %s\\n", b * 1000 + j + 1, p }'; `
    + `${pauseBetweenBatches ? `sleep ${pauseBetweenBatches}; ` : ''}i=$((i+1)); done`;
}

const lineNumber = (l: string): number => Number(/^line (\d{6}) 0{86}$/.exec(l)?.[1] ?? NaN);

/** The lines are one unbroken run of numbers ending at `last`. */
function assertRun(lines: string[], last: number, what: string): void {
  assert.ok(lines.length > 0, `${what}: no lines`);
  const first = lineNumber(lines[0]!);
  lines.forEach((l, i) => assert.equal(lineNumber(l), first + i, `${what}: line ${i} is ${JSON.stringify(l.slice(0, 40))}`));
  assert.equal(first + lines.length - 1, last, `${what}: ends at line ${last}`);
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

describe('logs like docker json-file', { skip }, () => {
  const d = new TestDaemon('logs');

  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(async () => { await d.dispose(); });

  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['inspect', ref])) as Inspect[])[0]!;
  const logFiles = (id: string): string[] => readdirSync(join(d.root, 'containers', id)).filter((f) => /^log(\.\d+)?$/.test(f)).sort();
  /** `gantry logs …` streamed (the output is larger than a sync spawn's buffer). */
  const logs = async (args: string[]): Promise<string[]> => {
    const r = await d.gantryAsync(['logs', ...args]).done;
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').slice(0, -1);
  };

  test('--log-opt max-size=1m --log-opt max-file=3: at most 3 files of at most 1 MB, the newest lines all there, in order', async () => {
    const id = d.ok(['run', '-d', '--name', 'rotating', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', printer(50_000, '')]).trim();
    assert.equal(d.ok(['wait', 'rotating']).trim(), '0');
    assert.deepEqual(inspect('rotating').HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } });
    assert.deepEqual(logFiles(id), ['log', 'log.1', 'log.2']);
    for (const f of logFiles(id)) {
      const size = statSync(join(d.root, 'containers', id, f)).size;
      assert.ok(size <= 1_000_000, `${f}: ${size} bytes`);
    }
    const all = await logs(['rotating']);
    assertRun(all, 50_000, 'logs');
    assert.ok(all.length > 10_000, `${all.length} lines kept (~3 MB of log)`);
    assert.deepEqual(await logs(['--tail', '10', 'rotating']), all.slice(-10));
    assert.deepEqual(await logs(['--tail', String(all.length - 5), 'rotating']), all.slice(5), 'a tail reaching into the oldest file');

    // A second run appends and keeps rotating from where the files are.
    d.ok(['start', 'rotating']);
    assert.equal(d.ok(['wait', 'rotating']).trim(), '0');
    assert.deepEqual(logFiles(id), ['log', 'log.1', 'log.2']);
    assertRun(await logs(['--tail', '1000', 'rotating']), 50_000, 'after a restart');

    d.ok(['rm', 'rotating']);
    assert.equal(existsSync(join(d.root, 'containers', id)), false, 'the container dir, rotated files included, is gone');
  });

  test('logs -f follows across rotations without losing or repeating a line', async () => {
    // ~4.5 MB through 500 kB files (9 rotations); the 1.5 MB kept is ~1.5 s of writing: a follower slowed by a loaded
    // machine still finds every line (as in Docker, what rotates away before a follower reads it is gone)
    d.ok(['run', '-d', '--name', 'streaming', '--log-opt', 'max-size=500k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', `sleep 0.5; ${printer(30_000, '0.15')}`]);
    const followed = await logs(['-f', 'streaming']);
    assertRun(followed, 30_000, 'logs -f');
    assert.equal(lineNumber(followed[0]!), 1, 'following from the start, the first line is there');
    d.ok(['rm', '-f', 'streaming']);
  });

  test('--log-driver none: no log file, attach still shows the output, `logs` is refused like docker', () => {
    const attached = d.gantry(['run', '--name', 'quiet', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2']);
    assert.equal(attached.status, 0, attached.stderr);
    assert.equal(attached.stdout, 'to-out\n');
    assert.equal(attached.stderr, 'to-err\n');
    const info = inspect('quiet');
    assert.deepEqual(info.HostConfig.LogConfig, { Type: 'none', Config: {} });
    assert.equal(info.LogPath, '');
    assert.deepEqual(logFiles(info.Id), []);
    const r = d.gantry(['logs', 'quiet']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /configured logging driver does not support reading/);
    d.ok(['rm', 'quiet']);
  });

  test('drivers other than json-file and none are refused before anything is made', () => {
    const r = d.gantry(['run', '--name', 'syslogged', '--log-driver', 'syslog', 'busybox', 'true']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /log driver "syslog" is not supported/);
    assert.match(r.stderr, /only the json-file \(default\) and none log drivers are supported/);
    const bad = d.gantry(['create', '--log-opt', 'max-size=huge', 'busybox', 'true']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /invalid max-size "huge"/);
    assert.equal(d.ok(['ps', '-aq']).trim(), '');
  });

  test('logs --tail 10 of a 100 MB log: the daemon\'s memory grows by far less than the file', async (t) => {
    const id = d.ok(['create', '--name', 'big', 'busybox', 'true']).trim();
    d.ok(['start', 'big']);
    assert.equal(d.ok(['wait', 'big']).trim(), '0');
    // 100 MB of json-file lines, as the shim writes them (written here: a container would take longer).
    const block: string[] = [];
    const path = join(d.root, 'containers', id, 'log');
    const fd = openSync(path, 'a');
    let n = 0;
    try {
      while (statSync(path).size < 100 * 1024 * 1024) {
        block.length = 0;
        for (let i = 0; i < 10_000; i++) {
          n++;
          block.push(`${JSON.stringify({ log: `line ${String(n).padStart(6, '0')} ${'0'.repeat(86)}\n`, stream: 'stdout', time: new Date(1_700_000_000_000 + n).toISOString() })}\n`);
        }
        writeSync(fd, block.join(''));
      }
    } finally {
      closeSync(fd);
    }
    const pid = Number(readFileSync(join(d.root, 'gantryd.pid'), 'utf8').trim());
    // "5" resets the peak RSS (VmHWM) to the current RSS, so the peak read after is this request's.
    writeClearRefs(pid);
    const rssBefore = statusKb(pid, 'VmRSS');
    const tail = await logs(['--tail', '10', 'big']);
    const peak = statusKb(pid, 'VmHWM');
    assert.deepEqual(tail.map(lineNumber), Array.from({ length: 10 }, (_, i) => n - 9 + i));
    const growthMb = (peak - rssBefore) / 1024;
    t.diagnostic(`daemon RSS ${(rssBefore / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB during logs --tail 10 of ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(growthMb < 50, `daemon peak RSS grew by ${growthMb.toFixed(1)} MiB (RSS before ${(rssBefore / 1024).toFixed(1)} MiB)`);
    d.ok(['rm', 'big']);
  });
});

/** proc(5): writing 5 to clear_refs resets the process's peak resident set size. */
function writeClearRefs(pid: number): void {
  const fd = openSync(`/proc/${pid}/clear_refs`, 'w');
  try { writeSync(fd, '5'); } finally { closeSync(fd); }
}
