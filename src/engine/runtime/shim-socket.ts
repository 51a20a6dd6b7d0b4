// Client side of the shim's unix socket (docs/shim-protocol.md): frames in, Docker-style stream frames out.
import { connect, type Socket } from 'node:net';
import { parseProtocolVersion, UNANNOUNCED_PROTOCOL } from './shim-version.js';

export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
export const STREAM_EXIT = 3;
/** The shim's acknowledgement of a subscription (`a`): output from then on reaches this client. */
export const STREAM_SUBSCRIBED = 4;
/** The shim's answer to `v`: its protocol version, `N\n`. */
export const STREAM_PROTOCOL = 5;

export function frame(type: 'a' | 'i' | 'e' | 'r' | 's' | 'k' | 'd' | 'v', payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function resizeFrame(rows: number, cols: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(rows, 0);
  p.writeUInt16BE(cols, 2);
  return frame('r', p);
}

export function signalFrame(signal: number): Buffer {
  return frame('s', Buffer.from([signal]));
}

export function connectShim(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    sock.once('connect', () => {
      sock.off('error', reject);
      // The shim may exit at any moment (EPIPE, ECONNRESET): that is a normal end, seen through 'close'.
      // Without a listener, such an 'error' event would be thrown and take the daemon down.
      sock.on('error', () => undefined);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** Parses the shim's 8-byte-header frames from a byte stream. */
export class StreamDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      const stream = this.buf[0]!;
      const payload = this.buf.subarray(8, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.onFrame(stream, payload);
    }
  }
}

/** Resolves when the shim reports the exit (or the connection drops: the shim is gone). */
export function watchExit(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const demux = new StreamDemuxer((stream) => { if (stream === STREAM_EXIT) resolve(); });
    sock.on('data', (c: Buffer) => demux.push(c));
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
}

/**
 * The protocol a running shim speaks, asked on a connection of its own: `v`, then end of input. A shim answers
 * (STREAM_PROTOCOL) and closes; one built before versions skips `v` and closes: version 1. Undefined when the
 * process exited first (an exit frame came instead): there is nothing left to adopt. Rejects when nothing listens.
 * The shim reads clients only while its stdin queue is empty and closes a 33rd client at once (read as version 1).
 */
export async function shimProtocol(socketPath: string): Promise<number | undefined> {
  const sock = await connectShim(socketPath);
  return new Promise((resolve, reject) => {
    let answer: Buffer | undefined;
    let exited = false;
    const demux = new StreamDemuxer((stream, payload) => {
      if (stream === STREAM_PROTOCOL) answer ??= Buffer.from(payload);
      else if (stream === STREAM_EXIT) exited = true;
    });
    sock.on('data', (c: Buffer) => demux.push(c));
    sock.on('close', () => {
      try {
        if (answer !== undefined) resolve(parseProtocolVersion(answer.toString('latin1'), `the shim at ${socketPath}`));
        else resolve(exited ? undefined : UNANNOUNCED_PROTOCOL);
      } catch (e) {
        reject(e);
      }
    });
    sock.end(frame('v'));
  });
}
