// Kernel memory of one bridge endpoint, object by object (root). In two private network namespaces of its own (a
// "host" with a bridge, a "containers" one with IPv6 off in all/default, as Gantry sets a container's netns up), N
// veth pairs are made the way Gantry makes them, one variant at a time. Per pair: the kernel memory charged to a
// memory cgroup of the bench's own (cgroup v1 memory.kmem.usage_in_bytes: exact, free of other workers' use), and
// the growth of /proc/meminfo's Slab, SUnreclaim, Percpu, VmallocUsed and of each slab cache (system-wide: other
// workers show in them; allocations the kernel does not charge, such as qdiscs, show only there). Both namespaces
// are deleted after each variant (and on failure). See docs/architecture.md, "Bridge endpoints".
//   node bench/veth-memory.mjs [N] [variant...]   (default 500, every variant)
// variants: gantry (the endpoint before issue 16's cuts: two queues here, clsact, sysctls through the host's /proc),
//   now (one queue, an ingress qdisc, the sysctls through a private procfs), q1 / ingress / privproc (one change
//   each), noclsact (no bypass qdisc), nosysctl (IPv6 left on the host end), down (the pair only: no master, no
//   address, not up), q1bare (down with one queue), nov6bare (q1bare at MTU 1200: the kernel makes no IPv6 state)
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';

