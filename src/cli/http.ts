// A minimal HTTP/1.1 client over a unix socket, for the CLI only. node:http costs ~12 ms of start-up and first
// request in a short-lived process; this costs ~3. One connection per request (`Connection: close`): connecting
// to a unix socket is cheaper than any pooling logic.
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

function connectSocket(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    sock.once('connect', () => { sock.off('error', reject); resolve(sock); });
    sock.once('error', reject);
  });
}

function writeRequest(sock: Socket, req: RawRequest, upgrade: boolean): void {
  const headers: Record<string, string | number> = { Host: 'gantry', ...req.headers };
  if (upgrade) { headers['Connection'] = 'Upgrade'; headers['Upgrade'] = 'tcp'; } else headers['Connection'] = 'close';
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
 * resolves as a normal response.
 */
export function rawRequest(socketPath: string, req: RawRequest, upgrade = false): Promise<{ response: RawResponse } | { socket: Socket }> {
  const t0 = performance.now();
  return connectSocket(socketPath).then((sock) => new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (process.env['GANTRY_TRACE_HTTP'] === '1') traceRequest(req, t0, sock);
      sock.off('data', onData);
      sock.off('error', reject);
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
      const length = headers['content-length'];
      if (headers['transfer-encoding']?.includes('chunked')) {
        const dec = new ChunkedDecoder(body);
        if (rest.length) dec.push(rest);
        sock.on('data', (c: Buffer) => dec.push(c));
        sock.on('end', () => { if (!dec.done) body.end(); });
      } else if (length !== undefined) {
        let left = Number(length);
        const take = (c: Buffer): void => {
          if (left <= 0) return;
          const part = c.subarray(0, left);
          left -= part.length;
          body.write(part);
          if (left === 0) { body.end(); sock.destroy(); }
        };
        if (left === 0) { body.end(); sock.destroy(); } else { if (rest.length) take(rest); sock.on('data', take); sock.on('end', () => body.end()); }
      } else {
        if (rest.length) body.write(rest);
        sock.on('data', (c: Buffer) => body.write(c));
        sock.on('end', () => body.end());
      }
      sock.on('error', (e) => body.destroy(e));
      body.on('close', () => sock.destroy());
      resolve({ response: { status, headers, body } });
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('end', () => { if (head.indexOf('\r\n\r\n') < 0) reject(new Error('the daemon closed the connection without answering')); });
    writeRequest(sock, req, upgrade);
  }));
}

/**
 * GANTRY_TRACE_HTTP=1: one line per request on stderr, what a slow command waits for: when it was sent (ms since
 * the process started), how long until the answer's head came, and until the connection closed.
 */
/** Trace lines of requests whose connection is still open; printed at exit (one listener for all). */
const openTraces = new Map<Socket, () => void>();
let tracesAtExit = false;

function traceRequest(req: RawRequest, t0: number, sock: Socket): void {
  const head = performance.now();
  const print = (end: string): void => {
    openTraces.delete(sock);
    process.stderr.write(`gantry: http ${req.method} ${req.path.split('?')[0]} at ${t0.toFixed(1)} ms: head +${(head - t0).toFixed(1)}, ${end}\n`);
  };
  if (!tracesAtExit) {
    tracesAtExit = true;
    process.once('exit', () => { for (const p of [...openTraces.values()]) p(); });
  }
  openTraces.set(sock, () => print(`open at exit +${(performance.now() - t0).toFixed(1)}`));
  sock.once('close', () => { if (openTraces.has(sock)) print(`closed +${(performance.now() - t0).toFixed(1)}`); });
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
