// HTTP/1.1 server on a unix socket, speaking Docker Engine API paths and shapes where they overlap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, unlinkSync, chownSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GantryError, isGantryError, noSpaceError } from '../common/errors.js';
import { prepareSocketDir } from '../common/paths.js';
import { parseMemorySize } from '../common/units.js';
import type { Router, RequestContext } from './router.js';
import { MULTIPLEXED_STREAM, RAW_STREAM } from './docker/response-stream.js';
import { API_HEADERS, API_VERSION } from './version.js';
import { untilPeerHasRead } from './peer-read.js';

export interface ErrorBody { message: string; code?: string; hint?: string; detail?: Record<string, unknown> }

function errorBody(raw: unknown): { status: number; body: ErrorBody } {
  const e = asSpaceError(raw) ?? raw;
  if (isGantryError(e)) {
    return { status: e.httpStatus, body: { message: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...(e.detail ? { detail: e.detail } : {}) } };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, body: { message: msg, code: 'INTERNAL', hint: 'this is a bug in gantry; the daemon log has the details' } };
}

/** A full disk is the host's condition, not a bug: NO_SPACE, keeping a typed error's own message. */
function asSpaceError(e: unknown): GantryError | undefined {
  if (isGantryError(e) && e.code === 'NO_SPACE') return undefined;
  const space = noSpaceError(e);
  if (space === undefined || !isGantryError(e)) return space;
  return new GantryError('NO_SPACE', `${e.message} (${space.message})`, { cause: e, hint: space.hint, detail: e.detail });
}

/** JSON request bodies above this are refused with 413 (GANTRY_MAX_BODY, e.g. "16m"); raw-body routes cap their own. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export function maxBodyBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env['GANTRY_MAX_BODY'];
  if (text === undefined || text === '') return DEFAULT_MAX_BODY_BYTES;
  const n = parseMemorySize(text, 'GANTRY_MAX_BODY');
  if (n <= 0) throw new GantryError('USAGE', `invalid GANTRY_MAX_BODY "${text}"`, { hint: 'give a positive size, e.g. 16m' });
  return n;
}

function bodyTooLarge(limit: number): GantryError {
  return new GantryError('TOO_LARGE', `request body too large: the limit is ${limit} bytes`, {
    hint: 'JSON request bodies are capped; start the daemon with GANTRY_MAX_BODY (e.g. GANTRY_MAX_BODY=16m) to raise it',
  });
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw bodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw bodyTooLarge(limit);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    throw new GantryError('INVALID_ARGUMENT', 'the request body is not valid JSON');
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // encoded once (a `ps -a` of 10,000 is ~7 MB: measuring the string's length, then encoding it, walked it twice)
  const body = Buffer.from(value === undefined ? '' : JSON.stringify(value));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

export class ApiServer {
  private readonly server: Server;

  private readonly maxBodyBytes: number;

  /** Every client connection, upgraded (attach, exec) or half-closed ones included: shutdown ends them all. */
  private readonly sockets = new Set<Socket>();

  constructor(private readonly router: Router, private readonly log: (msg: string) => void, opts: { maxBodyBytes?: number } = {}) {
    this.maxBodyBytes = opts.maxBodyBytes ?? maxBodyBytesFromEnv();
    // 128 KiB of headers (Node's default is 16): POST /build carries the build's secrets in one (X-Gantry-Build-Secrets).
    this.server = createServer({ keepAliveTimeout: 30_000, maxHeaderSize: 128 * 1024 }, (req, res) => { void this.onRequest(req, res); });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.onUpgrade(req, socket, head); });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gantry');
    const method = req.method ?? 'GET';
    for (const [k, v] of Object.entries(API_HEADERS)) res.setHeader(k, v);
    try {
      const m = this.router.match(method, url.pathname);
      if (!m) throw new GantryError('NOT_FOUND', `page not found: ${method} ${url.pathname}`);
      const ctx: RequestContext = { method, path: url.pathname, params: m.params, query: url.searchParams, body: undefined, req, res };
      if (!m.route.rawBody) ctx.body = parseJson(await readBody(req, this.maxBodyBytes));
      const out = await m.route.handler(ctx);
      if (!res.headersSent && !res.writableEnded) {
        if (out === undefined) { res.writeHead(m.route.status === 200 ? 204 : m.route.status); res.end(); }
        else if (typeof out === 'string') { res.writeHead(m.route.status, { 'Content-Type': 'text/plain; charset=utf-8' }); res.end(out); }
        else sendJson(res, m.route.status, out);
      }
    } catch (e) {
      const { status, body } = errorBody(e);
      if (status >= 500) this.log(`${method} ${url.pathname}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      if (res.headersSent) { res.destroy(); return; }
      // A body left unread (over the cap, or an upload refused midway) is not drained: answer, then close.
      const unread = !req.complete;
      if (unread) res.shouldKeepAlive = false;
      sendJson(res, status, body);
      const conn = req.socket as Socket | null; // null once the client is gone
      if (unread && conn !== null) res.once('finish', () => { if (!conn.destroyed) conn.destroySoon(); });
    }
  }

  /** `Upgrade: tcp` (attach, exec start): the connection becomes a raw stream after a 101 response. */
  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined); // a client that goes away mid-stream is not an error of the daemon
    const url = new URL(req.url ?? '/', 'http://gantry');
    const method = req.method ?? 'POST';
    const fail = (e: unknown): void => {
      const { status, body } = errorBody(e);
      const text = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    };
    try {
      const m = this.router.match(method, url.pathname);
      if (!m) throw new GantryError('NOT_FOUND', `page not found: ${method} ${url.pathname}`);
      // The body (exec start options) arrives in `head` with Content-Length; the rest is stdin.
      const len = Number(req.headers['content-length'] ?? 0);
      if (len > this.maxBodyBytes) throw bodyTooLarge(this.maxBodyBytes);
      const body = parseJson(head.subarray(0, len));
      const rest = head.subarray(len);
      let hijacked = false;
      const ctx: RequestContext = {
        method, path: url.pathname, params: m.params, query: url.searchParams, body, req,
        hijack: async ({ tty }) => {
          hijacked = true;
          const type = tty ? RAW_STREAM : MULTIPLEXED_STREAM;
          socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: ${API_VERSION}\r\n\r\n`);
          if (rest.length > 0) socket.unshift(rest);
          await untilPeerHasRead(socket);
          return socket;
        },
      };
      const out = await m.route.handler(ctx);
      if (!hijacked) {
        const text = out === undefined ? '' : JSON.stringify(out);
        socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      }
    } catch (e) {
      fail(e);
    }
  }

  async listen(socketPath: string): Promise<void> {
    // A socket directory gantry makes is root's alone (an existing one, like /tmp, is not touched); the socket
    // itself is 0660 (a group may be given access later).
    prepareSocketDir(socketPath);
    try { unlinkSync(socketPath); } catch { /* none */ }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => { this.server.off('error', reject); resolve(); });
    });
    chmodSync(socketPath, 0o660);
    try { chownSync(socketPath, 0, 0); } catch { /* not root: tests as a user */ }
  }

  async close(): Promise<void> {
    // Never waits on a client: an idle, half-closed or hijacked connection is destroyed, not drained.
    const closed = new Promise<void>((resolve) => { this.server.close(() => resolve()); });
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }
}
