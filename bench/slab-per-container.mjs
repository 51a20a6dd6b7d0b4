// Kernel memory per container, slab cache by slab cache (root): a TestDaemon of this tree starts 10 busybox
// `sleep` containers, then N more (4 at a time); the growth of every slab cache (/proc/slabinfo, objects × size)
// and of /proc/meminfo per container of the N, each sampled after writing 1 to every /sys/kernel/slab/*/shrink (so
// freed slabs of earlier runs do not flatter it); and the mount table of the last container (mounts, tmpfs
// superblocks, its masked directories). System-wide: other workers show in it. All containers are removed after.
// From the issue-16 notes' slabdiff. See docs/architecture.md, "Masked paths".
//   node bench/slab-per-container.mjs [N] [none|bridge]   (default 300 none; after `node scripts/build.mjs`)
//   MEMCG=own: a memory cgroup per container (GANTRY_MEMCG unset), else GANTRY_MEMCG=limited
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { meminfoKb, shrinkSlabs } from './lib/kernel-memory.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const n = Number(process.argv[2] ?? 300);
const mode = process.argv[3] ?? 'none';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function slab() {
  const m = new Map();
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
    const f = line.trim().split(/\s+/); // name active num objsize ...
    if (f.length >= 6) m.set(f[0], { objs: Number(f[2]), bytes: Number(f[2]) * Number(f[3]), size: Number(f[3]) });
  }
  return m;
}
const rss = (pid) => readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1];

const { TestDaemon } = await dist('test/helpers/daemon.js');
const { DaemonClient } = await dist('src/cli/client.js');
const d = new TestDaemon('slabdiff', [], process.env.MEMCG === 'own' ? {} : { GANTRY_MEMCG: 'limited' });
const ids = [];
try {
  await d.start();
  d.importBusybox();
  const c = new DaemonClient(`unix://${d.socket}`);
  let net = 'none';
  if (mode === 'bridge') { await c.call('POST', '/networks/create', { body: { Name: 'slabd' } }); net = 'slabd'; }
  const body = { Image: 'busybox', Cmd: ['sleep', '86400'], HostConfig: { NetworkMode: net } };
  for (let i = 0; i < 10; i++) {
    const { Id } = await c.call('POST', '/containers/create', { body });
    await c.call('POST', `/containers/${Id}/start`);
    ids.push(Id);
  }
  await sleep(1500);
  shrinkSlabs();
  const s0 = slab(), m0 = meminfoKb(), r0 = rss(d.proc.pid), t0 = Date.now();
  let next = 0;
  const worker = async () => {
    const cc = new DaemonClient(`unix://${d.socket}`);
    while (next++ < n) {
      const { Id } = await cc.call('POST', '/containers/create', { body });
      await cc.call('POST', `/containers/${Id}/start`);
      ids.push(Id);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const burst = Date.now() - t0;
  await sleep(3000);
  shrinkSlabs();
  const pid = (await c.call('GET', `/containers/${ids[ids.length - 1]}/json`)).State.Pid;
  const lines = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const fstype = (f) => f[f.indexOf('-') + 1];
  console.log('mounts in a container', lines.length, '; tmpfs superblocks', new Set(lines.filter((f) => fstype(f) === 'tmpfs').map((f) => f[2])).size);
  for (const f of lines) if (['/proc/acpi', '/sys/firmware', '/proc/scsi', '/proc/asound'].includes(f[4])) console.log('  ', f[4], f[2], f[3], fstype(f));
  const s1 = slab(), m1 = meminfoKb();
  console.log('burst', burst, 'ms; daemon RSS', r0, '->', rss(d.proc.pid), 'kB');
  const rows = [...s1].map(([k, v]) => { const b = s0.get(k) ?? { objs: 0, bytes: 0 }; return [k, (v.bytes - b.bytes) / n, (v.objs - b.objs) / n, v.size]; });
  rows.sort((a, b) => b[1] - a[1]);
  console.log(`slab per container (active objs × size): ${(rows.reduce((t, r) => t + r[1], 0) / 1024).toFixed(1)} kB`);
  for (const r of rows.slice(0, 40)) console.log(`${r[0].padEnd(28)} ${(r[1] / 1024).toFixed(2).padStart(8)} kB  ${r[2].toFixed(2).padStart(7)} objs  size ${r[3]}`);
  for (const k of ['MemAvailable', 'Slab', 'SUnreclaim', 'SReclaimable', 'PageTables', 'KernelStack', 'Percpu', 'VmallocUsed', 'AnonPages', 'Shmem'])
    console.log(k.padEnd(14), ((m0[k] - m1[k]) / n * (k === 'MemAvailable' ? 1 : -1)).toFixed(1), 'kB');
} finally {
  for (let i = 0; i < ids.length; i += 500) spawnSync(join(root, 'bin', 'gantry'), ['rm', '-f', ...ids.slice(i, i + 500)], { env: d.env, stdio: 'ignore' });
  if (mode === 'bridge') await new DaemonClient(`unix://${d.socket}`).call('DELETE', '/networks/slabd').catch(() => {});
  await d.dispose();
}
