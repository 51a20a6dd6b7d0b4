// What other software on the host spends as namespaces pile up (root): N sleeping processes that each sit in a
// network namespace of their own, against the same N in their own mount namespace and in none, no gantry
// involved. Prints the CPU that every other process used while they slept (PID 1 named apart), per 10 s. On the VM
// these figures come from, PID 1 (the machine's supervisor) works in proportion to the network namespaces: every
// container has one (Docker's `--network none` too), so bench/density.mjs's figures at 10,000 carry it.
// See docs/architecture.md, "Where 10,000 stand now (stop 17)".
//   node bench/netns-neighbours.mjs [N]   (N 2000 by default; needs cc)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isKernelThread, processTicks } from './lib/processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every process's ticks but kernel threads (the kernel's own work is another figure), ours, the holder and its children. */
function ticks(skip) {
  const out = processTicks();
  for (const [pid, p] of out) if (isKernelThread(pid, p) || skip.has(pid) || skip.has(p.ppid)) out.delete(pid);
  return out;
}

async function measure(holder, n, flags) {
  const child = spawn(holder, [String(n), flags], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.value !== 'ready') throw new Error(`holder (${flags}) did not start`);
  await sleep(3000); // what their creation set off settles
  const skip = new Set([process.pid, child.pid]);
  const before = ticks(skip);
  await sleep(10_000);
  const after = ticks(skip);
  child.stdin.end();
  await new Promise((r) => child.on('exit', r));
  let pid1 = 0; let rest = 0;
  for (const [pid, x] of after) {
    const took = (x.ticks - (before.get(pid)?.ticks ?? x.ticks)) * 10;
    if (pid === 1) pid1 = took; else rest += took;
  }
  const name = after.get(1)?.name ?? '?';
  await sleep(3000); // the namespaces' teardown, before the next round
  return { pid1, rest, name };
}

export async function run({ n = 2000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-netns-'));
  try {
    const holder = join(dir, 'netns-neighbours');
    const cc = spawnSync('cc', ['-O2', '-o', holder, join(here, 'netns-neighbours.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);
    const results = [];
    for (const [flags, what] of [['-', 'no namespace of their own (the baseline)'], ['m', 'a mount namespace each'], ['n', 'a network namespace each']]) {
      const r = await measure(holder, n, flags);
      results.push({ name: `${n} sleeping processes, ${what}: other processes' CPU per 10 s`, value: r.pid1 + r.rest, unit: 'ms', note: `PID 1 (${r.name}) ${r.pid1} ms, the rest ${r.rest} ms` });
    }
    return { name: 'netns-neighbours', results };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { name, results } = await run({ n: Number(process.argv[2] ?? 2000) });
  console.log(`\n## ${name}`);
  console.log('| measurement | value | note |');
  console.log('| --- | ---: | --- |');
  for (const r of results) console.log(`| ${r.name} | ${r.value.toFixed(0)} ${r.unit} | ${r.note ?? ''} |`);
}
