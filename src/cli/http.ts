// A minimal HTTP/1.1 client over a unix socket, for the CLI only. node:http costs ~12 ms of start-up and first
// request in a short-lived process; this costs ~3. Connections are kept alive and reused by the next request
// (`rm -f` of 1,000 is 1,000 requests: each new connection cost the daemon an accept, a socket object and a close);
// an idle one is unref'd, so it never keeps a finished command alive. Upgrades and streamed request bodies get a
// connection of their own.
import { connect, type Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The decoded body (Content-Length, chunked, or until close). */
  body: Readable;
}

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string | number>;
  body?: Buffer | undefined;
  bodyStream?: NodeJS.ReadableStream | undefined;
}

/** Decodes `Transfer-Encoding: chunked` into `out`. */
class ChunkedDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = -1; // bytes left in the current chunk (+2 for its CRLF); -1 = reading a size line
  done = false;

  constructor(private readonly out: PassThrough) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (!this.done) {
      if (this.remaining < 0) {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) return;
        const size = parseInt(this.buf.subarray(0, nl).toString('latin1'), 16);
        this.buf = this.buf.subarray(nl + 2);
        if (size === 0) { this.done = true; this.out.end(); return; }
        this.remaining = size + 2;
      }
      if (this.buf.length === 0) return;
      const take = Math.min(this.remaining, this.buf.length);
      const data = this.buf.subarray(0, take);
      const payloadLen = Math.max(0, Math.min(take, this.remaining - 2));
      if (payloadLen > 0) this.out.write(data.subarray(0, payloadLen));
      this.remaining -= take;
      this.buf = this.buf.subarray(take);
      if (this.remaining === 0) this.remaining = -1;
    }
  }
}

/** Listeners this client put on a connection for one exchange (Node's own stay: they end a socket the peer ended). */
type Listener = (...args: unknown[]) => void;
type Listeners = Array<{ event: 'data' | 'end' | 'error'; fn: Listener }>;

/** Idle kept-alive connections per socket path, newest last, with the listener that drops one the daemon closed. */
const idleSockets = new Map<string, Array<{ sock: Socket; onClose: () => void }>>();
const ignoreError = (): void => undefined;

function takeIdle(socketPath: string): Socket | undefined {
  const list = idleSockets.get(socketPath);
  while (list !== undefined && list.length > 0) {
    const { sock, onClose } = list.pop()!;
    sock.off('error', ignoreError);
    sock.off('close', onClose);
    if (!sock.destroyed && sock.readyState === 'open') { sock.ref(); return sock; }
  }
  return undefined;
}

/** Puts a connection whose answer was read to its end back for the next request. */
function releaseIdle(socketPath: string, sock: Socket, ours: Listeners): void {
  for (const { event, fn } of ours) sock.off(event, fn);
  if (sock.destroyed) return;
  sock.on('error', ignoreError); // the daemon may close an idle connection (keepAliveTimeout)
  const onClose = (): void => {
    const list = idleSockets.get(socketPath);
    const i = list?.findIndex((e) => e.sock === sock) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  };
  sock.once('close', onClose);
  sock.unref();
  const list = idleSockets.get(socketPath);
  if (list === undefined) idleSockets.set(socketPath, [{ sock, onClose }]); else list.push({ sock, onClose });
}

function connectSocket(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    sock.once('connect', () => { sock.off('error', reject); resolve(sock); });
    sock.once('error', reject);
  });
}

function writeRequest(sock: Socket, req: RawRequest, upgrade: boolean): void {
  const headers: Record<string, string | number> = { Host: 'gantry', ...req.headers };
  if (upgrade) { headers['Connection'] = 'Upgrade'; headers['Upgrade'] = 'tcp'; } else if (req.bodyStream) headers['Connection'] = 'close';
  if (req.body) headers['Content-Length'] = req.body.length;
  else if (req.bodyStream) headers['Transfer-Encoding'] = 'chunked';
  else if (req.method !== 'GET' && req.method !== 'HEAD') headers['Content-Length'] = 0;
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  // Head and body in one write: an upgrade request's body must arrive with its head.
  sock.write(req.body ? Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), req.body]) : `${head}\r\n`);
  if (req.bodyStream) {
    req.bodyStream.on('data', (c: Buffer) => { sock.write(`${c.length.toString(16)}\r\n`); sock.write(c); sock.write('\r\n'); });
    req.bodyStream.on('end', () => sock.write('0\r\n\r\n'));
  }
}

/**
 * Sends a request. With `upgrade`, a 101 answer resolves with the raw socket (attach/exec); any other answer
 * resolves as a normal response. A request sent on a reused connection that the daemon closed before answering
 * (its idle timeout) is sent again once on a new one.
 */
