// Parsing of user-facing quantities: memory sizes, CPU counts, durations (the one duration parser, shared by
// the CLI flags and stack files), signals.
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

/** Go's strconv.ParseBool, which Docker's options follow: undefined for anything else. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** "0.5" → 0.5 CPUs; must be > 0 and at most the host's CPU count is not enforced (docker errors above it). */
export function parseCpus(text: string): number {
  const n = Number(text);
  if (!/^\s*\d*\.?\d+\s*$/.test(text) || !Number.isFinite(n) || n <= 0) {
    throw new GantryError('USAGE', `invalid CPU value "${text}"`, { hint: 'give a positive number of CPUs, e.g. --cpus 0.5' });
  }
  return n;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** Go's time.Duration is an int64 of nanoseconds. */
const MAX_DURATION_NS = 2 ** 63 - 1;

/** A duration read by readDuration: nanoseconds, or why the text is not a duration. */
export type DurationReading = { readonly ns: number } | { readonly problem: string };

/**
 * Reads a duration in Go syntax, as Docker and Compose write them (time.ParseDuration): one or more
 * NUMBER UNIT pairs, e.g. "1m30s", "500ms", "1h", "1.5s", ".5s", "2us"; units ns, us (µs, μs), ms, s, m, h;
 * "0" alone. As a Gantry extension a bare number ("10", or a YAML number) means seconds. Negative durations
 * are refused (no healthcheck interval, timeout or grace period can be negative). Pure; never throws.
 */
export function readDuration(input: string | number): DurationReading {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { problem: 'it is not a finite number' };
    if (input < 0) return { problem: 'it is negative' };
    return input * 1e9 > MAX_DURATION_NS ? { problem: 'it is too long' } : { ns: Math.round(input * 1e9) };
  }
  const text = input;
  if (text === '') return { problem: 'it is empty' };
  if (/\s/.test(text)) return { problem: 'it contains a space' };
  if (text.startsWith('-')) return { problem: 'it is negative' };
  const body = text.startsWith('+') ? text.slice(1) : text;
  if (/^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(body)) {
    const seconds = Number(body);
    return seconds * 1e9 > MAX_DURATION_NS ? { problem: 'it is too long' } : { ns: Math.round(seconds * 1e9) };
  }
  let total = 0;
  let i = 0;
  while (i < body.length) {
    const num = /^([0-9]*)(\.[0-9]*)?/.exec(body.slice(i)) as RegExpExecArray;
    if (num[0] === '' || num[0] === '.') return { problem: `expected a number at ${JSON.stringify(body.slice(i))}` };
    i += num[0].length;
    const unit = /^[^0-9.]*/.exec(body.slice(i))?.[0] ?? '';
    if (unit === '') return { problem: `missing unit after ${JSON.stringify(num[0])}` };
    const factor = DURATION_UNITS[unit];
    if (factor === undefined) return { problem: `unknown unit ${JSON.stringify(unit)}; units are ns, us, ms, s, m, h` };
    i += unit.length;
    total += Number(num[0]) * factor;
  }
  return total > MAX_DURATION_NS ? { problem: 'it is too long' } : { ns: Math.round(total) };
}

/**
 * A duration given on the command line, in nanoseconds (the Docker API's unit). Throws a USAGE error that
 * names `what` (e.g. "--health-interval") and says why the text is not a duration.
 */
export function parseDurationNs(text: string, what: string): number {
  const r = readDuration(text);
  if ('problem' in r) {
    throw new GantryError('USAGE', `invalid duration for ${what}: ${JSON.stringify(text)} (${r.problem})`, { hint: 'durations look like 30s, 1m30s, 500ms, 1.5h or 2us' });
  }
  return r.ns;
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
  // go-units HumanDuration, as Docker prints it: seconds and minutes truncated, hours rounded.
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return s === 1 ? '1 second' : `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m < 60) return m === 1 ? 'About a minute' : `${m} minutes`;
  const h = Math.floor(s / 3600 + 0.5);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(s / 3600 / 24 / 365)} years`;
}
