// Stack benchmark (root): a 10-service busybox stack on one network, through whole CLI processes like a user
// runs them: `up -d` until all run, a no-op `up -d`, and `down -t 0`; medians, next to `node -e 0`.
//   node bench/stack-up.mjs            (after `node scripts/build.mjs`)
// `run()` returns { name, results: [{ name, value, unit, note? }] } and removes everything it made.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 5;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function stackYaml(n) {
  const lines = ['name: benchstack', 'services:'];
  for (let i = 1; i <= n; i++) lines.push(`  s${i}:`, '    image: busybox', '    command: ["sleep", "100000"]', '    stop_signal: SIGKILL');
  return `${lines.join('\n')}\n`;
}

export async function run() {
  const { TestDaemon } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const d = new TestDaemon('bench-stack');
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-stack-'));
  const file = join(dir, 'compose.yaml');
  writeFileSync(file, stackYaml(10));
  const time = (args) => {
    const t0 = process.hrtime.bigint();
    const r = d.gantry(args);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) { failures += 1; lastError = r.stderr.trim().split('\n')[0]; }
    return ms;
  };
  let failures = 0;
  let lastError = '';
  const node = [];
  const up = [];
  const noop = [];
  const down = [];
  try {
    await d.start();
    d.importBusybox();
    time(['up', '-f', file, '-d', '--progress', 'quiet']);
    time(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      node.push(Number(process.hrtime.bigint() - t0) / 1e6);
      up.push(time(['up', '-f', file, '-d', '--progress', 'quiet']));
      noop.push(time(['up', '-f', file, '-d', '--progress', 'quiet']));
      down.push(time(['down', '-f', file, '-t', '0', '--progress', 'quiet']));
    }
  } finally {
    await d.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const base = median(node);
  return {
    name: 'stack-up (10 busybox services, one network, whole CLI processes)',
    results: [
      { name: 'node -e 0 (baseline)', value: base, unit: 'ms' },
      { name: 'up -d (all running)', value: median(up), unit: 'ms', note: 'target ≤ 300 ms' },
      { name: 'up -d, unchanged (no-op)', value: median(noop), unit: 'ms', note: `target ≤ node + 75 = ${(base + 75).toFixed(0)} ms` },
      { name: 'down -t 0', value: median(down), unit: 'ms', note: 'target ≤ 200 ms' },
      { name: 'failed CLI runs', value: failures, unit: '', note: lastError },
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit}${r.note ? `  (${r.note})` : ''}`);
}