export async function rawRequest(socketPath: string, req: RawRequest, upgrade = false): Promise<{ response: RawResponse } | { socket: Socket }> {
  const reusable = !upgrade && req.bodyStream === undefined;
  const idle = reusable ? takeIdle(socketPath) : undefined;
  if (idle !== undefined) {
    try {
      return await exchange(socketPath, idle, req, upgrade, true);
    } catch (e) {
      if (!(e instanceof ClosedBeforeAnswer)) throw e;
    }
  }
  return exchange(socketPath, await connectSocket(socketPath), req, upgrade, reusable);
}

/** The connection ended or failed before any byte of an answer came. */
class ClosedBeforeAnswer extends Error {}

function exchange(socketPath: string, sock: Socket, req: RawRequest, upgrade: boolean, reusable: boolean): Promise<{ response: RawResponse } | { socket: Socket }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const ours: Listeners = [];
    const listen = <A extends unknown[]>(event: 'data' | 'end' | 'error', fn: (...args: A) => void): void => {
      const listener = fn as unknown as Listener;
      sock.on(event, listener);
      ours.push({ event, fn: listener });
    };
    const failEarly = (e: Error): void => { sock.destroy(); reject(head.length === 0 ? Object.assign(new ClosedBeforeAnswer(e.message), { cause: e, code: (e as NodeJS.ErrnoException).code }) : e); };
    const onData = (chunk: Buffer): void => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      for (const { event, fn } of ours.splice(0)) sock.off(event, fn);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const rest = head.subarray(end + 4);
      if (upgrade && status === 101) {
        // Paused, with the bytes that came with the 101 put back: in flowing mode they would be emitted before
        // the caller can listen, and lost. The caller attaches its listeners, then resumes.
        sock.pause();
        if (rest.length) sock.unshift(rest);
        resolve({ socket: sock });
        return;
      }
      const body = new PassThrough();
      if (process.env['GANTRY_TRACE_HTTP'] === '1') traceRequest(req, t0, body);
      const keep = reusable && headers['connection']?.toLowerCase() !== 'close';
      let released = false;
      // The whole answer is read: the connection serves the next request (or is closed).
      const done = (): void => {
        body.end();
        if (keep && !released) { released = true; releaseIdle(socketPath, sock, ours); } else sock.destroy();
      };
      const length = headers['content-length'];
      if (status === 204 || status === 304 || req.method === 'HEAD') {
        done();
      } else if (headers['transfer-encoding']?.includes('chunked')) {
        const dec = new ChunkedDecoder(body);
        const push = (c: Buffer): void => { dec.push(c); if (dec.done) done(); };
        listen('data', push);
        listen('end', () => { if (!dec.done) body.end(); });
        if (rest.length) push(rest);
      } else if (length !== undefined) {
        let left = Number(length);
        const take = (c: Buffer): void => {
          if (left <= 0) return;
          const part = c.subarray(0, left);
          left -= part.length;
          body.write(part);
          if (left === 0) done();
        };
        if (left === 0) done(); else { listen('data', take); listen('end', () => body.end()); if (rest.length) take(rest); }
      } else {
        if (rest.length) body.write(rest);
        listen('data', (c: Buffer) => body.write(c));
        listen('end', () => body.end());
      }
      if (!released) {
        listen('error', (e: Error) => body.destroy(e));
        // a reader that stops early (a followed stream) drops the connection
        body.on('close', () => { if (!released) sock.destroy(); });
      }
      resolve({ response: { status, headers, body } });
    };
    const onEndEarly = (): void => failEarly(new Error('the daemon closed the connection without answering'));
    listen('data', onData);
    listen('error', failEarly);
    listen('end', onEndEarly);
    writeRequest(sock, req, upgrade);
  });
}

/**
 * GANTRY_TRACE_HTTP=1: one line per request on stderr, what a slow command waits for: when it was sent (ms since
 * the process started), how long until the answer's head came, and until its body ended.
 */
/** Trace lines of requests whose answer is still open; printed at exit (one listener for all). */
const openTraces = new Map<PassThrough, () => void>();
let tracesAtExit = false;

function traceRequest(req: RawRequest, t0: number, body: PassThrough): void {
  const head = performance.now();
  const print = (end: string): void => {
    openTraces.delete(body);
    process.stderr.write(`gantry: http ${req.method} ${req.path.split('?')[0]} at ${t0.toFixed(1)} ms: head +${(head - t0).toFixed(1)}, ${end}\n`);
  };
  if (!tracesAtExit) {
    tracesAtExit = true;
    process.once('exit', () => { for (const p of [...openTraces.values()]) p(); });
  }
  openTraces.set(body, () => print(`open at exit +${(performance.now() - t0).toFixed(1)}`));
  body.once('close', () => { if (openTraces.has(body)) print(`closed +${(performance.now() - t0).toFixed(1)}`); });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Parses a stream of JSON lines (events, progress) as they arrive. */
export async function* jsonLines<T>(stream: Readable): AsyncGenerator<T> {
  let buf = '';
  for await (const c of stream as AsyncIterable<Buffer>) {
    buf += c.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line !== '') yield JSON.parse(line) as T;
    }
  }
}
