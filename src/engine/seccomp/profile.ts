// Docker's seccomp profile format (the JSON of `--security-opt seccomp=FILE`), typed, and its parser.
// The parser checks every field it uses and names the first wrong one; unknown keys are ignored as Docker does
// (its profiles carry `comment` keys). Argument values are unsigned 64-bit, so they are read as bigint.
import { GantryError } from '../../common/errors.js';

export const SECCOMP_ACTIONS = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG'] as const;
export type SeccompAction = typeof SECCOMP_ACTIONS[number];

export const SECCOMP_OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ'] as const;
export type SeccompOp = typeof SECCOMP_OPS[number];

export interface SeccompArg {
  /** The syscall argument, 0..5. */
  index: number;
  value: bigint;
  /** The datum of SCMP_CMP_MASKED_EQ ((arg & value) == valueTwo); 0 when absent. */
  valueTwo: bigint;
  op: SeccompOp;
}

/** When a rule applies: `caps` against the container's capabilities, `arches` against the host's (Go names:
 * amd64, arm64…), `minKernel` against the running kernel. */
export interface SeccompFilter {
  caps: string[];
  arches: string[];
  minKernel?: string | undefined;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  /** ERRNO: the errno returned (EPERM when absent); TRACE: the value handed to the tracer. */
  errnoRet?: number | undefined;
  args: SeccompArg[];
  includes: SeccompFilter;
  excludes: SeccompFilter;
}

export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number | undefined;
  /** SCMP_ARCH_* names; empty = the native architecture. */
  architectures: string[];
  archMap: Array<{ architecture: string; subArchitectures: string[] }>;
  syscalls: SeccompRule[];
}

/** A profile is a small file; Docker's default is 13 KiB. */
export const SECCOMP_PROFILE_MAX_BYTES = 1 << 20;

const MAX_U64 = (1n << 64n) - 1n;

