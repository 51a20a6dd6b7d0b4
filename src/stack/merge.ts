// Merging of stack files (and of a service with the one it extends), by the Compose Specification's rules:
// mappings key by key; sequences appended; command/entrypoint/healthcheck.test replaced; ports, volumes,
// secrets and configs unique by key; `!reset` removes a value and `!override` replaces it whole.
// Before merging, list forms of mappings (environment, labels, depends_on, ...) are turned into mappings.

import type { PathSeg, PEntry, PNode, PScalar, PSeq } from './pnode.js';
import { mapEntryValues, pmap, pscalar } from './pnode.js';
import { parsePortShort, parseVolumeShort } from './short-syntax.js';

const REPLACED = new Set(['command', 'entrypoint']);
const UNIQUE = new Set(['ports', 'volumes', 'secrets', 'configs']);

/** Merges `over` onto `base`; undefined means "remove" (an `!reset`). Neither input is modified. */
export function mergeNode(base: PNode | undefined, over: PNode, path: readonly PathSeg[]): PNode | undefined {
  if (over.tag === 'reset') return undefined;
  if (over.tag === 'override' || base === undefined) return clean(over);
  if (base.kind === 'map' && over.kind === 'map') {
    const entries = new Map(base.entries);
    for (const [k, e] of over.entries) {
      const merged = mergeNode(base.entries.get(k)?.value, e.value, [...path, k]);
      if (merged === undefined) entries.delete(k);
      else entries.set(k, { key: k, keyPos: e.keyPos, value: merged });
    }
    return pmap(base.pos, entries);
  }
  if (base.kind === 'seq' && over.kind === 'seq') {
    const last = path[path.length - 1];
    const inService = path[0] === 'services' && path.length === 3;
    if ((inService && typeof last === 'string' && REPLACED.has(last)) || isHealthcheckTest(path)) return clean(over);
    if (inService && typeof last === 'string' && UNIQUE.has(last)) return { ...base, items: mergeUnique(base.items, over.items, last, path) };
    const items = [...base.items];
    for (const item of over.items) {
      const c = clean(item);
      if (c !== undefined) items.push(c);
    }
    return { ...base, items };
  }
  return clean(over);
}

function isHealthcheckTest(path: readonly PathSeg[]): boolean {
  return path.length === 4 && path[0] === 'services' && path[2] === 'healthcheck' && path[3] === 'test';
}

/**
 * Drops `!reset` members and tags from a node that is not merged with anything. A subtree with nothing to
 * drop is returned as it is (nothing modifies trees in place).
 */
function clean(node: PNode): PNode | undefined {
  if (node.tag === 'reset') return undefined;
  if (node.kind === 'scalar') return node.tag === undefined ? node : { ...node, tag: undefined };
  if (node.kind === 'seq') {
    let items: PNode[] | undefined;
    const src = node.items;
    for (let i = 0; i < src.length; i++) {
      const item = src[i] as PNode;
      const c = clean(item);
      if (c !== item) items ??= src.slice(0, i);
      if (items !== undefined && c !== undefined) items.push(c);
    }
    if (items === undefined && node.tag === undefined) return node;
    return { ...node, items: items ?? [...src], tag: undefined };
  }
  const entries = mapEntryValues(node.entries, (value) => clean(value));
  if (entries === undefined && node.tag === undefined) return node;
  return pmap(node.pos, entries ?? new Map(node.entries));
}

function mergeUnique(base: readonly PNode[], over: readonly PNode[], attr: string, path: readonly PathSeg[]): PNode[] {
  const items = [...base];
  const keys = items.map((n) => uniqueKey(attr, n));
  for (const item of over) {
    const key = uniqueKey(attr, item);
    const at = keys.indexOf(key);
    if (at < 0) {
      const c = clean(item);
      if (c !== undefined) {
        items.push(c);
        keys.push(key);
      }
      continue;
    }
    const merged = mergeNode(items[at], item, [...path, at]);
    if (merged === undefined) {
      items.splice(at, 1);
      keys.splice(at, 1);
    } else items[at] = merged;
  }
  return items;
}

