// Kernel memory of a masked directory (root): N empty read-only tmpfs mounts (`size=0`, what the shim mounted on the
// first masked directory of every container) against N empty directories of one tmpfs bound read-only (what it
// binds now: a hidden directory of the container's /dev tmpfs; native/shim/rootfs.c, mask), in a private mount
// namespace (`unshare -m`) of a shell doing the mounts. Per mount: the slab caches that grew by half an object or
// more (bytes, objects), and /proc/meminfo's Slab, SUnreclaim and Percpu (system-wide: other workers show in them),
// sampled after writing 1 to every /sys/kernel/slab/*/shrink, each variant ROUNDS times. See docs/architecture.md, "Masked paths".
//   node bench/mask-memory.mjs [N] [ROUNDS]   (default 1000, 3)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 3);
const dir = mkdtempSync('/tmp/gantry-mask-memory-');
// Samples are files named after the step; the shell makes and removes every mount inside its own namespace.
const script = `set -e
out=${dir}; n=${N}
sample() { for f in /sys/kernel/slab/*/shrink; do echo 1 > "$f" 2>/dev/null || true; done; sleep 0.5
  cat /proc/slabinfo > "$out/$1.slab"; cat /proc/meminfo > "$out/$1.mem"; }
mount --make-rprivate /
mkdir "$out/m"; mount -t tmpfs -o size=64m tmpfs "$out/m"; mkdir "$out/m/dev"; mount -t tmpfs -o size=64m tmpfs "$out/m/dev"
i=0; while [ $i -lt $n ]; do mkdir "$out/m/t$i"; i=$((i+1)); done
r=0; while [ $r -lt ${ROUNDS} ]; do
  sample tmpfs0-$r
  i=0; while [ $i -lt $n ]; do mount -t tmpfs -o ro,nosuid,nodev,noexec,size=0 tmpfs "$out/m/t$i"; i=$((i+1)); done
  sample tmpfs1-$r
  i=0; while [ $i -lt $n ]; do umount "$out/m/t$i"; i=$((i+1)); done
  sample dir0-$r
  i=0; while [ $i -lt $n ]; do mkdir "$out/m/dev/d$i"; mount --bind "$out/m/dev/d$i" "$out/m/t$i"
    mount -o remount,bind,ro,nosuid,nodev,noexec "$out/m/t$i"; i=$((i+1)); done
  sample dir1-$r
  i=0; while [ $i -lt $n ]; do umount "$out/m/t$i"; rmdir "$out/m/dev/d$i"; i=$((i+1)); done
  r=$((r+1))
done
umount "$out/m/dev"; umount "$out/m"`;

function slab(step) {
  const m = new Map();
  for (const line of readFileSync(join(dir, `${step}.slab`), 'utf8').split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 4) m.set(f[0], { objs: Number(f[1]), size: Number(f[3]) });
  }
  return m;
}
function meminfo(step) {
  const out = {};
  for (const m of readFileSync(join(dir, `${step}.mem`), 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}
try {
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unshare: ${r.stderr}`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of ['tmpfs', 'dir']) {
      const [s0, s1] = [slab(`${v}0-${round}`), slab(`${v}1-${round}`)];
      const [m0, m1] = [meminfo(`${v}0-${round}`), meminfo(`${v}1-${round}`)];
      // the caches that grew by half an object per mount or more: what the mounts made (the shell's forks of mount(8)
      // and other workers leave fractions of an object per mount)
      const caches = [...s1].map(([k, c]) => [k, (c.objs - (s0.get(k)?.objs ?? 0)) / N, c.size])
        .filter(([, objs]) => Math.abs(objs) >= 0.5).map(([k, objs, size]) => [k, objs * size, objs]).sort((a, b) => b[1] - a[1]);
      const total = caches.reduce((t, [, b]) => t + b, 0);
      const mem = ['Slab', 'SUnreclaim', 'Percpu'].map((k) => `${k} ${((m1[k] - m0[k]) / N).toFixed(0)}`).join(', ');
      console.log(`round ${round} ${v.padEnd(5)} per mount: ${total.toFixed(0)} B of slab in ${caches.map(([k, b, o]) => `${k} ${b.toFixed(0)} (${o.toFixed(1)})`).join(', ')}; meminfo ${mem} B`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
