// A plain (not upgraded) response as the client stream of attach or exec start: output goes out on the
// response body (raw with a tty, Docker's multiplexed frames otherwise), nothing comes in.
import type { ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

export function responseStream(res: ServerResponse, tty: boolean): Duplex {
  res.writeHead(200, { 'Content-Type': tty ? RAW_STREAM : MULTIPLEXED_STREAM });
  res.flushHeaders();
  const stream = new Duplex({
    read() { /* no stdin on a plain request */ },
    write(chunk: Buffer, _enc, done) {
      if (res.writableEnded || res.destroyed) { done(); return; }
      if (res.write(chunk)) done();
      else res.once('drain', () => done());
    },
    final(done) { res.end(); done(); },
  });
  stream.push(null);
  res.on('close', () => stream.destroy());
  return stream;
}
