// A small router for Docker Engine API paths: method + pattern with {params}, version prefix stripped.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GantryError } from '../common/errors.js';

export interface RequestContext {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when empty). */
  body: unknown;
  req: IncomingMessage;
  /** Set for plain requests; the handler may stream into it. */
  res?: ServerResponse | undefined;
  /** Set for hijacked (Upgrade: tcp) requests: the raw connection after the 101 response, which names the stream's
   *  framing as Docker does (raw with a tty, multiplexed otherwise); it resolves once the client has read that
   *  response (peer-read.ts), so what the handler writes next never arrives together with it. */
  hijack?: ((opts: { tty: boolean }) => Promise<Duplex>) | undefined;
}

/** A handler returns a JSON-able value (sent with 200/201), or `undefined` after writing the response itself. */
export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

export interface Route { method: string; pattern: RegExp; keys: string[]; handler: Handler; status: number; rawBody: boolean }

export class Router {
  readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler, opts: { status?: number; rawBody?: boolean } = {}): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_m, k: string) => { keys.push(k); return k === 'name' ? '(.+?)' : '([^/]+)'; })}$`);
    this.routes.push({ method, pattern, keys, handler, status: opts.status ?? 200, rawBody: opts.rawBody ?? false });
  }

  match(method: string, rawPath: string): { route: Route; params: Record<string, string> } | undefined {
    const path = rawPath.replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      try {
        route.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]!); });
      } catch {
        return undefined; // a malformed %-escape names nothing: 404, never a crash
      }
      return { route, params };
    }
    return undefined;
  }
}

/** Docker's `filters` query parameter: JSON of `{key: [values]}` (or the older `{key: {value: true}}`). */
export function filtersParam(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  try {
    const f = JSON.parse(raw) as Record<string, string[] | Record<string, boolean>>;
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Array.isArray(v) ? v : Object.keys(v).filter((x) => v[x])]));
  } catch {
    throw new GantryError('INVALID_ARGUMENT', 'invalid filters JSON', { hint: 'filters look like {"label":["app=web"]}' });
  }
}

export function boolParam(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null) return dflt;
  return v === '1' || v.toLowerCase() === 'true';
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** A terminal dimension (`h`, `w` of resize): a whole number 0-65535; absent → `dflt`; anything else is a 400. */
export function ttySizeParam(q: URLSearchParams, name: string, dflt: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n <= 0xffff)) {
    throw new GantryError('INVALID_ARGUMENT', `invalid terminal ${name === 'h' ? 'height' : 'width'} "${v}"`, { hint: `${name} is a whole number of ${name === 'h' ? 'rows' : 'columns'} from 0 to 65535` });
  }
  return n;
}
