// Docker's `--filter` rules for `network ls` and `network prune`, pure: each turns the filters of a request
// into a predicate over networks in the API's shape. An unknown filter key or a bad value is refused.
import type { NetworkInspectInfo } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import { readDuration } from '../../common/units.js';

export type Filters = Record<string, string[]>;

/** Networks Docker calls pre-defined ("builtin"): they cannot be removed or pruned. */
export const PREDEFINED_NETWORKS: ReadonlySet<string> = new Set(['bridge', 'host', 'none', 'default']);

const LIST_KEYS = new Set(['name', 'id', 'driver', 'label', 'scope', 'type', 'dangling']);
const PRUNE_KEYS = new Set(['label', 'label!', 'until']);

function checkKeys(filters: Filters, allowed: ReadonlySet<string>, verb: string): void {
  for (const key of Object.keys(filters)) {
    if (!allowed.has(key)) {
      throw new GantryError('INVALID_ARGUMENT', `invalid filter '${key}'`, { hint: `network ${verb} filters: ${[...allowed].join(', ')}` });
    }
  }
}

/** `label=KEY` matches any value of KEY, `label=KEY=VALUE` only that value. */
function hasLabel(labels: Record<string, string> | undefined, spec: string): boolean {
  const l = labels ?? {};
  const i = spec.indexOf('=');
  return i < 0 ? Object.hasOwn(l, spec) : l[spec.slice(0, i)] === spec.slice(i + 1);
}

function boolValue(key: string, v: string): boolean {
  const s = v.toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new GantryError('INVALID_ARGUMENT', `invalid filter '${key}=${v}'`, { hint: `${key} is true or false` });
}

/**
 * `network ls` filters: name (substring), id (prefix), driver, scope, label (all must match), type
 * (custom|builtin) and dangling (no container attached). Values of one key are alternatives.
 */
export function networkListFilter(filters: Filters): (n: NetworkInspectInfo) => boolean {
  checkKeys(filters, LIST_KEYS, 'ls');
  for (const t of filters['type'] ?? []) {
    if (t !== 'custom' && t !== 'builtin') throw new GantryError('INVALID_ARGUMENT', `invalid filter 'type=${t}'`, { hint: 'type is custom or builtin' });
  }
  const dangling = (filters['dangling'] ?? []).map((v) => boolValue('dangling', v));
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const vs = filters[key];
    return vs === undefined || vs.length === 0 || vs.some(test);
  };
  return (n) => any('name', (v) => n.Name.includes(v))
    && any('id', (v) => n.Id.startsWith(v))
    && any('driver', (v) => n.Driver === v)
    && any('scope', (v) => n.Scope === v)
    && any('type', (v) => (v === 'builtin') === PREDEFINED_NETWORKS.has(n.Name))
    && (filters['label'] ?? []).every((spec) => hasLabel(n.Labels, spec))
    && dangling.every((d) => d === (Object.keys(n.Containers ?? {}).length === 0));
}

/**
 * An `until` value as a time in ms since the epoch: a Go duration before `now` ("24h", "1h30m"), Unix seconds
 * ("1700000000", "1700000000.5"), or a date Date.parse reads ("2024-01-02", RFC 3339).
 */
export function parseUntil(value: string, now: number): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const duration = readDuration(value);
  if ('ns' in duration) return now - duration.ns / 1e6;
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new GantryError('INVALID_ARGUMENT', `invalid filter 'until=${value}'`, { hint: 'until is a duration (24h), Unix seconds or a date (2024-01-02T15:04:05Z)' });
  }
  return t;
}

/**
 * `network prune` filters: label / label! (each must hold) and until (created before). Never a pre-defined
 * network, never one with a container attached.
 */
export function networkPruneFilter(filters: Filters, now: number): (n: NetworkInspectInfo) => boolean {
  checkKeys(filters, PRUNE_KEYS, 'prune');
  const until = (filters['until'] ?? []).map((v) => parseUntil(v, now));
  return (n) => !PREDEFINED_NETWORKS.has(n.Name)
    && Object.keys(n.Containers ?? {}).length === 0
    && (filters['label'] ?? []).every((spec) => hasLabel(n.Labels, spec))
    && (filters['label!'] ?? []).every((spec) => !hasLabel(n.Labels, spec))
    && until.every((t) => Date.parse(n.Created ?? '') < t);
}
