// Every process's CPU so far, for benches that tell where a machine's CPU went (theirs, the kernel's, others').
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime (clock ticks, 100 per second) of every process, with its name and parent, by pid (a walk over /proc). */
export function processTicks() {
  const out = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      out.set(Number(e), { name: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* gone */ }
  }
  return out;
}

/** A kernel thread: kthreadd (pid 2) or one of its children. */
export const isKernelThread = (pid, p) => pid === 2 || p.ppid === 2;
