// Versioned JSON records. Every record the daemon persists is written (atomically) as `{ "version": N, ... }`:
// the version sits beside the record's own members, so files stay readable by people and tools, and a build that
// predates versioning still reads them (it ignores the extra member). Reading:
//   - no `version` member: written before records were versioned (format 0), upgraded in memory;
//   - a version this build knows: upgraded in memory step by step to the current one (written back on next save);
//   - a newer version: refused (STATE_TOO_NEW), and the store must neither act on nor overwrite the file;
//   - not JSON, not an object, or not the record's shape: damaged (STATE_CORRUPT); stores move it to
//     `<root>/quarantine/` (quarantineRecord) and never act on it.
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from './atomic-file.js';
import { GantryError } from './errors.js';

export type RecordData = Record<string, unknown>;

export interface RecordFormat<T> {
  /** What the record is, for messages ("container record"). */
  readonly what: string;
  /** The format this build writes. */
  readonly version: number;
  /** upgrades[n] turns format n into format n + 1; a format without a step up to `version` is not readable. */
  readonly upgrades: Readonly<Record<number, (data: RecordData) => RecordData>>;
  /** Why the data (at the current format) is not a record of this kind, or undefined when it is. */
  readonly check: (data: RecordData) => string | undefined;
  /** Never set: carries T, the record type `check` vouches for, so readers infer it from the format. */
  readonly recordType?: T;
}

/** Records carry no `version` member of their own: it is the format's. */
export type Unversioned = { readonly version?: never };

export type RecordRead<T> =
  | { readonly status: 'ok'; readonly value: T; readonly fromVersion: number }
  | { readonly status: 'missing' }
  /** STATE_TOO_NEW (leave the file alone) or STATE_CORRUPT (damaged: quarantine it). */
  | { readonly status: 'refused'; readonly error: GantryError };

export const TOO_NEW_HINT = 'upgrade gantry, or move the file aside';

/** A record file: its absolute path and the path relative to the daemon root that messages show. */
export interface RecordFile {
  readonly root: string;
  readonly rel: string;
}

export function recordPath(f: RecordFile): string {
  return join(f.root, f.rel);
}

function damaged(f: RecordFile, format: RecordFormat<unknown>, reason: string): RecordRead<never> {
  return {
    status: 'refused',
    error: new GantryError('STATE_CORRUPT', `${f.rel} is damaged (${reason})`, {
      hint: `a ${format.what} is only written whole; something outside gantry changed it`, detail: { path: f.rel },
    }),
  };
}

// The refusals of this process, by root then path: what the daemon reports at start and in `info`. A later read
// that finds the file readable (or gone) clears its entry.
const refusals = new Map<string, Map<string, GantryError>>();

function noteRefusal(f: RecordFile, error: GantryError | undefined): void {
  let byPath = refusals.get(f.root);
  if (error === undefined) { byPath?.delete(f.rel); return; }
  if (byPath === undefined) refusals.set(f.root, byPath = new Map());
  byPath.set(f.rel, error);
}

/** Records under `root` refused so far (too new, or damaged), in path order. */
export function refusedRecords(root: string): GantryError[] {
  return [...(refusals.get(root) ?? new Map<string, GantryError>()).entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, e]) => e);
}

/** Reads and upgrades a record. Never throws for the file's content; I/O errors other than ENOENT are thrown. */
export function readRecord<T>(f: RecordFile, format: RecordFormat<T>): RecordRead<T> {
  const read = readUnnoted(f, format);
  noteRefusal(f, read.status === 'refused' ? read.error : undefined);
  return read;
}

