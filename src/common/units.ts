// Parsing of user-facing quantities: memory sizes, CPU counts, durations, signals.
import { constants } from 'node:os';
import { GantryError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2,
  mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** "64m", "1.5g", "512k", "1048576" → bytes (binary units, like docker). */
export function parseMemorySize(text: string, what = 'memory size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new GantryError('USAGE', `invalid ${what} "${text}"`, { hint: 'use a number with an optional unit: b, k, m, g (e.g. 64m)' });
  }
  return Math.floor(Number(m[1]) * unit);
}

/** "0.5" → 0.5 CPUs; must be > 0 and at most the host's CPU count is not enforced (docker errors above it). */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\s*\d*\.?\d+\s*$/.test(text) || !Number.isFinite(n) || n <= 0) {
    throw new GantryError('USAGE', `invalid CPU value "${text}"`, { hint: 'give a positive number of CPUs, e.g. --cpus 0.5' });
  }
  return n;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style duration ("1m30s", "500ms", "10s") → milliseconds. A bare number is seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) {
    throw new GantryError('USAGE', `invalid ${what} "${text}"`, { hint: 'use a duration like 10s, 1m30s or 500ms' });
  }
  return total;
}

/** "SIGTERM", "TERM", "15" → signal number. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0 && n < 65) return n;
  }
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw new GantryError('USAGE', `invalid signal "${text}"`, { hint: 'use a name like SIGTERM, TERM or KILL, or a number' });
  return n;
}

export function signalName(n: number): string {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name;
  return String(n);
}

/** Bytes → "1.5MiB" (docker's human units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v < 10 ? String(Number(v.toFixed(2))) : v.toFixed(1)}${units[i]}`;
}

/** Milliseconds ago → "3 seconds ago", "2 minutes ago" (docker style). */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'About a minute' : `${m} minutes`;
  const h = Math.round(m / 60);
  if (h < 48) return h === 1 ? 'About an hour' : `${h} hours`;
  return `${Math.round(h / 24)} days`;
}
