// Build benchmarks (root): the 6-step Dockerfile of test/integration/build.test.ts (FROM busybox, RUN, COPY, ENV,
// WORKDIR, CMD) built cold, rebuilt fully cached, and rebuilt after one changed source file, each the median
// of 5 `gantry build` runs, beside `node -e 0` (Node's start-up: the floor of any CLI command) and a bare
// `gantry run --rm busybox true` (what one container costs: the cold build's RUN step; the changed-file rebuild
// reruns COPY onward and starts no container). Beside it, the same three builds by Debian's docker.io engine
// (classic builder, DOCKER_BUILDKIT=0) in a private dockerd that changes nothing of the host (bench/lib), and by
// BuildKit through Debian's own docker CLI 20.10 (/usr/bin/docker, which drives dockerd's built-in BuildKit without
// the buildx plugin that docker CLI 28 needs).
//   node bench/build.mjs            (after `node scripts/build.mjs`)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withDockerEngine } from './lib/docker-engine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const RUNS = 5;

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24, encoding: 'utf8' });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { t, out: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const DOCKERFILE = 'FROM busybox\nRUN echo built > /built.txt\nCOPY app.sh /app/app.sh\nENV GREETING=hello\nWORKDIR /app\nCMD ["sh", "app.sh"]\n';

export async function run() {
  const { TestDaemon, GANTRY_CMD } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const d = new TestDaemon('bench-build');
  const ctx = mkdtempSync(join(tmpdir(), 'gantry-bench-build-'));
  const results = [];
  try {
    await d.start();
    d.importBusybox();
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(ctx, 'app.sh'), 'echo "$GREETING"\n');
    // bin/gantry, the command users run (the CLI's start-up snapshot)
    const g = (...args) => timed(GANTRY_CMD, args, d.env);
    const node = median(Array.from({ length: RUNS }, () => timed(process.execPath, ['-e', '0']).t));
    results.push({ name: 'baseline: node -e 0', value: node, unit: 'ms' });
    results.push({ name: 'baseline: gantry run --rm busybox true', value: median(Array.from({ length: RUNS }, () => g('run', '--rm', 'busybox', 'true').t)), unit: 'ms' });
    const cold = [];
    for (let i = 0; i < RUNS; i++) cold.push(g('build', '--no-cache', '-t', 'bench:cold', ctx).t);
    results.push({ name: 'cold build (--no-cache), 6 steps, 1 RUN', value: median(cold), unit: 'ms' });
    const cached = [];
    for (let i = 0; i < RUNS; i++) {
      const r = g('build', '-t', 'bench:cached', ctx);
      if (/Running in/.test(r.out)) throw new Error(`a cached rebuild ran a step:\n${r.out}`);
      cached.push(r.t);
    }
    results.push({ name: 'fully cached rebuild', value: median(cached), unit: 'ms', note: `${(median(cached) - node).toFixed(0)} ms over node -e 0` });
    const changed = [];
    for (let i = 0; i < RUNS; i++) {
      writeFileSync(join(ctx, 'app.sh'), `echo "$GREETING ${i}"\n`);
      const r = g('build', '-t', 'bench:changed', ctx);
      if (/Running in/.test(r.out)) throw new Error(`a changed COPY source reran the RUN before it:\n${r.out}`);
      changed.push(r.t);
    }
    results.push({ name: 'rebuild after one changed source file (COPY, ENV, WORKDIR, CMD rerun)', value: median(changed), unit: 'ms', note: `${(median(changed) - median(cached)).toFixed(0)} ms over the cached rebuild` });
    writeFileSync(join(ctx, 'app.sh'), 'echo "$GREETING"\n');
    const docker = await withDockerEngine(async (env, version) => {
      const denv = { ...env, DOCKER_BUILDKIT: '0' };
      const dk = (...args) => timed('docker', args, denv);
      dk('import', join(root, '.fixtures', 'busybox.tar'), 'busybox');
      const coldD = []; const cachedD = []; const changedD = [];
      for (let i = 0; i < RUNS; i++) coldD.push(dk('build', '--no-cache', '-t', 'bench:cold', ctx).t);
      for (let i = 0; i < RUNS; i++) cachedD.push(dk('build', '-t', 'bench:cached', ctx).t);
      for (let i = 0; i < RUNS; i++) {
        writeFileSync(join(ctx, 'app.sh'), `echo "$GREETING docker ${i}"\n`);
        changedD.push(dk('build', '-t', 'bench:changed', ctx).t);
      }
      // BuildKit: the 20.10 client talks to dockerd's own BuildKit (session over the API) without buildx
      let buildkit;
      const cli20 = '/usr/bin/docker';
      if (spawnSync(cli20, ['--version'], { encoding: 'utf8' }).stdout.includes(' 20.10')) {
        // the private dockerd has no bridge (bench/lib): RUN without a network, as gantry build's default
        const bk = (verb, ...args) => timed(cli20, [verb, '--network', 'none', ...args], { ...env, DOCKER_BUILDKIT: '1' });
        const coldB = []; const cachedB = []; const changedB = [];
        writeFileSync(join(ctx, 'app.sh'), 'echo "$GREETING"\n');
        for (let i = 0; i < RUNS; i++) coldB.push(bk('build', '--no-cache', '-t', 'bench:bk-cold', ctx).t);
        for (let i = 0; i < RUNS; i++) cachedB.push(bk('build', '-t', 'bench:bk-cached', ctx).t);
        for (let i = 0; i < RUNS; i++) {
          writeFileSync(join(ctx, 'app.sh'), `echo "$GREETING buildkit ${i}"\n`);
          changedB.push(bk('build', '-t', 'bench:bk-changed', ctx).t);
        }
        // The fully cached rebuild again, gantry and BuildKit one after the other in each round (and node -e 0), so
        // that a change of the machine's load meanwhile weighs on both alike.
        writeFileSync(join(ctx, 'app.sh'), 'echo "$GREETING"\n');
        g('build', '-t', 'bench:cached', ctx);
        g('build', '-t', 'bench:cached', ctx);
        bk('build', '-t', 'bench:bk-cached', ctx);
        const rounds = { gantry: [], buildkit: [], node: [] };
        for (let i = 0; i < 3 * RUNS; i++) {
          rounds.gantry.push(g('build', '-t', 'bench:cached', ctx).t);
          rounds.buildkit.push(bk('build', '-t', 'bench:bk-cached', ctx).t);
          rounds.node.push(timed(process.execPath, ['-e', '0']).t);
        }
        buildkit = { cold: median(coldB), cached: median(cachedB), changed: median(changedB),
          interleaved: { gantry: median(rounds.gantry), buildkit: median(rounds.buildkit), node: median(rounds.node), n: rounds.node.length } };
      }
      return { version, cold: median(coldD), cached: median(cachedD), changed: median(changedD), buildkit };
    });
    if (docker === undefined) results.push({ name: 'docker build', value: 0, unit: '', note: 'dockerd or the docker CLI is not installed: not measured' });
    else {
      const vs = (g, dk) => `gantry ${(dk / g).toFixed(2)}x faster`;
      results.push({ name: `docker build (classic builder, dockerd ${docker.version}), cold`, value: docker.cold, unit: 'ms', note: vs(median(cold), docker.cold) });
      results.push({ name: 'docker build, fully cached', value: docker.cached, unit: 'ms', note: vs(median(cached), docker.cached) });
      results.push({ name: 'docker build, one changed source file', value: docker.changed, unit: 'ms', note: vs(median(changed), docker.changed) });
      if (docker.buildkit === undefined) results.push({ name: 'docker build (BuildKit)', value: 0, unit: '', note: 'no docker CLI 20.10 at /usr/bin/docker: not measured' });
      else {
        results.push({ name: 'docker build (BuildKit, docker CLI 20.10), cold', value: docker.buildkit.cold, unit: 'ms', note: vs(median(cold), docker.buildkit.cold) });
        results.push({ name: 'docker build (BuildKit), fully cached', value: docker.buildkit.cached, unit: 'ms', note: vs(median(cached), docker.buildkit.cached) });
        results.push({ name: 'docker build (BuildKit), one changed source file', value: docker.buildkit.changed, unit: 'ms', note: vs(median(changed), docker.buildkit.changed) });
        const il = docker.buildkit.interleaved;
        results.push({ name: `fully cached rebuild, interleaved with BuildKit's (${il.n} rounds): gantry`, value: il.gantry, unit: 'ms', note: `${vs(il.gantry, il.buildkit)}; node -e 0 ${il.node.toFixed(1)} ms in the same rounds` });
        results.push({ name: `fully cached rebuild, interleaved: BuildKit`, value: il.buildkit, unit: 'ms' });
      }
    }
  } finally {
    await d.dispose();
    rmSync(ctx, { recursive: true, force: true });
  }
  return { name: 'build (6-step Dockerfile, median of 5)', results };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
