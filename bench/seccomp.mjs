// Seccomp benchmarks (root): the start latency of `gantry run --rm busybox true` with the default filter and with
// `--security-opt seccomp=unconfined` (runs interleaved, so drift on a shared machine hits both alike), and the
// cost of compiling the default profile (paid once per capability set per daemon).
//   node bench/seccomp.mjs            (after `node scripts/build.mjs`)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function timeOnce(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(join(root, 'bin', 'gantry'), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`gantry ${args.join(' ')} failed: ${r.stderr}`);
  return t;
}

export async function run({ runs = 20 } = {}) {
  const { TestDaemon } = await dist('test/helpers/daemon.js');
  const { compileFilter, encodeFilter } = await dist('src/engine/seccomp/compile.js');
  const { defaultSeccompProfile } = await dist('src/engine/seccomp/default-profile.js');
  const { resolveProfile, HOST_X86_64 } = await dist('src/engine/seccomp/rules.js');
  const { capabilityNames } = await dist('src/engine/seccomp/index.js');
  const { capabilityMask } = await dist('src/engine/runtime/capabilities.js');
  const results = [];

  // compile cost, in this process (the daemon pays it once per capability set)
  const ctx = { host: HOST_X86_64, caps: capabilityNames(capabilityMask([], [])), kernel: [6, 1] };
  const compileTimes = [];
  let prog = [];
  for (let i = 0; i < 200; i++) {
    const t0 = process.hrtime.bigint();
    prog = compileFilter(resolveProfile(defaultSeccompProfile(), ctx));
    encodeFilter(prog);
    if (i >= 20) compileTimes.push(ms(t0));
  }

  const d = new TestDaemon('bench-seccomp');
  try {
    await d.start();
    d.importBusybox();
    const base = ['run', '--rm', '--network', 'none'];
    const confined = [];
    const unconfined = [];
    for (let i = 0; i < runs + 2; i++) {
      const a = timeOnce([...base, 'busybox', 'true'], d.env);
      const b = timeOnce([...base, '--security-opt', 'seccomp=unconfined', 'busybox', 'true'], d.env);
      if (i >= 2) { confined.push(a); unconfined.push(b); }
    }
    // per-syscall cost: dd with 1-byte blocks makes two syscalls (read, write) per byte
    const count = 400000;
    const dd = ['busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${count}`];
    const ddConfined = [];
    const ddUnconfined = [];
    for (let i = 0; i < 7; i++) {
      ddConfined.push(timeOnce([...base, ...dd], d.env));
      ddUnconfined.push(timeOnce([...base, '--security-opt', 'seccomp=unconfined', ...dd], d.env));
    }
    const perCallNs = ((median(ddConfined) - median(ddUnconfined)) * 1e6) / (2 * count);
    results.push(
      { name: `dd bs=1 count=${count} in a container (${2 * count} syscalls), default filter, median`, value: median(ddConfined), unit: 'ms' },
      { name: 'the same unconfined, median', value: median(ddUnconfined), unit: 'ms', note: `the filter's cost: ~${perCallNs.toFixed(0)} ns per syscall` },
      { name: 'gantry run --rm --network none busybox true, default seccomp filter, median', value: median(confined), unit: 'ms' },
      { name: 'the same with --security-opt seccomp=unconfined, median', value: median(unconfined), unit: 'ms', note: 'runs interleaved with the line above' },
      { name: 'default profile compiled (resolve + BPF + encode), median', value: median(compileTimes), unit: 'ms', note: 'once per capability set per daemon' },
      { name: 'default filter size (docker\'s default capabilities)', value: prog.length, unit: 'instructions', note: `${prog.length * 8} bytes, ${prog.length * 16} hex digits in the spec; the kernel takes 4096` },
    );
  } finally {
    await d.dispose();
  }
  return { name: 'seccomp', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { name, results } = await run();
  console.log(`\n## ${name}`);
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(r.unit === 'instructions' ? 0 : 2)} ${r.unit} | ${r.note ?? ''} |`);
}
