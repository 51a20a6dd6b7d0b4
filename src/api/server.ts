// HTTP/1.1 server on a unix socket, speaking Docker Engine API paths and shapes where they overlap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, mkdirSync, unlinkSync, chownSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Duplex } from 'node:stream';
import { GantryError, isGantryError } from '../common/errors.js';
import type { Router, RequestContext } from './router.js';

export interface ErrorBody { message: string; code?: string; hint?: string; detail?: Record<string, unknown> }

function errorBody(e: unknown): { status: number; body: ErrorBody } {
  if (isGantryError(e)) {
    return { status: e.httpStatus, body: { message: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...(e.detail ? { detail: e.detail } : {}) } };
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { status: 500, body: { message: msg, code: 'INTERNAL', hint: 'this is a bug in gantry; the daemon log has the details' } };
}

async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new GantryError('INVALID_ARGUMENT', 'request body too large');
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
  const body = value === undefined ? '' : JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Api-Version': '1.43' });
  res.end(body);
}

export class ApiServer {
  private readonly server: Server;

  constructor(private readonly router: Router, private readonly log: (msg: string) => void) {
    this.server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => { void this.onRequest(req, res); });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { void this.onUpgrade(req, socket, head); });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gantry');
    const method = req.method ?? 'GET';
    try {
      const m = this.router.match(method, url.pathname);
      if (!m) throw new GantryError('NOT_FOUND', `page not found: ${method} ${url.pathname}`);
      const ctx: RequestContext = { method, path: url.pathname, params: m.params, query: url.searchParams, body: undefined, req, res };
      if (!m.route.rawBody) ctx.body = parseJson(await readBody(req));
      const out = await m.route.handler(ctx);
      if (!res.headersSent && !res.writableEnded) {
        if (out === undefined) { res.writeHead(m.route.status === 200 ? 204 : m.route.status); res.end(); }
        else if (typeof out === 'string') { res.writeHead(m.route.status, { 'Content-Type': 'text/plain; charset=utf-8' }); res.end(out); }
        else sendJson(res, m.route.status, out);
      }
    } catch (e) {
      const { status, body } = errorBody(e);
      if (status >= 500) this.log(`${method} ${url.pathname}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      if (!res.headersSent) sendJson(res, status, body);
      else res.destroy();
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
      const body = parseJson(head.subarray(0, len));
      const rest = head.subarray(len);
      let hijacked = false;
      const ctx: RequestContext = {
        method, path: url.pathname, params: m.params, query: url.searchParams, body, req,
        hijack: () => {
          hijacked = true;
          socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
          if (rest.length > 0) socket.unshift(rest);
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
    // The socket's directory is root's alone; the socket itself is 0660 (group may be given access later).
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
    chmodSync(dirname(socketPath), 0o700);
    try { unlinkSync(socketPath); } catch { /* none */ }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => { this.server.off('error', reject); resolve(); });
    });
    chmodSync(socketPath, 0o660);
    try { chownSync(socketPath, 0, 0); } catch { /* not root: tests as a user */ }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }
}
