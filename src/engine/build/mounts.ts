// `RUN --mount=…` as BuildKit defines it: comma-separated key=value fields (CSV quoting), one of the types
// bind, cache, tmpfs, secret, ssh, with BuildKit's defaults. Returns the mount or a message for the user.

import { posix } from 'node:path';
import { isGantryError } from '../../common/errors.js';
import { parseGoBool, parseMemorySize } from '../../common/units.js';
import type { RunMount } from './model.js';

/** Splits one CSV record (Go's encoding/csv rules: `"a,b"` is one field, `""` inside quotes is a quote). */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let atStart = true;
  while (i < text.length) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (ch === '"') { quoted = false; i++; continue; }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && atStart) { quoted = true; atStart = false; i++; continue; }
    if (ch === ',') { fields.push(field); field = ''; atStart = true; i++; continue; }
    field += ch;
    atStart = false;
    i++;
  }
  fields.push(field);
  return fields;
}

const TYPES = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'] as const;
type MountType = (typeof TYPES)[number];

const KEYS: Readonly<Record<MountType, readonly string[]>> = {
  bind: ['target', 'source', 'from', 'readonly', 'readwrite'],
  cache: ['target', 'source', 'from', 'readonly', 'readwrite', 'id', 'sharing', 'mode', 'uid', 'gid'],
  tmpfs: ['target', 'size'],
  secret: ['target', 'id', 'env', 'required', 'mode', 'uid', 'gid'],
  ssh: ['target', 'id', 'required', 'mode', 'uid', 'gid'],
};

const ALIASES: Readonly<Record<string, string>> = {
  dst: 'target', destination: 'target', src: 'source', ro: 'readonly', rw: 'readwrite',
};

export type MountReading = { readonly mount: RunMount } | { readonly problem: string };

function intField(key: string, value: string, radix: 8 | 10): number | string {
  const ok = radix === 8 ? /^0?[0-7]+$/.test(value) : /^\d+$/.test(value);
  return ok ? parseInt(value, radix) : `${key}=${value} is not ${radix === 8 ? 'an octal mode' : 'a number'}`;
}

/** Reads the value of one `--mount` flag. */
export function parseMount(text: string): MountReading {
  const fields = new Map<string, string>();
  let type: MountType = 'bind';
  for (const raw of splitCsv(text)) {
    const field = raw.trim();
    if (field === '') continue;
    const eq = field.indexOf('=');
    const rawKey = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const key = ALIASES[rawKey] ?? rawKey;
    let value = eq < 0 ? undefined : field.slice(eq + 1);
    if (value === undefined) {
      if (key === 'readonly' || key === 'readwrite' || key === 'required') value = 'true';
      else return { problem: `invalid field ${JSON.stringify(field)}: it must be a key=value pair` };
    }
    if (key === 'type') {
      if (!(TYPES as readonly string[]).includes(value)) return { problem: `unsupported mount type ${JSON.stringify(value)} (BuildKit has ${TYPES.join(', ')})` };
      type = value as MountType;
      continue;
    }
    fields.set(key, value);
  }
  for (const key of fields.keys()) {
    if (!KEYS[type].includes(key)) return { problem: `unexpected key ${JSON.stringify(key)} for a mount of type ${type} (it takes ${KEYS[type].join(', ')})` };
  }
  const bool = (key: string, dflt: boolean): boolean | string => {
    const v = fields.get(key);
    if (v === undefined) return dflt;
    return parseGoBool(v) ?? `${key}=${v} is not a boolean`;
  };
  const num = (key: string, dflt: number, radix: 8 | 10): number | string => {
    const v = fields.get(key);
    return v === undefined ? dflt : intField(key, v, radix);
  };
  const target = fields.get('target');
  const firstProblem = (...values: (number | boolean | string)[]): string | undefined =>
    values.find((v): v is string => typeof v === 'string');

  if (type === 'tmpfs') {
    if (target === undefined) return { problem: 'a tmpfs mount needs target=PATH' };
    const sizeText = fields.get('size');
    let size: number | undefined;
    if (sizeText !== undefined) {
      try {
        size = parseMemorySize(sizeText, 'tmpfs size');
      } catch (e) {
        if (isGantryError(e)) return { problem: e.message };
        throw e;
      }
    }
    return { mount: { type, target, size } };
  }
  if (type === 'bind' || type === 'cache') {
    if (target === undefined) return { problem: `a ${type} mount needs target=PATH` };
    const rw = bool('readwrite', false);
    const ro = bool('readonly', type === 'bind' ? rw !== true : false);
    if (type === 'bind') {
      const p = firstProblem(rw, ro);
      if (p !== undefined) return { problem: p };
      return { mount: { type, target, source: fields.get('source') ?? '/', from: fields.get('from'), readonly: ro === true } };
    }
    const sharing = fields.get('sharing') ?? 'shared';
    if (sharing !== 'shared' && sharing !== 'private' && sharing !== 'locked') return { problem: `unsupported sharing value ${JSON.stringify(sharing)} (shared, private or locked)` };
    const mode = num('mode', 0o755, 8);
    const uid = num('uid', 0, 10);
    const gid = num('gid', 0, 10);
    const p = firstProblem(rw, ro, mode, uid, gid);
    if (p !== undefined) return { problem: p };
    return { mount: { type, target, id: fields.get('id') ?? target, sharing, from: fields.get('from'), source: fields.get('source'), readonly: ro === true, mode: mode as number, uid: uid as number, gid: gid as number } };
  }
  const required = bool('required', false);
  const mode = num('mode', type === 'secret' ? 0o400 : 0o600, 8);
  const uid = num('uid', 0, 10);
  const gid = num('gid', 0, 10);
  const p = firstProblem(required, mode, uid, gid);
  if (p !== undefined) return { problem: p };
  if (type === 'secret') {
    const env = fields.get('env');
    const id = fields.get('id') ?? (target !== undefined ? posix.basename(target) : env);
    if (id === undefined || id === '') return { problem: 'a secret mount needs id=NAME (or target=PATH)' };
    const file = target ?? (env === undefined ? `/run/secrets/${id}` : undefined);
    return { mount: { type, id, target: file, env, required: required === true, mode: mode as number, uid: uid as number, gid: gid as number } };
  }
  return { mount: { type, id: fields.get('id') ?? 'default', target: target ?? '/run/buildkit/ssh_agent.0', required: required === true, mode: mode as number, uid: uid as number, gid: gid as number } };
}
