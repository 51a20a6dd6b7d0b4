#!/usr/bin/env node
// CLI start-up (issue 16 item 2): the commands people type most, each timed as a whole process beside `node -e 0`
// in the same run, interleaved (one round of every command, then the next round), medians. Both entries:
// `bin/gantry` (what users run: node started from the CLI's start-up snapshot) and `bin/gantry.js` (the ES
// modules, what runs when there is no snapshot). Daemon warm, private (own root, socket, prefix).
//   node bench/cli.mjs [ROUNDS] [--against TREE]   (root; after `node scripts/build.mjs`)
// --against TREE: another built tree (e.g. a checkout of main) is timed in the same rounds, its bin/gantry against
// a daemon of its own (which has the small stack up too): before and after under the same load.
// Targets: run --rm <= node + 30 ms (both networks); ps, stack ps, a no-op up <= node + 20 ms; stack config of 100 services
// <= node + 40 ms.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateStack } from './stack.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

function once(file, args, env, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const took = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return took;
}

const againstArg = process.argv.indexOf('--against');

export async function run({ rounds = Number(process.argv[2] ?? 15), against = againstArg > 0 ? process.argv[againstArg + 1] : undefined } = {}) {
  const { TestDaemon } = await dist('test/helpers/daemon.js');
  const d = new TestDaemon('bench-cli');
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-cli-'));
  // the other tree's daemon, from its own build (its shim, spawner and engine)
  const other = against === undefined ? undefined : new (await import(pathToFileURL(join(against, 'dist', 'test', 'helpers', 'daemon.js')).href)).TestDaemon('bench-cli-against');
  try {
    await d.start();
    d.importBusybox();
    if (other !== undefined) { await other.start(); other.importBusybox(); }
    const env = d.env;
    const small = join(dir, 'small');
    const big = join(dir, 'big');
    for (const p of [small, big]) spawnSync('mkdir', ['-p', p]);
    writeFileSync(join(small, 'compose.yaml'), 'name: clibench\nservices:\n  web:\n    image: busybox\n    command: ["sleep", "3600"]\n  worker:\n    image: busybox\n    command: ["sleep", "3600"]\n    depends_on: [web]\n');
    writeFileSync(join(big, 'compose.yaml'), generateStack(100));
    d.ok(['up', '-d', '-f', join(small, 'compose.yaml')]);
    if (other !== undefined) other.ok(['up', '-d', '-f', join(small, 'compose.yaml')]);

    const entries = { snapshot: [join(root, 'bin', 'gantry')], modules: [process.execPath, join(root, 'bin', 'gantry.js')] };
    const commands = {
      'run --rm --network none busybox true': { args: ['run', '--rm', '--network', 'none', 'busybox', 'true'], target: 30 },
      // what users type: the default bridge network (a veth pair, an address, routes, at each start and exit)
      'run --rm busybox true': { args: ['run', '--rm', 'busybox', 'true'], target: 30 },
      ps: { args: ['ps'], target: 20 },
      'stack ps (2 services)': { args: ['stack', 'ps'], cwd: small, target: 20 },
      'up -d, nothing to do (2 services)': { args: ['up', '-d'], cwd: small, target: 20 },
      'stack config (100 services)': { args: ['stack', 'config'], cwd: big, target: 40 },
    };
    // Node reads NODE_EXTRA_CA_CERTS at start-up; bin/gantry's snapshot does not (no TLS in its commands). With the
    // variable set (this machine's environment sets Debian's whole bundle), both floors are printed.
    const bareEnv = { ...env };
    delete bareEnv.NODE_EXTRA_CA_CERTS;
    const extraCerts = env.NODE_EXTRA_CA_CERTS !== undefined;
    const times = { node: [], bare: [] };
    for (let r = 0; r < rounds + 1; r++) {
      const warm = r > 0; // the first round warms the page cache and the daemon
      const t = once(process.execPath, ['-e', '0'], env);
      if (warm) times.node.push(t);
      if (extraCerts) { const b = once(process.execPath, ['-e', '0'], bareEnv); if (warm) times.bare.push(b); }
      for (const [name, c] of Object.entries(commands)) {
        const againstRun = () => {
          if (other === undefined) return;
          const took = once(join(against, 'bin', 'gantry'), c.args, other.env, c.cwd ?? dir);
          if (warm) (times[`against: ${name}`] ??= []).push(took);
        };
        // every other round the other tree goes first: what runs right after a container's removal shares the
        // machine with the kernel's teardown of it (its netns, its veth)
        if (r % 2 === 1) againstRun();
        for (const [entry, [file, ...pre]] of Object.entries(entries)) {
          const took = once(file, [...pre, ...c.args], env, c.cwd ?? dir);
          if (warm) (times[`${entry}: ${name}`] ??= []).push(took);
        }
        if (r % 2 === 0) againstRun();
      }
    }
    d.ok(['down', '-f', join(small, 'compose.yaml')]);
    if (other !== undefined) other.ok(['down', '-f', join(small, 'compose.yaml')]);
    const node = median(times.node);
    const bare = extraCerts ? median(times.bare) : undefined;
    const results = [{ name: 'floor: node -e 0, median', value: node, unit: 'ms', note: extraCerts ? `NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS} in the environment` : '' }];
    if (bare !== undefined) results.push({ name: 'floor: node -e 0 without NODE_EXTRA_CA_CERTS, median', value: bare, unit: 'ms', note: 'what bin/gantry\'s snapshot starts like' });
    for (const [name, c] of Object.entries(commands)) {
      const snap = median(times[`snapshot: ${name}`]);
      const mods = median(times[`modules: ${name}`]);
      results.push(
        { name: `gantry ${name} (bin/gantry, snapshot), median`, value: snap, unit: 'ms', note: `node + ${(snap - node).toFixed(1)}${bare === undefined ? '' : ` (bare node + ${(snap - bare).toFixed(1)})`}; target node + ${c.target} = ${(node + c.target).toFixed(1)} ms` },
        { name: `gantry ${name} (bin/gantry.js, modules), median`, value: mods, unit: 'ms', note: `node + ${(mods - node).toFixed(1)}` },
      );
      const was = times[`against: ${name}`];
      if (was !== undefined) {
        const m = median(was);
        results.push({ name: `gantry ${name} (${against}/bin/gantry, snapshot), median`, value: m, unit: 'ms', note: `node + ${(m - node).toFixed(1)}${bare === undefined ? '' : ` (bare node + ${(m - bare).toFixed(1)})`}; this tree ${(snap - m >= 0 ? '+' : '')}${(snap - m).toFixed(1)}` });
      }
    }
    // other workers on the machine change every figure: the load they made is part of the result
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3);
    results.push({ name: 'load average at the end (1 min)', value: Number(load[0]), unit: '', note: `5 and 15 min: ${load[1]}, ${load[2]}` });
    return { name: 'cli', results };
  } finally {
    await d.dispose();
    await other?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { name, results } = await run();
  console.log(`\n## ${name}`);
  console.log('| measurement | value | note |');
  console.log('| --- | ---: | --- |');
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(1)} ${r.unit} | ${r.note ?? ''} |`);
}