function bad(field: string, problem: string): GantryError {
  return new GantryError('SECCOMP_PROFILE_INVALID', `seccomp profile: ${field} ${problem}`, {
    detail: { field },
    hint: "fix the profile (Docker's seccomp JSON format), or use --security-opt seccomp=unconfined to run without one",
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: Json | undefined, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw bad(field, 'must be a list of strings');
  return v as string[];
}

function uint(v: Json | undefined, field: string, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(field, `must be an integer from 0 to ${max}`);
  return v;
}

/** A u64 argument value: a decimal integer (turned into a string by quoteArgValues so no digit is lost). */
function u64(v: Json | undefined, field: string): bigint {
  if (v === undefined || v === null) return 0n;
  const text = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof text !== 'string' || !/^\d{1,20}$/.test(text) || BigInt(text) > MAX_U64) throw bad(field, 'must be an integer from 0 to 2^64-1');
  return BigInt(text);
}

function action(v: Json | undefined, field: string): SeccompAction {
  if (v === 'SCMP_ACT_NOTIFY') throw bad(field, '`SCMP_ACT_NOTIFY` is not supported by gantry (it needs a listener)');
  if (typeof v !== 'string' || !(SECCOMP_ACTIONS as readonly string[]).includes(v)) throw bad(field, `must be one of ${SECCOMP_ACTIONS.join(', ')}`);
  return v as SeccompAction;
}

function filter(v: Json | undefined, field: string): SeccompFilter {
  if (v === undefined || v === null) return { caps: [], arches: [] };
  if (!isObject(v)) throw bad(field, 'must be an object');
  const minKernel = v.minKernel ?? undefined;
  if (minKernel !== undefined && minKernel !== null && (typeof minKernel !== 'string' || !/^\d+\.\d+$/.test(minKernel))) {
    throw bad(`${field}.minKernel`, 'must be a kernel version such as "4.8"');
  }
  return { caps: stringList(v.caps, `${field}.caps`), arches: stringList(v.arches, `${field}.arches`),
    ...(typeof minKernel === 'string' ? { minKernel } : {}) };
}

function arg(v: Json, field: string): SeccompArg {
  if (!isObject(v)) throw bad(field, 'must be an object');
  const index = uint(v.index, `${field}.index`, 5);
  if (index === undefined) throw bad(`${field}.index`, 'is required');
  if (typeof v.op !== 'string' || !(SECCOMP_OPS as readonly string[]).includes(v.op)) throw bad(`${field}.op`, `must be one of ${SECCOMP_OPS.join(', ')}`);
  return { index, value: u64(v.value, `${field}.value`), valueTwo: u64(v.valueTwo, `${field}.valueTwo`), op: v.op as SeccompOp };
}

function rule(v: Json, field: string): SeccompRule {
  if (!isObject(v)) throw bad(field, 'must be an object');
  // `name` is the format's older spelling of a one-name `names`
  const names = typeof v.name === 'string' && v.name !== '' ? [v.name] : stringList(v.names, `${field}.names`);
  if (names.length === 0) throw bad(`${field}.names`, 'must name at least one syscall');
  const args = v.args === undefined || v.args === null ? [] : v.args;
  if (!Array.isArray(args)) throw bad(`${field}.args`, 'must be a list');
  if (args.length > 6) throw bad(`${field}.args`, 'has more than 6 conditions');
  const errnoRet = uint(v.errnoRet, `${field}.errnoRet`, 0xffff);
  return { names, action: action(v.action, `${field}.action`), ...(errnoRet === undefined ? {} : { errnoRet }),
    args: args.map((a, i) => arg(a, `${field}.args[${i}]`)),
    includes: filter(v.includes, `${field}.includes`), excludes: filter(v.excludes, `${field}.excludes`) };
}

/** Quotes the numbers of `value`/`valueTwo` keys, so values above 2^53 keep every digit through JSON.parse. */
function quoteArgValues(text: string): string {
  return text.replace(/(?<!\\)"(value|valueTwo)"(\s*):(\s*)(-?\d[\d.eE+-]*)/g, '"$1"$2:$3"$4"');
}

/** Parses a profile in Docker's seccomp JSON format; throws SECCOMP_PROFILE_INVALID naming the field. */
export function parseSeccompProfile(text: string): SeccompProfile {
  if (Buffer.byteLength(text) > SECCOMP_PROFILE_MAX_BYTES) {
    throw new GantryError('TOO_LARGE', `seccomp profile: larger than ${SECCOMP_PROFILE_MAX_BYTES >> 10} KiB`, { hint: 'a profile is a small JSON file; check that the right file was given' });
  }
  let doc: Json;
  try {
    doc = JSON.parse(quoteArgValues(text)) as Json;
  } catch (err) {
    throw bad('the file', `is not valid JSON (${err instanceof Error ? err.message.replace(/ in JSON at position.*/, '') : 'parse error'})`);
  }
  if (!isObject(doc)) throw bad('the document', 'must be a JSON object');
  const defaultErrnoRet = uint(doc.defaultErrnoRet, 'defaultErrnoRet', 0xffff);
  const archMap = doc.archMap === undefined || doc.archMap === null ? [] : doc.archMap;
  if (!Array.isArray(archMap)) throw bad('archMap', 'must be a list');
  const syscalls = doc.syscalls === undefined || doc.syscalls === null ? [] : doc.syscalls;
  if (!Array.isArray(syscalls)) throw bad('syscalls', 'must be a list');
  return {
    defaultAction: action(doc.defaultAction, 'defaultAction'),
    ...(defaultErrnoRet === undefined ? {} : { defaultErrnoRet }),
    architectures: stringList(doc.architectures, 'architectures'),
    archMap: archMap.map((m, i) => {
      if (!isObject(m) || typeof m.architecture !== 'string') throw bad(`archMap[${i}].architecture`, 'must be a string');
      return { architecture: m.architecture, subArchitectures: stringList(m.subArchitectures, `archMap[${i}].subArchitectures`) };
    }),
    syscalls: syscalls.map((r, i) => rule(r, `syscalls[${i}]`)),
  };
}