const N = Number(process.argv[2] ?? 500);
const variants = process.argv.slice(3).length > 0 ? process.argv.slice(3) : ['down', 'q1bare', 'nov6bare', 'gantry', 'q1', 'ingress', 'noclsact', 'privproc', 'nosysctl', 'now'];
const tag = `gbm${process.pid % 100000}`;
const H = `${tag}h`;
const C = `${tag}c`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Kernel memory charged to a memory cgroup of our own (cgroup v1 memory.kmem.*): the accounted allocations (net
// devices, sysctl tables, kernfs nodes, per-CPU stats) of what we create, free of other workers' noise.
const MEMCG = `/sys/fs/cgroup/memory/${tag}`;
let memcg = false;
try {
  mkdirSync(MEMCG);
  writeFileSync(`${MEMCG}/cgroup.procs`, String(process.pid));
  memcg = true;
} catch { /* no v1 memory controller: slabinfo only */ }
const kmem = () => (memcg ? Number(readFileSync(`${MEMCG}/memory.kmem.usage_in_bytes`, 'utf8')) : NaN);
function slabs() {
  const out = new Map();
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.set(f[0], Number(f[1]) * Number(f[3]));
  }
  return out;
}
function meminfo() {
  const out = {};
  for (const m of readFileSync('/proc/meminfo', 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}
function ip(args, input) {
  const r = spawnSync('ip', args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}
function cleanup() {
  for (const ns of [H, C]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

async function one(variant) {
  const now = variant === 'now'; // what Gantry does since: one queue, an ingress qdisc, the sysctls through a private procfs
  const q1 = variant.startsWith('q1') || now || variant === 'nov6bare';
  const bare = variant === 'down' || variant === 'q1bare' || variant === 'nov6bare';
  // nov6bare: q1bare with an MTU under IPv6's minimum (1280): the kernel gives such a device no IPv6 state at all
  const mtu = variant === 'nov6bare' ? ' mtu 1200' : '';
  ip(['netns', 'add', H]);
  ip(['netns', 'add', C]);
  try {
    for (const k of ['all', 'default']) {
      for (const [key, v] of [['accept_ra', '0'], ['disable_ipv6', '1']]) {
        execFileSync('ip', ['netns', 'exec', C, 'sysctl', '-qw', `net.ipv6.conf.${k}.${key}=${v}`]);
      }
    }
    ip(['-n', H, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', H, 'link', 'set', 'br0', 'up']);
    await sleep(1500);
    const s0 = slabs();
    const m0 = meminfo();
    const k0 = kmem();
    const q = q1 ? ' numtxqueues 1 numrxqueues 1' : '';
    let host = '';
    let cont = '';
    for (let i = 0; i < N; i++) {
      host += `link add v${i}${q}${mtu} type veth peer name c${i}${q}${mtu} netns ${C}\n`;
      if (!bare) host += `link set v${i} master br0\n`;
    }
    ip(['-n', H, '-batch', '-'], host);
    if (!bare) {
      if (variant !== 'nosysctl') {
        const script = `for i in $(seq 0 ${N - 1}); do echo 0 > /proc/sys/net/ipv6/conf/v$i/accept_ra; echo 1 > /proc/sys/net/ipv6/conf/v$i/disable_ipv6; done`;
        // privproc: through a procfs instance of our own, gone (with its dentries and inodes) when the writer exits
        const pre = variant === 'privproc' || now ? ['unshare', '-m', '--mount-proc'] : [];
        execFileSync('ip', ['netns', 'exec', H, ...pre, 'sh', '-c', script]);
      }
      host = '';
      for (let i = 0; i < N; i++) {
        host += `link set v${i} up\n`;
        cont += `addr add 10.${(i >> 8) & 255}.${i & 255}.2/8 dev c${i}\nlink set c${i} up\n`;
      }
      ip(['-n', H, '-batch', '-'], host);
      ip(['-n', C, '-batch', '-'], cont);
      if (variant !== 'noclsact') {
        let tc = '';
        const kind = variant === 'ingress' || now ? 'ingress' : 'clsact';
        for (let i = 0; i < N; i++) tc += `qdisc add dev v${i} ingress_block 77 ${kind}\n`;
        const r = spawnSync('tc', ['-n', H, '-batch', '-'], { input: tc, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`tc: ${r.stderr}`);
      }
    }
    await sleep(3000);
    const s1 = slabs();
    const m1 = meminfo();
    const k1 = kmem();
    const per = (a, b) => (b - a) / N;
    const rows = [];
    let slabTotal = 0;
    for (const [name, v] of s1) {
      const d = per(s0.get(name) ?? 0, v);
      slabTotal += d;
      if (Math.abs(d) >= 64) rows.push([name, d]);
    }
    rows.sort((a, b) => b[1] - a[1]);
    const k = (x) => `${(x / 1024).toFixed(2)} kB`;
    console.log(`\n== ${variant}, ${N} pairs: per pair  slab(sum) ${k(slabTotal)}  Slab ${k(per(m0.Slab, m1.Slab))}  SUnreclaim ${k(per(m0.SUnreclaim, m1.SUnreclaim))}  Percpu ${k(per(m0.Percpu, m1.Percpu))}  Vmalloc ${k(per(m0.VmallocUsed, m1.VmallocUsed))}  total ${k(per(m0.SUnreclaim + m0.SReclaimable + m0.Percpu + m0.VmallocUsed, m1.SUnreclaim + m1.SReclaimable + m1.Percpu + m1.VmallocUsed))}`);
    console.log(`  charged to our memcg (kmem): ${k(per(k0, k1))} per pair`);
    console.log(rows.slice(0, 14).map(([n, d]) => `  ${n.padEnd(28)} ${k(d)}`).join('\n'));
  } finally {
    cleanup();
    await sleep(2000);
  }
}

process.on('SIGINT', () => {
  cleanup();
  if (memcg) { try { writeFileSync('/sys/fs/cgroup/memory/cgroup.procs', String(process.pid)); rmdirSync(MEMCG); } catch { /* left for the next run to report */ } }
  process.exit(130);
});
try {
  for (const v of variants) await one(v);
} finally {
  cleanup();
  if (memcg) {
    writeFileSync('/sys/fs/cgroup/memory/cgroup.procs', String(process.pid));
    await sleep(500);
    try { rmdirSync(MEMCG); } catch (e) { console.error(`rmdir ${MEMCG}: ${e.message}`); }
  }
}
