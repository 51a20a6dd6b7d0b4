// Pure conversions from CgroupLimits to the values written into control files, and their validation.
import { GantryError } from '../../common/errors.js';
import type { CgroupLimits, DeviceRule } from './types.js';

export const DEFAULT_CPU_PERIOD = 100000;

function invalid(message: string, hint: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { hint });
}

function checkInteger(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(`${name} must be an integer of at least ${min}, got ${value}`, `give ${name} as a whole number`);
  }
}

/** Throws INVALID_ARGUMENT for limits the kernel would reject or that make no sense together. */
export function validateLimits(limits: CgroupLimits): void {
  checkInteger('memory limit', limits.memoryBytes, 0);
  if (limits.memorySwapBytes !== undefined && limits.memorySwapBytes !== -1) checkInteger('memory+swap limit', limits.memorySwapBytes, 1);
  checkInteger('cpu quota', limits.cpuQuotaMicros, 1000);
  checkInteger('cpu period', limits.cpuPeriodMicros, 1000);
  if (limits.cpuPeriodMicros !== undefined && limits.cpuPeriodMicros > 1000000) {
    throw invalid(`cpu period must be at most 1000000 microseconds, got ${limits.cpuPeriodMicros}`, 'use a period between 1ms and 1s');
  }
  checkInteger('cpu shares', limits.cpuShares, 2);
  if (limits.pidsLimit !== undefined && !Number.isSafeInteger(limits.pidsLimit)) {
    throw invalid(`pids limit must be an integer, got ${limits.pidsLimit}`, 'use a whole number; 0 or -1 means unlimited');
  }
  const memory = memoryLimit(limits);
  if (limits.memorySwapBytes !== undefined && memory === undefined) {
    throw invalid('a memory+swap limit needs a memory limit', 'set the memory limit (-m) together with --memory-swap');
  }
  if (memory !== undefined && limits.memorySwapBytes !== undefined && limits.memorySwapBytes !== -1 && limits.memorySwapBytes < memory) {
    throw invalid(`memory+swap limit (${limits.memorySwapBytes}) is lower than the memory limit (${memory})`,
      'memory-swap is memory plus swap: make it at least the memory limit, or -1 for unlimited swap');
  }
}

/** The memory limit in bytes, or undefined when none is set (0 means none, as in docker). */
export function memoryLimit(limits: CgroupLimits): number | undefined {
  return limits.memoryBytes === undefined || limits.memoryBytes === 0 ? undefined : limits.memoryBytes;
}

/** memory + swap in bytes, -1 for unlimited, undefined when no memory limit is set. Docker's default: 2 × memory. */
export function memorySwapLimit(limits: CgroupLimits): number | undefined {
  const memory = memoryLimit(limits);
  if (memory === undefined) return undefined;
  return limits.memorySwapBytes ?? 2 * memory;
}

/** v2 cpu.weight from v1 shares (the conversion the OCI runtimes use), clamped to 1..10000. */
export function cpuWeightFromShares(shares: number): number {
  const weight = 1 + Math.floor(((shares - 2) * 9999) / 262142);
  return Math.min(10000, Math.max(1, weight));
}

/** v2 cpu.max: "QUOTA PERIOD" ("max PERIOD" with only a period), or undefined when neither is set. */
export function cpuMaxValue(limits: CgroupLimits): string | undefined {
  if (limits.cpuQuotaMicros === undefined && limits.cpuPeriodMicros === undefined) return undefined;
  const period = limits.cpuPeriodMicros ?? DEFAULT_CPU_PERIOD;
  return `${limits.cpuQuotaMicros ?? 'max'} ${period}`;
}

/** pids.max value: "max" for <= 0. */
export function pidsMaxValue(limit: number): string {
  return limit <= 0 ? 'max' : String(limit);
}

export function formatDeviceRule(rule: DeviceRule): string {
  if (rule.type === 'a') return 'a';
  return `${rule.type} ${rule.major}:${rule.minor} ${rule.access}`;
}

/** Parses 'c 1:3 rwm', 'b *:* m' or 'a'. */
export function parseDeviceRule(text: string): DeviceRule {
  const t = text.trim();
  if (t === 'a' || t === 'a *:* rwm') return { type: 'a', major: '*', minor: '*', access: 'rwm' };
  const m = /^([bc]) (\d+|\*):(\d+|\*) ([rwm]{1,3})$/.exec(t);
  if (m === null || new Set(m[4]).size !== m[4]!.length) {
    throw invalid(`invalid device rule "${text}"`, "write it as 'TYPE MAJOR:MINOR ACCESS', e.g. 'c 1:3 rwm'");
  }
  const num = (s: string): number | '*' => (s === '*' ? '*' : Number(s));
  return { type: m[1] as 'b' | 'c', major: num(m[2]!), minor: num(m[3]!), access: m[4]! };
}
