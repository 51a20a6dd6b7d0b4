// Density benchmark (root): N `sleep` containers started through the API, CONCURRENCY at a time, with
// `--network none` or spread over bridge networks (a Linux bridge takes at most 1024 ports, so one network per
// PER_NETWORK containers). Reports what a user of a small host would notice, each beside its baseline from the
// same run: start latency of the first and the last 100 (no O(n) work per start: their ratio), host memory per
// container all-in (MemAvailable before and after), the shims' own anonymous memory and page tables, daemon RSS
// growth per container, daemon CPU at rest, `ps -a` (the CLI, against `node -e 0`), `rm -f` of 1,000 (and when its
// shims have released the containers' mounts and network namespaces after it; where the machine's CPU went
// meanwhile, other processes' included), on bridges a dump of the host's links (`ip -o link`, before the containers
// and with N), and one create + start at a time
// (20, with none running and with N running, beside the kernel floor: `unshare` of the same namespaces, and that
// with a pivot_root, whose kernel side visits every task of the host: what each start paid before containers' roots
// came from the spawner's template mount namespace). Memory per container is printed beside its
// kernel floor (memoryFloor: the same namespaces and processes, a veth on a bridge in bridge mode), measured first.
//   node bench/density.mjs [N] [none|bridge] [limited]   (after `node scripts/build.mjs`; default 1000 none;
//   `limited`: the daemon runs with GANTRY_MEMCG=limited, one shared memory cgroup for containers without a limit)
// The limits that matter for large N (pid_max, the daemon's open files, a bridge's ports, neighbour tables) are
// printed first; see README "Many containers".
import { mkdtempSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { meminfoKb, shrinkSlabs } from './lib/kernel-memory.mjs';
import { isKernelThread, processTicks } from './lib/processes.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const CONCURRENCY = 4;
const PER_NETWORK = 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? 0; };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function memAvailableKb() {
  return meminfoKb().MemAvailable;
}
const KERNEL_COUNTERS = ['Slab', 'SUnreclaim', 'Percpu', 'PageTables', 'KernelStack', 'VmallocUsed'];
/** The kernel's own memory by kind (/proc/meminfo, kB): system-wide too, so other workers' use shows in it. */
function kernelKb() {
  const all = meminfoKb();
  return Object.fromEntries(KERNEL_COUNTERS.map((k) => [k, all[k] ?? 0]));
}
function rssKb(pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}
/** utime + stime of a process, in clock ticks (100 per second). */
function cpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
/** The pids of the daemon's shims (re-parented to it, a subreaper), by a walk over /proc. */
function shimPids(daemonPid) {
  return [...processTicks()].filter(([, p]) => p.name === 'gantry-shim' && p.ppid === daemonPid).map(([pid]) => pid);
}
function shimCount(daemonPid) {
  return shimPids(daemonPid).length;
}
/**
 * Where the CPU went between two processTicks() walks: the daemon, its shims (and what runs under them), kernel threads
 * (children of kthreadd), and every other process (largest first: other workers on the machine are part of the
 * figure). Processes that ended in between count for nothing (a reaped shim's time would come whole, its life's).
 */
