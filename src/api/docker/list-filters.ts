// Docker's `filters` for `GET /containers/json`, `/images/json` and `/volumes`, as predicates. Values of one key
// are alternatives, keys must all hold; a key gantry cannot apply is a 400 naming it, never ignored.
import { GantryError } from '../../common/errors.js';
import type { ContainerView } from '../../engine/containers/record.js';

export type Filters = Record<string, string[]>;

export function checkFilterKeys(filters: Filters, known: readonly string[], what: string): void {
  for (const key of Object.keys(filters)) {
    if (!known.includes(key)) throw new GantryError('INVALID_ARGUMENT', `invalid filter '${key}'`, { hint: `${what} filter on: ${known.join(', ')}` });
  }
}

/** `label=key` or `label=key=value` against a set of labels. */
export function labelsMatch(labels: Readonly<Record<string, string>>, wanted: readonly string[]): boolean {
  return wanted.every((l) => {
    const i = l.indexOf('=');
    return i < 0 ? l in labels : labels[l.slice(0, i)] === l.slice(i + 1);
  });
}

/** A Docker boolean filter value ("true", "1", "false", "0"); anything else is a 400. */
export function boolFilter(key: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new GantryError('INVALID_ARGUMENT', `invalid filter '${key}=${value}'`, { hint: `${key} is true or false` });
}

/** An image reference as a container or image filter names it: `busybox` means `busybox:latest`. */
export function refMatches(ref: string, wanted: string): boolean {
  if (ref === wanted) return true;
  const lastPart = wanted.slice(wanted.lastIndexOf('/') + 1);
  return !lastPart.includes(':') && !wanted.includes('@') && ref === `${wanted}:latest`;
}

