// The docker CLI against gantryd (root): `docker run --rm busybox true` next to `gantry run --rm busybox true`,
// same private daemon, interleaved, ROUNDS each; medians. The daemon's work is the same; the clients differ (a Go
// binary vs Node's start-up, measured here as `node -e 0`).
//   node bench/docker-cli.mjs          (after `node scripts/build.mjs`)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 20;
const DOCKER = '/usr/local/bin/docker';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export async function run() {
  if (!existsSync(DOCKER)) return { name: 'docker-cli', results: [{ name: 'skipped', value: 0, unit: '', note: `${DOCKER} is missing` }] };
  const { TestDaemon } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const { clientEnv } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'clients.js')).href);
  const d = new TestDaemon('bench-dockercli');
  const results = [];
  try {
    await d.start();
    d.importBusybox();
    const env = clientEnv(d);
    const dockerRun = () => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(DOCKER, ['run', '--rm', 'busybox', 'true'], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
      return ms(t0);
    };
    const gantryRun = () => { const t0 = process.hrtime.bigint(); d.ok(['run', '--rm', 'busybox', 'true']); return ms(t0); };
    dockerRun(); gantryRun(); // warm both paths once
    const docker = []; const gantry = [];
    for (let i = 0; i < ROUNDS; i++) { docker.push(dockerRun()); gantry.push(gantryRun()); }
    const nodeStart = [];
    for (let i = 0; i < ROUNDS; i++) { const t0 = process.hrtime.bigint(); spawnSync(process.execPath, ['-e', '0']); nodeStart.push(ms(t0)); }
    const version = spawnSync(DOCKER, ['version', '--format', '{{.Client.Version}}'], { env, encoding: 'utf8' }).stdout.trim();
    results.push({ name: 'docker run --rm busybox true (docker CLI → gantryd)', value: median(docker), unit: 'ms', note: `docker CLI ${version}, median of ${ROUNDS}, interleaved` });
    results.push({ name: 'gantry run --rm busybox true', value: median(gantry), unit: 'ms', note: `same daemon, median of ${ROUNDS}; docker/gantry ${(median(docker) / median(gantry)).toFixed(2)}` });
    results.push({ name: 'node -e 0', value: median(nodeStart), unit: 'ms', note: 'the floor of any Node CLI' });
  } finally {
    await d.dispose();
  }
  return { name: 'docker-cli', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${Number(r.value).toFixed(1)} ${r.unit} ${r.note ?? ''}`);
}
