// The CLI's client for gantryd: JSON requests, streams, hijacked (Upgrade: tcp) connections, and starting
// the daemon in the background when nothing answers on the default socket.
import type * as ChildProcess from 'node:child_process';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError, errnoCode, type ErrorCode, ERROR_CODES } from '../common/errors.js';
import { DAEMON_NODE_FLAGS } from '../common/daemon-node-flags.js';
import { DEFAULT_HOST, socketPathFromHost } from '../common/paths.js';
import { rawRequest, readAll, type RawResponse } from './http.js';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | string[]>;
  body?: unknown;
  /** Raw request body stream (e.g. an image tarball). */
  bodyStream?: NodeJS.ReadableStream;
  /** A raw request body held whole (sent with its length, in the request's one write). */
  rawBody?: Buffer;
  headers?: Record<string, string>;
}

function buildPath(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else q.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function toError(status: number, body: Buffer): GantryError {
  let parsed: { message?: string; code?: string; hint?: string; detail?: Record<string, unknown> } = {};
  try { parsed = JSON.parse(body.toString('utf8')) as typeof parsed; } catch { parsed = { message: body.toString('utf8') }; }
  const code = (parsed.code && parsed.code in ERROR_CODES ? parsed.code : status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : status === 400 ? 'INVALID_ARGUMENT' : 'INTERNAL') as ErrorCode;
  return new GantryError(code, parsed.message ?? `daemon answered ${status}`, { hint: parsed.hint, detail: parsed.detail });
}

export class DaemonClient {
  readonly socketPath: string;

  constructor(readonly host: string) {
    this.socketPath = socketPathFromHost(host);
  }

  private async send(method: string, path: string, opts: RequestOptions, upgrade: boolean): Promise<{ response: RawResponse } | { socket: Socket }> {
    const body = opts.rawBody ?? (opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body)));
    try {
      return await rawRequest(this.socketPath, {
        method, path: buildPath(path, opts.query), body, bodyStream: opts.bodyStream,
        headers: { ...(body && opts.rawBody === undefined ? { 'Content-Type': 'application/json' } : {}), ...opts.headers },
      }, upgrade);
    } catch (e) {
      throw this.connectError(e);
    }
  }

  private connectError(e: unknown): GantryError {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      return new GantryError('DAEMON_UNREACHABLE', `cannot connect to the gantry daemon at unix://${this.socketPath} (${code})`,
        { hint: 'is gantryd running? `gantry daemon` runs it in the foreground; the default socket starts it automatically' });
    }
    if (code === 'EACCES') return new GantryError('DAEMON_UNREACHABLE', `permission denied on unix://${this.socketPath}`, { hint: 'run gantry as root' });
    return new GantryError('DAEMON_UNREACHABLE', `talking to the daemon failed: ${e instanceof Error ? e.message : String(e)}`);
  }

  /** A JSON request; throws the daemon's typed error on non-2xx. */
  async call<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.stream(method, path, opts);
    const body = await readAll(res);
    if (body.length === 0) return undefined as T;
    return ((res as Readable & { contentType?: string }).contentType?.includes('json') ? JSON.parse(body.toString('utf8')) : body.toString('utf8')) as T;
  }

  /** A streaming response (logs, events, wait); throws on non-2xx. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<Readable> {
    const out = await this.send(method, path, opts, false);
    if (!('response' in out)) throw new GantryError('INTERNAL', 'unexpected protocol upgrade');
    const { status, body, headers } = out.response;
    if (status >= 400) throw toError(status, await readAll(body));
    return Object.assign(body, { contentType: headers['content-type'] ?? '', headers });
  }

  /** POST with `Upgrade: tcp`; resolves with the raw socket once the daemon answers 101, paused: attach the
   * 'data' listener, then call resume(), so the first bytes are not lost. */
  async hijack(path: string, opts: RequestOptions = {}): Promise<Socket> {
    const out = await this.send('POST', path, { ...opts, body: opts.body ?? {} }, true);
    if ('socket' in out) return out.socket;
    throw toError(out.response.status, await readAll(out.response.body));
  }

  close(): void {
    // idle kept-alive connections are unref'd (http.ts): they never keep a finished command alive
  }
}

function gantrydScript(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'gantryd.js');
}

async function ping(client: DaemonClient): Promise<boolean> {
  try {
    await client.call('GET', '/_ping');
    return true;
  } catch (e) {
    if (e instanceof GantryError && e.code === 'DAEMON_UNREACHABLE') return false;
    throw e;
  }
}

/**
 * Connects to the daemon. On the default socket (GANTRY_HOST unset), starts gantryd in the background when
 * nothing answers, and waits for /_ping.
 */
export async function connectDaemon(hostFlag?: string): Promise<DaemonClient> {
  const host = hostFlag ?? process.env['GANTRY_HOST'] ?? DEFAULT_HOST;
  const client = new DaemonClient(host);
  // Only the default socket autostarts (a given socket belongs to someone); GANTRY_AUTOSTART=1 opts in for others.
  // GANTRY_AUTOSTART=0 never starts one (main sets it for `--help`, which must not start a daemon).
  const autostart = process.env['GANTRY_AUTOSTART'] !== '0'
    && ((hostFlag === undefined && process.env['GANTRY_HOST'] === undefined) || process.env['GANTRY_AUTOSTART'] === '1');
  if (!autostart) return client;
  if (existsSync(client.socketPath) && await ping(client)) return client;
  const runDir = dirname(client.socketPath);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const logPath = join(runDir, 'gantryd.log');
  const out = openSync(logPath, 'a');
  // Not import(): inside a start-up snapshot (bin/gantry) there is no ES module loader, and a dynamic import of a
  // built-in failed there (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so no snapshot command could start the daemon.
  const { spawn } = createRequire(import.meta.url)('node:child_process') as typeof ChildProcess;
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, gantrydScript(), '-H', host], { detached: true, stdio: ['ignore', out, out], env: process.env });
  closeSync(out);
  child.unref();
  let exited: number | null = null;
  child.on('exit', (code) => { exited = code ?? 1; });
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, i < 20 ? 10 : 50));
    if (exited !== null) break;
    if (existsSync(client.socketPath) && await ping(client)) return client;
  }
  let why = '';
  try { why = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join('\n'); } catch { /* no log */ }
  throw new GantryError('DAEMON_START_FAILED', `the gantry daemon could not start${why ? `:\n${why}` : ''}`, { hint: `see ${logPath}; run \`gantry daemon\` to start it in the foreground` });
}