function readUnnoted<T>(f: RecordFile, format: RecordFormat<T>): RecordRead<T> {
  let text: string;
  try {
    text = readFileSync(recordPath(f), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return damaged(f, format, text.trim() === '' ? 'empty' : 'not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return damaged(f, format, 'not a JSON object');
  const { version, ...rest } = parsed as RecordData;
  const fromVersion = version === undefined ? 0 : version;
  if (typeof fromVersion !== 'number' || !Number.isSafeInteger(fromVersion) || fromVersion < 0) {
    return damaged(f, format, 'its "version" is not a format number');
  }
  if (fromVersion > format.version) {
    return {
      status: 'refused',
      error: new GantryError('STATE_TOO_NEW',
        `${f.rel} was written by a newer gantry (format ${fromVersion}, this build reads up to ${format.version})`,
        { hint: TOO_NEW_HINT, detail: { path: f.rel, version: fromVersion, supported: format.version } }),
    };
  }
  let data: RecordData = rest;
  for (let v = fromVersion; v < format.version; v++) {
    const step = format.upgrades[v];
    if (step === undefined) return damaged(f, format, `format ${v} is not one this build can read`);
    data = step(data);
  }
  const why = format.check(data);
  if (why !== undefined) return damaged(f, format, why);
  return { status: 'ok', value: data as T, fromVersion };
}

/** Writes a record atomically at the format's current version (the version first, for people reading it). */
export function writeRecord<T extends object & Unversioned>(f: RecordFile, format: RecordFormat<T>, value: T, o: { flushLater?: boolean } = {}): void {
  mkdirSync(dirname(recordPath(f)), { recursive: true, mode: 0o700 });
  writeJsonAtomic(recordPath(f), { version: format.version, ...value }, o);
}

export const QUARANTINE_DIR = 'quarantine';

/**
 * Moves a damaged record to `<root>/quarantine/<time>-<path with dashes>` (never deleted: the user may repair it)
 * and returns that path relative to the root.
 */
export function quarantineRecord(f: RecordFile): string {
  const dir = join(f.root, QUARANTINE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '');
  const base = `${stamp}-${f.rel.replace(/\//g, '-')}`;
  let name = base;
  for (let n = 1; existsSync(join(dir, name)); n++) name = `${base}.${n}`;
  renameSync(recordPath(f), join(dir, name));
  return `${QUARANTINE_DIR}/${name}`;
}

/** The refusal of a damaged record after it was quarantined: where it went and what the daemon does instead. */
export function quarantinedError(f: RecordFile, error: GantryError, movedTo: string, consequence: string, hint: string): GantryError {
  const e = new GantryError('STATE_CORRUPT', `${error.message}; moved to ${movedTo}; ${consequence}`, { hint, detail: { path: f.rel, quarantined: movedTo } });
  noteRefusal(f, e);
  return e;
}

/** A refusal with what the daemon does about it added to the message (and reported so). */
export function withConsequence(f: RecordFile, error: GantryError, consequence: string, hint = error.hint): GantryError {
  const e = new GantryError(error.code, `${error.message}; ${consequence}`, { hint, detail: error.detail });
  noteRefusal(f, e);
  return e;
}

/** Reports a refusal the store found itself (e.g. a quarantined record still missing). */
export function reportRefusal(f: RecordFile, error: GantryError): GantryError {
  noteRefusal(f, error);
  return error;
}

/** One log line for a refused record. */
export function refusalLine(error: GantryError): string {
  return `error[${error.code}]: ${error.message}${error.hint === undefined ? '' : ` (hint: ${error.hint})`}`;
}

// ---- shape checks --------------------------------------------------------------------------------------------

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array';

function kindOf(v: unknown): Kind | 'null' | 'other' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object' ? t : 'other';
}

/** The first member of `data` that is missing or of the wrong kind, as a reason for `check`. */
export function checkMembers(data: RecordData, members: Readonly<Record<string, Kind>>): string | undefined {
  for (const [key, kind] of Object.entries(members)) {
    const got = kindOf(data[key]);
    if (got !== kind) return data[key] === undefined ? `no "${key}"` : `"${key}" is not ${kind === 'array' || kind === 'object' ? 'an' : 'a'} ${kind}`;
  }
  return undefined;
}

/** The upgrade from format 0 (before records were versioned) for records whose layout did not change. */
export const SAME_LAYOUT = (data: RecordData): RecordData => data;
