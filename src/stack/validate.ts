// Schema validation (ajv code generated at build time) and the translation of ajv's errors into located,
// readable diagnostics: for a "one of" choice, the branch whose type matched is reported, not all of them.

import { DESCRIPTIONS, KNOWN_KEYS, validate as generated } from './generated/stack-validator.js';
import { didYouMean } from './suggest.js';
import type { PathSeg, PMap, PNode } from './pnode.js';
import { getChild, locate, toPlain } from './pnode.js';
import type { Reporter } from './report.js';

interface AjvError {
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message?: string;
  readonly propertyName?: string;
}

type ValidateFn = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
const validateFn = generated as unknown as ValidateFn;
const knownKeys = KNOWN_KEYS as unknown as Record<string, readonly string[]>;
const descriptions = DESCRIPTIONS as unknown as Record<string, string>;

export function validateTree(root: PMap, reporter: Reporter): void {
  if (validateFn(toPlain(root))) return;
  const errors = validateFn.errors ?? [];
  for (const e of selectErrors(errors)) report(e, root, reporter);
}

/** Drops the errors of "one of" branches that do not apply; returns what should be reported. */
function selectErrors(errors: readonly AjvError[]): AjvError[] {
  const suppressed = new Set<AjvError>();
  const choices = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  const typeLists = new Map<AjvError, string[]>();
  for (const c of choices) {
    if (suppressed.has(c)) continue;
    const prefix = `${c.schemaPath}/`;
    const within = (e: AjvError): boolean => e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`);
    const branch = errors.filter((e) => e.schemaPath.startsWith(prefix) && within(e));
    const byIndex = new Map<string, AjvError[]>();
    for (const e of branch) {
      const i = e.schemaPath.slice(prefix.length).split('/')[0] as string;
      byIndex.set(i, [...(byIndex.get(i) ?? []), e]);
    }
    const typeMiss = (i: string): AjvError | undefined =>
      byIndex.get(i)?.find((e) => e.keyword === 'type' && e.instancePath === c.instancePath && e.schemaPath === `${prefix}${i}/type`);
    const matched = [...byIndex.keys()].filter((i) => typeMiss(i) === undefined);
    if (matched.length > 0) {
      suppressed.add(c);
      for (const e of branch) if (!e.schemaPath.startsWith(`${prefix}${matched[0]}/`)) suppressed.add(e);
    } else {
      for (const e of branch) suppressed.add(e);
      typeLists.set(c, [...byIndex.keys()].flatMap((i) => typeNames(typeMiss(i)?.params['type'])));
    }
  }
  // propertyNames: the inner error carries the offending name; keep only the outer one.
  for (const e of errors) if (e.propertyName !== undefined) suppressed.add(e);
  return errors
    .filter((e) => !suppressed.has(e))
    .map((e) => (typeLists.has(e) ? { ...e, keyword: 'type', params: { type: typeLists.get(e) } } : e));
}

function typeNames(t: unknown): string[] {
  if (Array.isArray(t)) return t.map(String);
  return typeof t === 'string' ? t.split(',') : [];
}

function decodePath(root: PNode, pointer: string): PathSeg[] {
  if (pointer === '') return [];
  const out: PathSeg[] = [];
  let node: PNode | undefined = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const s: PathSeg = node?.kind === 'seq' ? Number(seg) : seg;
    out.push(s);
    node = getChild(node, s);
  }
  return out;
}

function nodeAt(root: PNode, path: readonly PathSeg[]): PNode | undefined {
  let n: PNode | undefined = root;
  for (const s of path) n = getChild(n, s);
  return n;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  array: 'a list',
  object: 'a mapping',
  null: 'null',
};

function describeNode(n: PNode | undefined): string {
  if (n === undefined) return 'nothing';
  if (n.kind === 'map') return 'a mapping';
  if (n.kind === 'seq') return 'a list';
  if (n.value === null) return 'null';
  return `${typeof n.value === 'string' ? 'the string' : typeof n.value === 'boolean' ? 'the boolean' : 'the number'} ${JSON.stringify(n.value)}`;
}

function owner(path: readonly PathSeg[]): string {
  if (path.length === 0) return 'at the top level';
  if (path[0] === 'services' && path.length === 2) return `in service "${String(path[1])}"`;
  const last = path[path.length - 1];
  return `in ${typeof last === 'number' ? `item ${last} of ${String(path[path.length - 2])}` : `"${String(last)}"`}`;
}

function report(e: AjvError, root: PMap, reporter: Reporter): void {
  const path = decodePath(root, e.instancePath);
  const node = nodeAt(root, path);
  const pos = locate(root, path);
  const last = path[path.length - 1];
  const name = path.length === 0 ? 'the document' : typeof last === 'number' ? `${String(path[path.length - 2])}[${last}]` : String(last);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(e.params['additionalProperty']);
      const keyPath = [...path, key];
      const allowed = knownKeys[e.schemaPath] ?? [];
      const guess = didYouMean(key, allowed);
      reporter.error('SPEC_UNKNOWN_KEY', `unknown key "${key}" ${owner(path)}`, locate(root, keyPath, true), keyPath, guess !== undefined ? `did you mean \`${guess}\`?` : 'extension keys must start with "x-"');
      return;
    }
    case 'propertyNames': {
      const key = String(e.params['propertyName']);
      const keyPath = [...path, key];
      reporter.error('SPEC_INVALID_NAME', `invalid name "${key}" ${owner(path)}`, locate(root, keyPath, true), keyPath, 'names may contain only letters, digits, ".", "_" and "-"');
      return;
    }
    case 'type': {
      const want = typeNames(e.params['type']).filter((t, i, a) => a.indexOf(t) === i && !(t === 'integer' && a.includes('number')));
      // A string is accepted for numbers and booleans only for interpolation; say what is really meant.
      const shown = want.length === 2 && want.includes('string') && want.some((t) => t === 'integer' || t === 'number' || t === 'boolean') ? want.filter((t) => t !== 'string') : want;
      reporter.error('SPEC_INVALID_TYPE', `${name} must be ${orList(shown.map((t) => TYPE_WORDS[t] ?? t))}, not ${describeNode(node)}`, pos, path);
      return;
    }
    case 'enum': {
      const allowed = (e.params['allowedValues'] as unknown[] | undefined)?.map(String) ?? [];
      const value = node?.kind === 'scalar' ? String(node.value) : '';
      const guess = didYouMean(value, allowed);
      reporter.error('SPEC_INVALID_VALUE', `invalid ${name}: ${describeNode(node)}; expected one of: ${allowed.join(', ')}`, pos, path, guess !== undefined ? `did you mean \`${guess}\`?` : undefined);
      return;
    }
    case 'pattern': {
      const pattern = String(e.params['pattern']);
      const desc = descriptions[e.schemaPath.replace(/\/pattern$/, '')];
      const isName = name === 'name' || path[path.length - 2] === 'profiles';
      const hint = pattern.includes('(ns|us')
        ? 'durations look like 30s, 1m30s, 500ms or 2h'
        : pattern.includes('[bkmgtBKMGT]')
          ? 'sizes look like 512m, 1g, 64k, or a number of bytes'
          : desc === undefined
            ? undefined
            : `expected ${lowerFirst(desc)}`;
      reporter.error(isName ? 'SPEC_INVALID_NAME' : 'SPEC_INVALID_VALUE', `invalid ${name}: ${describeNode(node)}`, pos, path, hint);
      return;
    }
    case 'required': {
      const missing = String(e.params['missingProperty']);
      reporter.error('SPEC_MISSING_KEY', `missing required key "${missing}" ${owner(path)}`, pos, path);
      return;
    }
    default:
      reporter.error('SPEC_INVALID_VALUE', `${name} ${e.message ?? 'is invalid'}`, pos, path);
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] as string}`;
}
