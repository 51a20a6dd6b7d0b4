// Docker's prune filters: `until` (a Unix time, an RFC 3339 date, or a Go duration before now) and
// `label` / `label!` (`KEY` or `KEY=VALUE`). Any other key is refused, as Docker does.
import { GantryError } from '../../common/errors.js';
import { readDuration } from '../../common/units.js';

export interface PruneFilter {
  /** Objects created before this (ms since the epoch) match; undefined: any age. */
  untilMs: number | undefined;
  label: string[];
  notLabel: string[];
  /** volume prune's `all` (Docker ≥ 23: named volumes too). */
  all: boolean;
}

function untilOf(text: string, nowMs: number): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (!Number.isNaN(date) && /\d{4}-\d{2}-\d{2}/.test(text)) return date;
  const d = readDuration(text);
  if ('problem' in d) throw new GantryError('INVALID_ARGUMENT', `invalid until filter "${text}" (${d.problem})`, { hint: 'until takes a duration (24h), a Unix time or an RFC 3339 date' });
  return nowMs - d.ns / 1e6;
}

export function parsePruneFilters(filters: Record<string, string[]>, allowed: readonly string[], nowMs = Date.now()): PruneFilter {
  for (const key of Object.keys(filters)) {
    if (!allowed.includes(key)) throw new GantryError('INVALID_ARGUMENT', `invalid filter "${key}"`, { hint: `prune takes ${allowed.join(', ')}` });
  }
  const until = filters['until'] ?? [];
  if (until.length > 1) throw new GantryError('INVALID_ARGUMENT', 'more than one until filter', { hint: 'give one until=…' });
  const all = filters['all'] ?? [];
  return {
    untilMs: until[0] === undefined ? undefined : untilOf(until[0], nowMs),
    label: filters['label'] ?? [],
    notLabel: filters['label!'] ?? [],
    all: all.some((v) => v === 'true' || v === '1'),
  };
}

function hasLabel(labels: Readonly<Record<string, string>>, spec: string): boolean {
  const eq = spec.indexOf('=');
  return eq < 0 ? spec in labels : labels[spec.slice(0, eq)] === spec.slice(eq + 1);
}

/** Whether an object created at `createdMs` with `labels` is one the filter prunes. */
export function matchesPrune(f: PruneFilter, createdMs: number, labels: Readonly<Record<string, string>>): boolean {
  if (f.untilMs !== undefined && !(createdMs < f.untilMs)) return false;
  if (!f.label.every((l) => hasLabel(labels, l))) return false;
  return !f.notLabel.some((l) => hasLabel(labels, l));
}
