// Engine benchmarks (root): container start latency and shim memory, with the floors measured in the same run.
//   node bench/engine.mjs            (after `node scripts/build.mjs`)
// `run()` returns { name, results: [{ name, value, unit, note? }] } and removes everything it made.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function timeCommand(cmd, args, env, runs) {
  const times = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const t = ms(t0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    if (i >= 2) times.push(t); // two warm-up runs
  }
  return median(times);
}

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * cgroup v1, what a container's join costs after an idle moment: a pid written to `cgroup.procs` (what the shim
 * did, and still does on v2) takes cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period; a
 * thread writing "0" to `tasks` (what the init does now, docs/shim-protocol.md) moves itself without that lock. The
 * first measured on a sleeping process, the second on this process's main thread (moved to the probe and back).
 */
async function cgroupV1AttachFloor(prefix, samples = 7) {
  const { mkdirSync, rmdirSync, writeFileSync, existsSync } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  if (!existsSync('/sys/fs/cgroup/cpu/cgroup.procs')) return undefined;
  const dir = `/sys/fs/cgroup/cpu/${prefix}-attach-probe`;
  mkdirSync(dir);
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  const byPid = [];
  const self = [];
  try {
    for (let i = 0; i < samples; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const t0 = process.hrtime.bigint();
      writeFileSync(`${dir}/cgroup.procs`, String(sleeper.pid));
      byPid.push(ms(t0));
      writeFileSync('/sys/fs/cgroup/cpu/cgroup.procs', String(sleeper.pid));
      await new Promise((r) => setTimeout(r, 300));
      const t1 = process.hrtime.bigint();
      writeFileSync(`${dir}/tasks`, '0');
      self.push(ms(t1));
      writeFileSync('/sys/fs/cgroup/cpu/tasks', '0');
    }
  } finally {
    try { writeFileSync('/sys/fs/cgroup/cpu/tasks', '0'); } catch { /* not moved */ }
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    rmdirSync(dir);
  }
  return { byPid: median(byPid), self: median(self) };
}

export async function run({ runs = 20, containers = 100 } = {}) {
  const { TestDaemon } = await dist('test/helpers/daemon.js');
  const { DaemonClient } = await dist('src/cli/client.js');
  const d = new TestDaemon('bench');
  const results = [];
  try {
    await d.start();
    d.importBusybox();
    const env = d.env;
    // 1. Floors: the kernel's own namespace creation, and Node's start-up.
    const kernel = timeCommand('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', 'true'], env, runs);
    const node = timeCommand(process.execPath, ['-e', '0'], env, runs);
    const attach = await cgroupV1AttachFloor(d.prefix);
    // 2. Whole CLI: `gantry run --rm busybox true`, daemon warm.
    const cli = timeCommand(join(root, 'bin', 'gantry'), ['run', '--rm', '--network', 'none', 'busybox', 'true'], env, runs);
    const cliBridge = timeCommand(join(root, 'bin', 'gantry'), ['run', '--rm', 'busybox', 'true'], env, runs);
    // 3. API alone: create + start + wait + remove.
    const client = new DaemonClient(`unix://${d.socket}`);
    const api = [];
    for (let i = 0; i < runs + 2; i++) {
      const t0 = process.hrtime.bigint();
      const { Id } = await client.call('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } } });
      const wait = client.call('POST', `/containers/${Id}/wait`, { query: { condition: 'next-exit' } });
      await client.call('POST', `/containers/${Id}/start`);
      await wait;
      await client.call('DELETE', `/containers/${Id}`);
      if (i >= 2) api.push(ms(t0));
    }
    // 4. Shim memory with many containers running.
    const ids = [];
    for (let i = 0; i < containers; i++) {
      const { Id } = await client.call('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' } } });
      await client.call('POST', `/containers/${Id}/start`);
      ids.push(Id);
    }
    const shimPids = [];
    for (const id of ids) {
      const info = JSON.parse(readFileSync(join(d.root, 'containers', id, 'container.json'), 'utf8'));
      shimPids.push(info.state.shimPid);
    }
    const rss = shimPids.map((p) => statusKb(p, 'VmRSS'));
    const pss = shimPids.map(pssKb);
    const avgRss = rss.reduce((a, b) => a + b, 0) / rss.length;
    const avgPss = pss.reduce((a, b) => a + b, 0) / pss.length;
    for (const id of ids) await client.call('DELETE', `/containers/${id}`, { query: { force: true } });
    client.close();

    results.push(
      { name: 'gantry run --rm --network none busybox true (whole CLI, daemon warm), median', value: cli, unit: 'ms', note: `target <= node + 30 = ${(node + 30).toFixed(1)} ms; docker 273 ms, podman 302 ms here` },
      { name: 'gantry run --rm busybox true (default bridge network), median', value: cliBridge, unit: 'ms', note: 'includes veth setup and teardown' },
      { name: 'create+start+wait+remove through the API, median', value: median(api), unit: 'ms', note: 'target <= 15 ms; crun alone 6.3 ms' },
      { name: 'floor: unshare --fork --pid --mount --uts --ipc --net true, median', value: kernel, unit: 'ms' },
      { name: 'floor: node -e 0, median', value: node, unit: 'ms' },
      ...(attach === undefined ? [] : [
        { name: 'cgroup v1 join after idle, a pid into cgroup.procs (RCU grace period), median', value: attach.byPid, unit: 'ms', note: 'what each start paid before stop 18 (on v2 still, where clone3 into the cgroup is refused)' },
        { name: 'cgroup v1 join after idle, a thread writing 0 to tasks, median', value: attach.self, unit: 'ms', note: 'what the init does now' },
      ]),
      { name: `shim RSS per container (${containers} running), mean`, value: avgRss / 1024, unit: 'MiB', note: 'target <= 1 MiB; conmon 2 MiB, docker shim 13 MiB' },
      { name: `shim PSS per container (${containers} running), mean`, value: avgPss / 1024, unit: 'MiB', note: 'proportional share: static pages shared between shims counted once' },
    );
  } finally {
    await d.dispose();
  }
  return { name: 'engine', results };
}

export function printResults({ name, results }) {
  console.log(`\n## ${name}`);
  console.log('| measurement | value | note |');
  console.log('| --- | ---: | --- |');
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(r.unit === 'MiB' ? 3 : 1)} ${r.unit} | ${r.note ?? ''} |`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) printResults(await run());