function field(node: PNode, key: string): string | undefined {
  if (node.kind !== 'map') return undefined;
  const v = node.entries.get(key)?.value;
  return v?.kind === 'scalar' && v.value !== null ? String(v.value) : undefined;
}

/** The key that makes an entry of ports/volumes/secrets/configs unique. */
export function uniqueKey(attr: string, node: PNode): string {
  try {
    if (attr === 'ports') {
      if (node.kind === 'scalar') {
        return parsePortShort(node.value as string | number)
          .map((p) => `${p.host_ip ?? ''}|${p.published ?? ''}|${p.target}/${p.protocol}`)
          .join(',');
      }
      return `${field(node, 'host_ip') ?? ''}|${field(node, 'published') ?? ''}|${field(node, 'target') ?? ''}/${field(node, 'protocol') ?? 'tcp'}`;
    }
    if (attr === 'volumes') {
      if (node.kind === 'scalar') return parseVolumeShort(String(node.value)).target;
      return field(node, 'target') ?? '';
    }
    // secrets and configs: unique by their effective target path
    const dflt = (name: string): string => (attr === 'secrets' ? `/run/secrets/${name}` : `/${name}`);
    if (node.kind === 'scalar') return dflt(String(node.value));
    const target = field(node, 'target');
    if (target !== undefined) return target.startsWith('/') ? target : dflt(target);
    return dflt(field(node, 'source') ?? '');
  } catch {
    return node.kind === 'scalar' ? `raw:${String(node.value)}` : 'raw';
  }
}

const LIST_TO_MAP_SERVICE = new Set(['environment', 'labels', 'annotations', 'sysctls', 'depends_on', 'networks']);

/** Turns the list forms of mapping-like service attributes into mappings, keeping positions. */
export function canonicaliseService(svc: PNode): PNode {
  if (svc.kind !== 'map') return svc;
  let entries: Map<string, PEntry> | undefined;
  const set = (key: string, value: PNode): void => {
    entries ??= new Map(svc.entries);
    const e = svc.entries.get(key) as PEntry;
    entries.set(key, { ...e, value });
  };
  svc.entries.forEach((e, key) => {
    if (LIST_TO_MAP_SERVICE.has(key) && e.value.kind === 'seq') set(key, listToMap(e.value, key));
    if ((key === 'deploy' || key === 'build') && e.value.kind === 'map') {
      const inner = key === 'deploy' ? 'labels' : 'args';
      const v = e.value.entries.get(inner);
      if (v?.value.kind === 'seq') {
        const m = new Map(e.value.entries);
        m.set(inner, { ...v, value: listToMap(v.value, 'labels') });
        set(key, { ...e.value, entries: m });
      }
    }
  });
  return entries === undefined ? svc : { ...svc, entries };
}

function listToMap(seq: PSeq, attr: string): PNode {
  const items = seq.items;
  const entries = new Map<string, PEntry>();
  for (const item of items) {
    if (item.kind !== 'scalar' || item.value === null) {
      // Left for the schema to reject: keep it under a key that cannot clash.
      entries.set(`\u0000${entries.size}`, { key: `\u0000${entries.size}`, keyPos: item.pos, value: item });
      continue;
    }
    const text = String(item.value);
    let key = text;
    let value: PNode;
    if (attr === 'depends_on') value = pmap(item.pos);
    else if (attr === 'networks') value = pscalar(item.pos, null);
    else {
      const eq = text.indexOf('=');
      if (eq >= 0) {
        key = text.slice(0, eq);
        value = valueScalar(item, text.slice(eq + 1));
      } else value = attr === 'environment' ? pscalar(item.pos, null) : valueScalar(item, '');
    }
    entries.set(key, { key, keyPos: item.pos, value });
  }
  return { kind: 'map', entries, pos: seq.pos, tag: seq.tag };
}

function valueScalar(item: PScalar, value: string): PScalar {
  return pscalar(item.pos, value, false);
}
