// The kernel's memory as the memory benches read it (density, slab-per-container).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Frees the slab pages that hold no live object (every cache's `shrink`): the kernel keeps those of earlier runs'
 * containers, and new objects would fill them without a new page, flattering a MemAvailable drop.
 */
export function shrinkSlabs() {
  for (const cache of readdirSync('/sys/kernel/slab')) {
    try { writeFileSync(`/sys/kernel/slab/${cache}/shrink`, '1'); } catch { /* an alias, or not shrinkable */ }
  }
}

/** /proc/meminfo, kB by field. */
export function meminfoKb() {
  const out = {};
  for (const m of readFileSync('/proc/meminfo', 'utf8').matchAll(/^(\w+):\s+(\d+) kB/gm)) out[m[1]] = Number(m[2]);
  return out;
}
