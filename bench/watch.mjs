// Watch benchmark (root): latency from a file's write on the host to the new content being readable inside the
// container. A loop in the container (busybox sh, `read` builtin, 1 ms sleeps) polls the synced files and appends
// what it sees to a file on a bind mount; the bench polls that file from the host. Measured through a real
// `gantry watch` process: 100 single-file saves (one after the other) and 10 bursts of 200 files (complete = the
// last file of the burst has its new content; all 200 are checked afterwards). Quiet periods to compare are
// given by GANTRY_WATCH_QUIET_MS (default: the built-in one). docker compose watch waits 500 ms of quiet first.
//   node bench/watch.mjs [QUIET_MS...]        (after `node scripts/build.mjs`)
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SINGLES = 100;
const BURSTS = 10;
const BURST_FILES = 200;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const LOOP = `last=""; lb=""
while :; do
  read v < /app/s.txt 2>/dev/null
  if [ "$v" != "$last" ]; then last=$v; echo "s $v" >> /out/seen; fi
  read b < /app/b/f199 2>/dev/null
  if [ "$b" != "$lb" ]; then lb=$b; echo "b $b" >> /out/seen; fi
  usleep 1000
done`;

async function waitSeen(seenFile, line, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = existsSync(seenFile) ? readFileSync(seenFile, 'utf8') : '';
    if (text.includes(`${line}\n`)) return now();
    if (Date.now() > deadline) throw new Error(`not seen in the container: ${line}; seen: ${JSON.stringify(text.slice(-300))}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function measure(d, quietMs) {
  const proj = join(d.dir, `proj-${quietMs ?? 'default'}`);
  const out = join(proj, 'out');
  mkdirSync(join(proj, 'src', 'b'), { recursive: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(proj, 'src', 's.txt'), 'init\n');
  writeFileSync(join(proj, 'compose.yaml'), `name: benchwatch
services:
  app:
    image: busybox
    command: ["sh", "-c", ${JSON.stringify(LOOP.replaceAll("$", "$$$$"))}]
    volumes: ["./out:/out"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          initial_sync: true
`);
  d.extraEnv = quietMs === undefined ? {} : { GANTRY_WATCH_QUIET_MS: String(quietMs) };
  const w = d.gantryAsync(['stack', '-f', join(proj, 'compose.yaml'), 'watch', ...(process.env.BENCH_DEBUG ? [] : ['--quiet'])]);
  let log = '';
  w.proc.stdout.on('data', (b) => { log += b; });
  w.proc.stderr.on('data', (b) => { log += b; });
  const seen = join(out, 'seen');
  try {
    const t0 = Date.now();
    while (!log.includes('watching')) { if (Date.now() - t0 > 30_000) throw new Error(`watch did not start: ${log}`); await sleep(20); }
    await waitSeen(seen, 's init');
    const singles = [];
    for (let i = 0; i < SINGLES; i++) {
      const t = now();
      writeFileSync(join(proj, 'src', 's.txt'), `v${i}\n`);
      singles.push((await waitSeen(seen, `s v${i}`).catch((e) => { throw new Error(`${e.message}\nwatch said: ${log}`); })) - t);
    }
    const bursts = [];
    if (process.env.BENCH_DEBUG) console.log(log);
    for (let b = 0; b < BURSTS; b++) {
      const t = now();
      for (let f = 0; f < BURST_FILES; f++) writeFileSync(join(proj, 'src', 'b', `f${String(f).padStart(3, '0')}`), `burst${b}\n`);
      bursts.push((await waitSeen(seen, `b burst${b}`)) - t);
      await sleep(100);
    }
    const check = d.gantry(['stack', '-f', join(proj, 'compose.yaml'), 'exec', '-T', 'app', 'sh', '-c', 'cat /app/b/f* | sort | uniq -c']);
    const complete = check.stdout.trim() === `${BURST_FILES} burst${BURSTS - 1}`;
    return { singles, bursts, complete, check: check.stdout.trim() };
  } finally {
    w.proc.kill('SIGINT');
    await w.done;
    d.gantry(['stack', '-f', join(proj, 'compose.yaml'), 'down', '-t', '0', '--progress', 'quiet']);
  }
}

export async function run(quiets = [undefined]) {
  const { TestDaemon } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const d = new TestDaemon('bench-watch');
  const results = [];
  try {
    await d.start();
    d.importBusybox();
    for (const q of quiets) {
      const r = await measure(d, q);
      const label = `quiet ${q ?? 'default'} ms`;
      results.push(
        { name: `${label}: single save p50`, value: +pct(r.singles, 50).toFixed(1), unit: 'ms' },
        { name: `${label}: single save p95`, value: +pct(r.singles, 95).toFixed(1), unit: 'ms' },
        { name: `${label}: 200-file burst p50`, value: +pct(r.bursts, 50).toFixed(1), unit: 'ms' },
        { name: `${label}: 200-file burst p95`, value: +pct(r.bursts, 95).toFixed(1), unit: 'ms', note: r.complete ? 'all 200 files had the last content' : `INCOMPLETE: ${r.check}` },
      );
    }
  } finally {
    await d.dispose();
  }
  return { name: 'watch', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2).map(Number);
  const r = await run(args.length > 0 ? args : [undefined]);
  for (const x of r.results) console.log(`${x.name.padEnd(44)} ${String(x.value).padStart(8)} ${x.unit}${x.note ? `  (${x.note})` : ''}`);
  console.log('anchor: docker compose watch waits for 500 ms of quiet before it syncs (not installed here)');
}