function cpuSplit(before, after, daemonPid) {
  const spent = (p) => (after.get(p).ticks - (before.get(p)?.ticks ?? 0)) * 10;
  const ours = new Set([daemonPid]);
  for (let grew = true; grew;) { grew = false; for (const [p, x] of after) if (!ours.has(p) && ours.has(x.ppid)) { ours.add(p); grew = true; } }
  let daemon = 0; let under = 0; let kernel = 0; const others = [];
  for (const [p, x] of after) {
    const took = spent(p);
    if (p === daemonPid) daemon += took;
    else if (ours.has(p)) under += took;
    else if (isKernelThread(p, x)) kernel += took;
    else if (p !== process.pid && took > 0) others.push([x.name, took]);
  }
  others.sort((a, b) => b[1] - a[1]);
  const rest = others.reduce((a, [, t]) => a + t, 0);
  return `CPU meanwhile: gantryd ${daemon} ms, its running shims ${under} ms, kernel threads ${kernel} ms, other processes ${rest} ms${others.length > 0 ? ` (${others.slice(0, 3).map(([name, t]) => `${name} ${t}`).join(', ')})` : ''}`;
}
/** How long a dump of the host's links takes (`ip -o link`), median of 3, and how many there are. */
function linkDump() {
  const times = [];
  let lines = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    times.push(ms(t0));
    lines = r.stdout.split('\n').filter(Boolean).length;
  }
  return { ms: median(times), links: lines };
}
/** The daemon's shims' own memory, median per shim (kB): anonymous (RssAnon) and page tables (VmPTE). */
function shimMemory(daemonPid) {
  const anon = [], pte = [];
  for (const pid of shimPids(daemonPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      anon.push(Number(/^RssAnon:\s+(\d+) kB/m.exec(status)?.[1] ?? 0));
      pte.push(Number(/^VmPTE:\s+(\d+) kB/m.exec(status)?.[1] ?? 0));
    } catch { /* gone */ }
  }
  return { n: anon.length, anon: median(anon), pte: median(pte) };
}
function openFiles(pid) {
  return spawnSync('ls', [`/proc/${pid}/fd`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
}
function limits() {
  const read = (p) => { try { return readFileSync(p, 'utf8').trim(); } catch { return '?'; } };
  const nofile = /Max open files\s+(\d+)\s+(\d+)/.exec(read('/proc/self/limits'));
  return `pid_max ${read('/proc/sys/kernel/pid_max')}, open files ${nofile?.[1]}/${nofile?.[2]}, neigh gc_thresh3 ${read('/proc/sys/net/ipv4/neigh/default/gc_thresh3')}, inotify instances ${read('/proc/sys/fs/inotify/max_user_instances')}`;
}

/** The kernel floor of a start: the namespaces a container gets, made and torn down by util-linux. */
function unshareFloor(runs = 15) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--cgroup', 'true'], { stdio: 'ignore' });
    times.push(ms(t0));
  }
  return median(times);
}

const waitFor = async (check, ms = 10_000) => {
  for (const t0 = Date.now(); !check() && Date.now() - t0 < ms;) await sleep(20);
};
const nsOf = (pid, ns) => { try { return readlinkSync(`/proc/${pid}/ns/${ns}`); } catch { return ''; } };

/**
 * The kernel floor of a container's memory, measured here: `m` times the namespaces a container gets (mount, pid,
 * ipc, uts, network) holding two processes, a parent and a `sleep`, both static busybox (`busybox unshare -f`: like the
 * shim and the container's own process), and in bridge mode a veth pair whose host side is a port of one bridge and
 * whose other side is the namespace's eth0, up with an address. MemAvailable drop per instance, all removed after.
 */
async function memoryFloor(m, mode) {
  const bridge = `gtbf${process.pid % 100000}`;
  const parents = [];
  /** The `sleep` a `busybox unshare -f` forked (pid 1 of its namespace), or undefined while it has none. */
  const childOf = (p) => { try { const pid = Number(readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim().split(' ')[0]); return pid > 0 ? pid : undefined; } catch { return undefined; } };
  shrinkSlabs();
  await sleep(500);
  const before = memAvailableKb();
  try {
    if (mode === 'bridge') {
      spawnSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
      spawnSync('ip', ['link', 'set', bridge, 'up']);
    }
    const ours = nsOf(process.pid, 'net');
    for (let i = 0; i < m; i++) parents.push(spawn('busybox', ['unshare', '-m', '-u', '-i', '-n', '-p', '-f', 'busybox', 'sleep', '86400'], { stdio: 'ignore' }));
    const ready = (p) => childOf(p) !== undefined && nsOf(p.pid, 'net') !== ours;
    await waitFor(() => parents.every(ready));
    // never an `ip` command aimed at this host's own network namespace
    if (!parents.every(ready)) throw new Error('memory floor: not every `busybox unshare` got its namespaces within 10 s');
    if (mode === 'bridge') {
      const host = parents.map((p, i) => `link add ${bridge}v${i} type veth peer name eth0 netns ${p.pid}\nlink set ${bridge}v${i} master ${bridge} up`).join('\n');
      spawnSync('ip', ['-batch', '-'], { input: host + '\n' });
      parents.forEach((p, i) => spawnSync('nsenter', ['-t', String(p.pid), '-n', 'ip', '-batch', '-'], {
        input: `link set lo up\nlink set eth0 up\naddr add 10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/8 dev eth0\n`,
      }));
    }
    await sleep(2000);
    return (before - memAvailableKb()) / m;
  } finally {
    for (const pid of parents.map(childOf)) { try { if (pid !== undefined) process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const p of parents) p.kill('SIGKILL');
    await Promise.all(parents.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.on('exit', r)))));
    if (mode === 'bridge') spawnSync('ip', ['link', 'del', bridge]);
  }
}