export const CONTAINER_FILTERS = ['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'health', 'network', 'volume'] as const;
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

/** A predicate over container views; `find` resolves the containers `before`/`since` name. */
export function containerFilter(filters: Filters, find: (ref: string) => ContainerView | undefined): (rec: ContainerView) => boolean {
  checkFilterKeys(filters, CONTAINER_FILTERS, 'containers');
  for (const s of filters['status'] ?? []) {
    if (!STATUSES.includes(s)) throw new GantryError('INVALID_ARGUMENT', `invalid filter 'status=${s}'`, { hint: `status is one of ${STATUSES.join(', ')}` });
  }
  for (const h of filters['health'] ?? []) {
    if (!HEALTH.includes(h)) throw new GantryError('INVALID_ARGUMENT', `invalid filter 'health=${h}'`, { hint: `health is one of ${HEALTH.join(', ')}` });
  }
  const exited = (filters['exited'] ?? []).map((v) => {
    if (!/^-?\d+$/.test(v)) throw new GantryError('INVALID_ARGUMENT', `invalid filter 'exited=${v}'`, { hint: 'exited is an exit code, e.g. exited=0' });
    return Number(v);
  });
  const created = (key: 'before' | 'since'): number | undefined => {
    const refs = filters[key] ?? [];
    if (refs.length === 0) return undefined;
    const times = refs.map((ref) => {
      const rec = find(ref);
      if (rec === undefined) throw new GantryError('CONTAINER_NOT_FOUND', `no such container: ${ref}`, { hint: `${key} names a container (gantry ps -a)` });
      return Date.parse(rec.created);
    });
    return key === 'before' ? Math.max(...times) : Math.min(...times);
  };
  const before = created('before');
  const since = created('since');
  const any = <T>(key: string, test: (v: string) => T): boolean => (filters[key] ?? []).length === 0 || (filters[key] ?? []).some((v) => Boolean(test(v)));
  return (rec) => {
    if (!labelsMatch(rec.config.labels, filters['label'] ?? [])) return false;
    if (!any('name', (n) => rec.name.includes(n.replace(/^\//, '')))) return false;
    if (!any('id', (n) => rec.id.startsWith(n))) return false;
    if (!any('status', (s) => rec.state.status === s)) return false;
    if (!any('ancestor', (a) => refMatches(rec.config.image, a) || rec.config.imageId === a || rec.config.imageId.startsWith(a.startsWith('sha256:') ? a : `sha256:${a}`))) return false;
    if (exited.length > 0 && !(rec.state.status === 'exited' && exited.includes(rec.state.exitCode))) return false;
    if (before !== undefined && !(Date.parse(rec.created) < before)) return false;
    if (since !== undefined && !(Date.parse(rec.created) > since)) return false;
    if (!any('health', (h) => (rec.state.health?.status ?? 'none') === h)) return false;
    if (!any('network', (n) => rec.host.networkMode === n || rec.host.networks.some((a) => a.network === n))) return false;
    if (!any('volume', (v) => rec.host.mounts.some((m) => m.source === v || m.target === v))) return false;
    return true;
  };
}

/** Docker's `reference` pattern (path.Match: `*` and `?` within one path part) against `name` or `name:tag`. */
export function referencePatternMatches(pattern: string, repoTag: string): boolean {
  const toRe = (p: string): RegExp => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  const colon = repoTag.lastIndexOf(':');
  const repo = colon > repoTag.lastIndexOf('/') ? repoTag.slice(0, colon) : repoTag;
  return toRe(pattern).test(repoTag) || toRe(pattern).test(repo) || refMatches(repoTag, pattern);
}

export const IMAGE_FILTERS = ['reference', 'dangling', 'label', 'before', 'since'] as const;

interface ListedImage { Id: string; RepoTags?: string[] | undefined; Created: number; Labels?: Record<string, string> | null | undefined }

/** A predicate over `/images/json` entries; `find` resolves the images `before`/`since` name. */
export function imageFilter(filters: Filters, find: (ref: string) => ListedImage | undefined): (img: ListedImage) => boolean {
  checkFilterKeys(filters, IMAGE_FILTERS, 'images');
  const dangling = (filters['dangling'] ?? []).map((v) => boolFilter('dangling', v));
  const created = (key: 'before' | 'since'): number | undefined => {
    const refs = filters[key] ?? [];
    if (refs.length === 0) return undefined;
    const times = refs.map((ref) => {
      const img = find(ref);
      if (img === undefined) throw new GantryError('IMAGE_NOT_FOUND', `no such image: ${ref}`, { hint: `${key} names an image (gantry images)` });
      return img.Created;
    });
    return key === 'before' ? Math.max(...times) : Math.min(...times);
  };
  const before = created('before');
  const since = created('since');
  const refs = filters['reference'] ?? [];
  return (img) => {
    const tags = img.RepoTags ?? [];
    if (refs.length > 0 && !refs.some((p) => tags.some((t) => referencePatternMatches(p, t)))) return false;
    if (dangling.length > 0 && !dangling.includes(tags.length === 0)) return false;
    if (!labelsMatch(img.Labels ?? {}, filters['label'] ?? [])) return false;
    if (before !== undefined && !(img.Created < before)) return false;
    if (since !== undefined && !(img.Created > since)) return false;
    return true;
  };
}

export const VOLUME_FILTERS = ['name', 'label', 'dangling', 'driver'] as const;

/** A predicate over volumes; `inUse` tells whether a container mounts it (not dangling). */
export function volumeFilter(filters: Filters, inUse: (name: string) => boolean): (v: { name: string; labels: Readonly<Record<string, string>> }) => boolean {
  checkFilterKeys(filters, VOLUME_FILTERS, 'volumes');
  const dangling = (filters['dangling'] ?? []).map((v) => boolFilter('dangling', v));
  return (v) => {
    if ((filters['name'] ?? []).length > 0 && !filters['name']!.some((n) => v.name.includes(n))) return false;
    if (!labelsMatch(v.labels, filters['label'] ?? [])) return false;
    if (dangling.length > 0 && !dangling.includes(!inUse(v.name))) return false;
    if ((filters['driver'] ?? []).length > 0 && !filters['driver']!.includes('local')) return false;
    return true;
  };
}
