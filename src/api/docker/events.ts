// `/events` in Docker's shape: the legacy `status`/`id`/`from` fields older API versions read (the docker CLI
// below 1.30 waits for exits through them), Docker's filters, and `since`/`until` times.
import { GantryError } from '../../common/errors.js';
import { readDuration } from '../../common/units.js';
import type { EngineEvent } from '../../engine/events/bus.js';

export interface DockerEvent extends EngineEvent { status?: string; id?: string; from?: string }

/** Adds the fields Docker sends beside Type/Action/Actor: `status`/`id`/`from` for containers, `status`/`id` for images. */
export function dockerEvent(e: EngineEvent): DockerEvent {
  if (e.Type === 'container') return { status: e.Action, id: e.Actor.ID, from: e.Actor.Attributes['image'] ?? '', ...e };
  if (e.Type === 'image') return { status: e.Action, id: e.Actor.ID, ...e };
  return e;
}

const EVENT_FILTERS = ['type', 'event', 'container', 'image', 'label', 'network', 'volume', 'daemon', 'scope'] as const;

function nameOrId(e: EngineEvent, values: string[]): boolean {
  const name = e.Actor.Attributes['name'] ?? '';
  return values.some((v) => v === name || v === `/${name}` || (v.length > 0 && e.Actor.ID.startsWith(v)));
}

/** Docker's rules: values of one key are alternatives, keys must all hold. An unknown key is a 400 naming it. */
export function eventFilter(filters: Record<string, string[]>): (e: EngineEvent) => boolean {
  for (const key of Object.keys(filters)) {
    if (!(EVENT_FILTERS as readonly string[]).includes(key)) {
      throw new GantryError('INVALID_ARGUMENT', `invalid filter '${key}'`, { hint: `events filter on: ${EVENT_FILTERS.join(', ')}` });
    }
  }
  const has = (k: string): string[] | undefined => (filters[k] !== undefined && filters[k].length > 0 ? filters[k] : undefined);
  return (e) => {
    const type = has('type');
    if (type && !type.includes(e.Type)) return false;
    // `health_status` matches "health_status: healthy"; `exec_start` matches "exec_start: sh -c …".
    const event = has('event');
    if (event && !event.some((v) => e.Action === v || e.Action.startsWith(`${v}:`))) return false;
    const container = has('container');
    if (container && !(e.Type === 'container' && nameOrId(e, container))) return false;
    const image = has('image');
    if (image && !(e.Type === 'image' ? nameOrId(e, image) || image.includes(e.Actor.ID) : e.Type === 'container' && image.includes(e.Actor.Attributes['image'] ?? ''))) return false;
    const network = has('network');
    if (network && !(e.Type === 'network' && nameOrId(e, network))) return false;
    const volume = has('volume');
    if (volume && !(e.Type === 'volume' && volume.includes(e.Actor.ID))) return false;
    const daemon = has('daemon');
    if (daemon && e.Type !== 'daemon') return false;
    const scope = has('scope');
    if (scope && !scope.includes('local')) return false;
    for (const l of has('label') ?? []) {
      const i = l.indexOf('=');
      if (i < 0 ? !(l in e.Actor.Attributes) : e.Actor.Attributes[l.slice(0, i)] !== l.slice(i + 1)) return false;
    }
    return true;
  };
}

/**
 * A `since`/`until` value as Docker reads it: Unix seconds with an optional fraction ("1700000000.5"), a Go
 * duration back from now ("10m"), or an RFC 3339 date. Answers nanoseconds since the epoch.
 */
export function eventTimeNano(text: string, name: string, nowMs = Date.now()): number {
  if (/^\d+(\.\d{1,9})?$/.test(text)) {
    const [secs, frac = ''] = text.split('.');
    return Number(secs) * 1e9 + Number(frac.padEnd(9, '0'));
  }
  const d = readDuration(text);
  if ('ns' in d) return nowMs * 1e6 - d.ns;
  const date = Date.parse(text);
  if (Number.isFinite(date)) return date * 1e6;
  throw new GantryError('INVALID_ARGUMENT', `invalid ${name} "${text}"`, { hint: `${name} is Unix seconds (1700000000), a duration back from now (10m) or a date (2024-01-02T15:04:05Z)` });
}
