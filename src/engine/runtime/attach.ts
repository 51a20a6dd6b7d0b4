// Bridges a client stream (an HTTP-hijacked socket) to a shim's socket: output out, stdin in.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { connectShim, frame, StreamDemuxer, STREAM_EXIT, STREAM_SUBSCRIBED } from './shim-socket.js';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Raw output (tty) instead of Docker's multiplexed frames. */
  tty: boolean;
  /** The caller ends the client itself (exec: after a last word on why the process never started). */
  leaveClientOpen?: boolean | undefined;
}

export function dockerFrame(stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/**
 * Connects and returns once the shim confirmed the subscription (so output produced after this point reaches the
 * client, even from a process released a moment later); `done` resolves when the process exits or the client
 * leaves.
 */
export async function attachToShim(socketPath: string, client: Duplex, opts: AttachOptions): Promise<{ done: Promise<void>; shim: Socket }> {
  const shim = await connectShim(socketPath);
  let subscribed!: () => void;
  const ack = new Promise<void>((resolve) => { subscribed = resolve; });
  if (opts.stdout || opts.stderr) shim.write(frame('a'));
  else subscribed();
  const done = new Promise<void>((resolve) => {
    const finish = (): void => {
      shim.destroy();
      if (!client.destroyed && opts.leaveClientOpen !== true) client.end();
      resolve();
    };
    const demux = new StreamDemuxer((stream, payload) => {
      if (stream === STREAM_EXIT) { finish(); return; }
      if (stream === STREAM_SUBSCRIBED) { subscribed(); return; }
      if ((stream === 1 && !opts.stdout) || (stream === 2 && !opts.stderr) || stream > 2) return;
      if (!client.destroyed) client.write(opts.tty ? payload : dockerFrame(stream, payload));
    });
    shim.on('data', (c: Buffer) => demux.push(c));
    shim.on('close', () => { subscribed(); finish(); });
    shim.on('error', () => { subscribed(); finish(); });
    client.on('close', () => { shim.destroy(); resolve(); });
    client.on('error', () => { shim.destroy(); resolve(); });
    if (opts.stdin) {
      client.on('data', (c: Buffer) => { if (!shim.destroyed) shim.write(frame('i', c)); });
      client.on('end', () => { if (!shim.destroyed) shim.write(frame('e')); });
    }
  });
  await ack;
  return { done, shim };
}