/**
 * The same namespaces and a pivot_root into a tmpfs, as every container start did before the template mount
 * namespace (and still does with GANTRY_SHIM_SPAWNER=0): the kernel's pivot_root visits every task of the host
 * (chroot_fs_refs, under each one's lock), so this floor grows with the processes running.
 */
function pivotFloor(runs = 15) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-pivot-'));
  try {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync('unshare', ['--fork', '--pid', '--mount', '--uts', '--ipc', '--net', '--cgroup', '--propagation', 'private',
        'sh', '-c', `mount -t tmpfs none ${dir} && mkdir ${dir}/old && cd ${dir} && pivot_root . old`], { stdio: 'ignore' });
      times.push(ms(t0));
      if (r.status !== 0) return NaN;
    }
    return median(times);
  } finally {
    rmdirSync(dir);
  }
}

/**
 * One create + start at a time (nothing else running through the API) on `network`: the latency of a single
 * start. The first `warmup` are not timed (they stay running, as the others): on a daemon just started they also
 * pay its first start's work (the shim spawner, the namespace pool's first fill), which made the figure with none
 * running up to twice the others.
 */
async function sequentialStarts(client, runs, ids, network, warmup = 0) {
  const times = [];
  for (let i = 0; i < warmup + runs; i++) {
    const t0 = process.hrtime.bigint();
    const { Id } = await client.call('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: network } } });
    await client.call('POST', `/containers/${Id}/start`);
    if (i >= warmup) times.push(ms(t0));
    ids.push(Id);
  }
  return median(times);
}

async function timeCli(env, args, runs = 7, file = process.execPath) {
  const times = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    if (i > 0) times.push(ms(t0));
  }
  return median(times);
}

