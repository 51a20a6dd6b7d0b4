// Log benchmarks: `logs --tail 10` of a 1 GB json-file log — time and peak memory — next to `tail -n 10` of the
// same file, and a whole streaming read next to `cat`. The reader runs in a child process, so the peak RSS is
// its own (node's floor is measured the same way). With root, the same request goes through a private daemon
// too: the daemon's peak RSS growth (reset with clear_refs, read from VmHWM).
//   node bench/logs.mjs            (after `node scripts/build.mjs`)
// `run()` returns { name, results: [{ name, value, unit, note? }] } and removes everything it made.
import { spawnSync } from 'node:child_process';
import { closeSync, linkSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readerUrl = pathToFileURL(join(root, 'dist', 'src', 'engine', 'logs', 'reader.js')).href;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A json-file log of `bytes`, as the shim writes it; the last 1000 lines are numbered so a tail can be checked. */
function makeLog(path, bytes) {
  const entry = (text, i) => `${JSON.stringify({ log: `${text}\n`, stream: i % 5 === 1 ? 'stderr' : 'stdout', time: new Date(1_700_000_000_000 + i).toISOString().replace('Z', '123456Z') })}\n`;
  let block = '';
  for (let i = 0; block.length < 1024 * 1024; i++) block += entry(`filler ${i} ${'x'.repeat(80)}`, i);
  const buf = Buffer.from(block);
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; written += buf.length) writeSync(fd, buf);
    let tail = '';
    for (let i = 1; i <= 1000; i++) tail += entry(`last ${i}`, i);
    writeSync(fd, tail);
  } finally {
    closeSync(fd);
  }
}

/** Runs the reader in a fresh node process: { ms, entries, maxRssKb }. tail undefined = everything; 'none' = import only. */
function readerChild(path, tail) {
  const script = `
    const { readLogs } = await import(${JSON.stringify(readerUrl)});
    const t0 = process.hrtime.bigint();
    let entries = 0, last = '';
    if (${JSON.stringify(tail)} !== 'none') {
      for await (const e of readLogs(${JSON.stringify(path)}, { stdout: true, stderr: true, follow: false, tail: ${tail === undefined || tail === 'none' ? 'undefined' : Number(tail)} }, () => false)) { entries++; last = e.text; }
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(JSON.stringify({ ms, entries, last, maxRssKb: process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`reader child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** { ms (wall, spawn included), maxRssKb (from GNU time) } of a command whose output is discarded. */
function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const plain = spawnSync(cmd, args, { stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (plain.status !== 0 || r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return { ms, maxRssKb: Number(r.stderr.trim().split('\n').pop()) };
}

function statusKb(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Through a private daemon: the CLI's wall time and the daemon's peak RSS growth for `logs --tail 10`. */
async function throughDaemon(logFile, runs) {
  const { TestDaemon, GANTRY_CMD } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const d = new TestDaemon('bench-logs');
  try {
    await d.start();
    d.importBusybox();
    const id = d.ok(['create', '--name', 'big', 'busybox', 'true']).trim();
    d.ok(['start', 'big']);
    d.ok(['wait', 'big']);
    const log = join(d.root, 'containers', id, 'log');
    unlinkSync(log);
    linkSync(logFile, log); // the same 1 GB file, without writing it twice
    const pid = Number(readFileSync(join(d.root, 'gantryd.pid'), 'utf8').trim());
    const times = [];
    const growth = [];
    for (let i = 0; i < runs + 1; i++) {
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      const before = statusKb(pid, 'VmRSS');
      const t0 = process.hrtime.bigint();
      const r = spawnSync(GANTRY_CMD, ['logs', '--tail', '10', 'big'], { env: d.env, encoding: 'utf8' });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0 || !r.stdout.endsWith('last 1000\n')) throw new Error(`gantry logs failed: ${r.stderr}`);
      if (i > 0) { times.push(ms); growth.push(statusKb(pid, 'VmHWM') - before); }
    }
    const cliFloor = median(Array.from({ length: runs }, () => {
      const t0 = process.hrtime.bigint();
      spawnSync(GANTRY_CMD, ['ps', '-aq'], { env: d.env });
      return Number(process.hrtime.bigint() - t0) / 1e6;
    }));
    unlinkSync(log);
    return { ms: median(times), growthKb: Math.max(...growth), cliFloor, rss: statusKb(pid, 'VmRSS') };
  } finally {
    await d.dispose();
  }
}

export async function run({ sizeBytes = 1024 ** 3, runs = 5 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-logs-'));
  const results = [];
  try {
    const path = join(dir, 'log');
    makeLog(path, sizeBytes);
    const size = statSync(path).size;
    const gib = `${(size / 1024 ** 3).toFixed(2)} GiB`;
    readerChild(path, 10); // warm the page cache for the end of the file
    const tails = Array.from({ length: runs }, () => readerChild(path, 10));
    if (tails[0].entries !== 10 || tails[0].last !== 'last 1000\n') throw new Error(`wrong tail: ${JSON.stringify(tails[0])}`);
    const floor = median(Array.from({ length: runs }, () => readerChild(path, 'none').maxRssKb));
    const tailCmd = Array.from({ length: runs }, () => timed('tail', ['-n', '10', path]));
    const full = readerChild(path, undefined);
    const cat = timed('cat', [path]);
    results.push(
      { name: `reader: logs --tail 10 of a ${gib} log, median`, value: median(tails.map((t) => t.ms)), unit: 'ms', note: 'the reader alone, in its own process' },
      { name: 'baseline: tail -n 10 of the same file, median', value: median(tailCmd.map((t) => t.ms)), unit: 'ms', note: 'wall time, process start included' },
      { name: 'reader: peak RSS of the process doing --tail 10', value: median(tails.map((t) => t.maxRssKb)) / 1024, unit: 'MiB', note: 'issue 8 target < 50 MiB; before: 735 MB for a 271 MB log' },
      { name: 'floor: peak RSS of node importing the reader, reading nothing', value: floor / 1024, unit: 'MiB' },
      { name: 'baseline: peak RSS of tail -n 10', value: median(tailCmd.map((t) => t.maxRssKb)) / 1024, unit: 'MiB' },
      { name: `reader: whole log streamed (${full.entries} entries)`, value: full.ms, unit: 'ms', note: `peak RSS ${(full.maxRssKb / 1024).toFixed(1)} MiB` },
      { name: 'baseline: cat of the same file to /dev/null', value: cat.ms, unit: 'ms', note: 'no parsing: a floor, not a target' },
    );
    if (process.getuid?.() === 0) {
      const viaDaemon = await throughDaemon(path, runs);
      results.push(
        { name: 'gantry logs --tail 10 through the daemon (whole CLI), median', value: viaDaemon.ms, unit: 'ms', note: `floor: gantry ps -aq ${viaDaemon.cliFloor.toFixed(1)} ms; before: 1.1 s for a 271 MB log` },
        { name: 'daemon peak RSS growth during logs --tail 10, max', value: viaDaemon.growthKb / 1024, unit: 'MiB', note: `daemon RSS ${(viaDaemon.rss / 1024).toFixed(1)} MiB` },
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'logs', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { name, results } = await run();
  console.log(`\n## ${name}`);
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(r.unit === 'MiB' ? 3 : 1)} ${r.unit} | ${r.note ?? ''} |`);
}
