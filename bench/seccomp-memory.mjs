// Kernel memory of one installed seccomp filter (root): N processes each install the default filter (the holder
// bench/seccomp-memory.c), against N that install none, in rounds (the variants interleaved). Per filter: the
// kernel's copy of the classic program (kmalloc-2k/4k/8k growth in /proc/slabinfo: system-wide, other workers show
// in it), the bpf_prog's vmalloc pages (/proc/vmallocinfo's bpf_prog_alloc lines; system-wide too), and the kernel
// memory charged to memory cgroups of the bench's own (v1 memory.kmem.usage_in_bytes, free of other workers: the
// bpf_prog pages are charged, the copy is not). The JIT image (bpf_prog_pack, shared 2 MiB regions) is not seen.
// See docs/architecture.md, "Seccomp".
//   node bench/seccomp-memory.mjs [N] [FILE...]   (after `node scripts/build.mjs`; N 200 by default; FILE: other
//   filters to compare, struct sock_filter[] bytes, e.g. one written by an older build's encodeFilter)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const CACHES = ['kmalloc-2k', 'kmalloc-4k', 'kmalloc-8k'];

function snapshot(memcg) {
  const slab = {};
  for (const line of readFileSync('/proc/slabinfo', 'utf8').split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (CACHES.includes(f[0])) slab[f[0]] = Number(f[1]) * Number(f[3]);
  }
  let bpfPages = 0;
  for (const m of readFileSync('/proc/vmallocinfo', 'utf8').matchAll(/ bpf_prog_alloc\S* pages=(\d+)/g)) bpfPages += Number(m[1]);
  const kmem = memcg ? Number(readFileSync(join(memcg, 'memory.kmem.usage_in_bytes'), 'utf8')) : NaN;
  return { slab, bpfPages, kmem };
}

/** One holder of n processes under `file` ('-': none): the growth per process. `memcg`: a fresh memory cgroup to
 * hold them (a fresh one each time: the RCU-deferred frees of an earlier holder's tasks stay out of it). */
async function measure(holder, file, n, memcg) {
  if (memcg) mkdirSync(memcg);
  const child = spawn(holder, [file, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => { child.on('exit', resolve); child.on('error', resolve); });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const expect = async (word) => {
    const { value, done } = await lines.next();
    if (done || value !== word) throw new Error(`seccomp-memory holder: expected "${word}", got ${done ? 'its exit' : JSON.stringify(value)}`);
  };
  try {
    await expect('loaded');
    if (memcg) writeFileSync(join(memcg, 'cgroup.procs'), String(child.pid));
    const before = snapshot(memcg);
    child.stdin.write('go\n');
    await expect('ready');
    const after = snapshot(memcg);
    const per = (a, b) => (a - b) / n;
    return {
      slab: Object.fromEntries(CACHES.map((c) => [c, per(after.slab[c] ?? 0, before.slab[c] ?? 0)])),
      pages: per(after.bpfPages, before.bpfPages),
      kmem: per(after.kmem, before.kmem),
    };
  } finally {
    child.stdin.end();
    if (child.exitCode === null) await exited;
    if (memcg) rmdirSync(memcg);
  }
}

export async function run({ n = 200, files = [], rounds = 5 } = {}) {
  const { compileFilter, encodeFilter } = await dist('src/engine/seccomp/compile.js');
  const { defaultSeccompProfile } = await dist('src/engine/seccomp/default-profile.js');
  const { resolveProfile, HOST_X86_64 } = await dist('src/engine/seccomp/rules.js');
  const { capabilityNames } = await dist('src/engine/seccomp/index.js');
  const { capabilityMask } = await dist('src/engine/runtime/capabilities.js');
  const dir = mkdtempSync(join(tmpdir(), 'gantry-seccomp-memory-'));
  const memcgRoot = '/sys/fs/cgroup/memory';
  let measured = 0;
  const memcg = () => (existsSync(join(memcgRoot, 'memory.kmem.usage_in_bytes')) ? join(memcgRoot, `gantry-bench-seccomp-${process.pid}-${measured++}`) : undefined);
  try {
    const holder = join(dir, 'holder');
    const cc = spawnSync('cc', ['-O1', '-Wall', '-Wextra', '-Werror', '-o', holder, join(root, 'bench', 'seccomp-memory.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc bench/seccomp-memory.c: ${cc.stderr}`);
    const prog = compileFilter(resolveProfile(defaultSeccompProfile(), { host: HOST_X86_64, caps: capabilityNames(capabilityMask([], [])), kernel: [6, 1] }));
    writeFileSync(join(dir, 'default.bin'), encodeFilter(prog));
    const variants = [['none', '-'], [`default (${prog.length} instructions)`, join(dir, 'default.bin')],
      ...files.map((f) => [`${basename(f)} (${readFileSync(f).length / 8} instructions)`, f])];
    const got = new Map(variants.map(([name]) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, file] of variants) got.get(name).push(await measure(holder, file, n, memcg()));
    }
    const med = (name, pick) => median(got.get(name).map(pick));
    const results = [];
    for (const [name] of variants.slice(1)) {
      const slab = (c) => med(name, (m) => m.slab[c]) - med('none', (m) => m.slab[c]);
      results.push(
        { name: `${name}: kmalloc-2k / 4k / 8k growth per filter, median`, value: slab('kmalloc-2k') + slab('kmalloc-4k') + slab('kmalloc-8k'), unit: 'B',
          note: CACHES.map((c) => `${c} ${slab(c).toFixed(0)} B`).join(', ') },
        { name: `${name}: bpf_prog vmalloc pages per filter, median`, value: med(name, (m) => m.pages) - med('none', (m) => m.pages), unit: 'pages' },
        { name: `${name}: kernel memory charged per process, above one without a filter, median`, value: med(name, (m) => m.kmem) - med('none', (m) => m.kmem), unit: 'B',
          note: measured > 0 && existsSync(join(memcgRoot, 'memory.kmem.usage_in_bytes')) ? 'memcg v1 kmem: the bpf_prog pages and struct seccomp_filter; the copy is not charged' : 'no v1 memory controller' },
      );
    }
    return { name: `seccomp filter memory (${n} processes per holder, ${rounds} rounds)`, results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { name, results } = await run({ n: Number(process.argv[2] ?? 200), files: process.argv.slice(3) });
  console.log(`\n## ${name}`);
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(r.unit === 'pages' ? 2 : 0)} ${r.unit} | ${r.note ?? ''} |`);
}