export async function run({ n = 1000, mode = 'none', memcg = 'every' } = {}) {
  const { TestDaemon } = await dist('test/helpers/daemon.js');
  const { DaemonClient } = await dist('src/cli/client.js');
  const d = new TestDaemon('bench-density', [], memcg === 'limited' ? { GANTRY_MEMCG: 'limited' } : {});
  const results = [];
  const ids = [];
  const networks = [];
  const client = () => new DaemonClient(`unix://${d.socket}`);
  try {
    // the memory floor first, on a kernel with nothing of ours running
    const floorMemKb = await memoryFloor(Math.min(n, 500), mode);
    await d.start();
    d.importBusybox();
    const daemonPid = d.proc.pid;
    const c = client();
    for (let i = 0; mode === 'bridge' && i * PER_NETWORK < n; i++) {
      const name = `density${i}`;
      await c.call('POST', '/networks/create', { body: { Name: name } });
      networks.push(name);
    }
    await sleep(500);
    const dumpBefore = mode === 'bridge' ? linkDump() : undefined;
    // one start at a time with none running, beside the kernel floor (they stay running: part of the N below)
    const floorBefore = unshareFloor();
    const pivotBefore = pivotFloor();
    const seqIds = [];
    // on bridges, a network of their own (the others are filled to PER_NETWORK): a bridge start, veth and all
    const seqNetwork = mode === 'bridge' ? 'densityseq' : 'none';
    const seqWhere = mode === 'bridge' ? 'on a bridge network of their own' : '--network none';
    if (mode === 'bridge') {
      await c.call('POST', '/networks/create', { body: { Name: seqNetwork } });
      networks.push(seqNetwork);
    }
    const seqBefore = await sequentialStarts(c, 20, seqIds, seqNetwork, 5);
    shrinkSlabs();
    await sleep(500);
    const memBefore = memAvailableKb();
    const kernelBefore = kernelKb();
    const rssBefore = rssKb(daemonPid);
    const fdsBefore = openFiles(daemonPid);
    // the daemon's heap grows to a high-water mark during the first burst of starts (and stays there after every
    // container is gone): what each container keeps is the growth from N/2 to N
    let rssHalf = 0;
    const starts = new Array(n);
    let next = 0;
    const worker = async () => {
      const w = client();
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const t0 = process.hrtime.bigint();
        const net = mode === 'bridge' ? networks[Math.floor(i / PER_NETWORK)] : 'none';
        const { Id } = await w.call('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: net } } });
        await w.call('POST', `/containers/${Id}/start`);
        starts[i] = ms(t0);
        ids[i] = Id;
        if (i === Math.floor(n / 2)) rssHalf = rssKb(daemonPid);
      }
    };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const startAll = ms(t0);
    await sleep(2000);
    const memAfter = memAvailableKb();
    const kernelAfter = kernelKb();
    const fdsAfter = openFiles(daemonPid);
    const ticks0 = cpuTicks(daemonPid);
    const restBefore = processTicks();
    await sleep(10_000);
    const idleCpu = (cpuTicks(daemonPid) - ticks0) / 100 / 10;
    const restCpu = cpuSplit(restBefore, processTicks(), daemonPid);
    const rssAfter = rssKb(daemonPid); // after the quiet 10 s: what the containers keep, not the burst's garbage
    const shims = shimMemory(daemonPid);
    const floorAfter = unshareFloor();
    const pivotAfter = pivotFloor();
    const seqAfter = await sequentialStarts(c, 20, seqIds, seqNetwork);
    const first = median(starts.slice(0, Math.min(100, n)));
    const last = median(starts.slice(Math.max(0, n - 100)));
    const node = await timeCli(d.env, ['-e', '0']);
    // bin/gantry, the command users run (the CLI's start-up snapshot)
    const ps = await timeCli(d.env, ['ps', '-a'], 7, join(root, 'bin', 'gantry'));
    results.push(
      { name: `limits`, value: 0, unit: '', note: limits() },
      { name: `start ${n} (${mode}, memory cgroups: ${memcg}), ${CONCURRENCY} at a time`, value: startAll / 1000, unit: 's', note: `${(startAll / n).toFixed(1)} ms per container` },
      { name: 'start latency, first 100 (median)', value: first, unit: 'ms' },
      { name: `start latency, last 100 (median)`, value: last, unit: 'ms', note: `last/first ${(last / first).toFixed(2)} (target ≤ 1.2)` },
      { name: 'one start at a time, with none running', value: seqBefore, unit: 'ms', note: `median of 20, ${seqWhere}; kernel floor (unshare of its namespaces) ${floorBefore.toFixed(1)} ms, with a pivot_root ${pivotBefore.toFixed(1)} ms` },
      { name: `one start at a time, with ${n} running`, value: seqAfter, unit: 'ms', note: `median of 20, ${seqWhere}; ${(seqAfter / seqBefore).toFixed(2)}× (target ≤ 1.2); kernel floor ${floorAfter.toFixed(1)} ms, with a pivot_root ${pivotAfter.toFixed(1)} ms (+${(pivotAfter - pivotBefore).toFixed(1)})` },
      { name: 'host memory per container, all-in', value: (memBefore - memAfter) / n / 1024, unit: 'MiB', note: `MemAvailable drop / N (target ≤ 0.5); kernel floor ${(floorMemKb / 1024).toFixed(3)} MiB (${mode === 'bridge' ? 'a veth on a bridge and ' : ''}the namespaces of one, with two static busybox processes)` },
      { name: 'kernel memory per container', value: 0, unit: '', note: KERNEL_COUNTERS.map((k) => `${k} ${((kernelAfter[k] - kernelBefore[k]) / n).toFixed(1)} kB`).join(', ') },
      { name: 'shim memory per container (median)', value: 0, unit: '', note: `RssAnon ${shims.anon} kB, VmPTE ${shims.pte} kB (${shims.n} shims, after the quiet 10 s)` },
      { name: 'daemon RSS growth per container', value: (rssAfter - rssHalf) / (n - Math.floor(n / 2)), unit: 'kB', note: `from N/2 to N; ${rssBefore >> 10} → ${rssHalf >> 10} → ${rssAfter >> 10} MiB (target ≤ 20 kB)` },
      { name: 'daemon open files per container', value: (fdsAfter - fdsBefore) / n, unit: '', note: `${fdsBefore} → ${fdsAfter}` },
      { name: `daemon CPU at rest with ${n} running`, value: idleCpu * 100, unit: '%', note: `of one core, over 10 s (target ≤ 1 %); ${restCpu}` },
      { name: `gantry ps -a with ${n}`, value: ps, unit: 'ms', note: `node -e 0 ${node.toFixed(1)} ms (target ≤ 300 ms at 10,000)` },
    );
    if (dumpBefore !== undefined) {
      // every link message of a veth's host end names its peer's namespace by an id, looked up among all of the
      // host's (one per container): a dump of N links walks N ids N times, whoever asks (ip, a network manager, a
      // monitoring agent)
      const dumpAfter = linkDump();
      results.push({ name: `ip -o link (a dump of the host's links) with ${n} running`, value: dumpAfter.ms, unit: 'ms', note: `${dumpAfter.links} links; before the containers ${dumpBefore.ms.toFixed(1)} ms for ${dumpBefore.links}` });
    }
    const batch = ids.slice(0, Math.min(1000, n));
    const shimsBefore = shimCount(daemonPid);
    const ticksBefore = processTicks();
    const t1 = process.hrtime.bigint();
    const r = spawnSync(join(root, 'bin', 'gantry'), ['rm', '-f', ...batch], { env: d.env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`rm -f: ${r.stderr}`);
    const rmTook = ms(t1);
    const rmCpu = cpuSplit(ticksBefore, processTicks(), daemonPid);
    // what the command leaves to the kernel afterwards (teardown gate): every removed container's shim has released
    // its mounts and network namespace and exited
    while (shimCount(daemonPid) > shimsBefore - batch.length && ms(t1) < 60_000) await sleep(20);
    results.push({ name: `gantry rm -f of ${batch.length}`, value: rmTook / 1000, unit: 's', note: `one command (target ≤ 1.5 s for 1,000); every shim released and gone after ${(ms(t1) / 1000).toFixed(1)} s; ${rmCpu}` });
    ids.splice(0, batch.length);
    ids.push(...seqIds);
  } finally {
    const c = client();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500).filter(Boolean);
      if (chunk.length > 0) spawnSync(join(root, 'bin', 'gantry'), ['rm', '-f', ...chunk], { env: d.env, stdio: 'ignore' });
    }
    for (const name of networks) await c.call('DELETE', `/networks/${name}`).catch(() => undefined);
    await d.dispose();
  }
  return { name: 'density', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const n = Number(process.argv[2] ?? 1000);
  const mode = process.argv[3] === 'bridge' ? 'bridge' : 'none';
  const out = await run({ n, mode, memcg: process.argv[4] === 'limited' ? 'limited' : 'every' });
  for (const r of out.results) console.log(`${r.name.padEnd(44)} ${r.unit === '' && r.value === 0 ? '' : `${Number(r.value).toFixed(r.unit === 'MiB' ? 3 : 1)} ${r.unit}`}${r.note ? `  (${r.note})` : ''}`);
}
