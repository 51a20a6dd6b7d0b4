// gantryd's SIGTERM never waits on clients: an attached docker-style client (hijacked connection), a client that
// half-closed its side while waiting, and an idle keep-alive connection are all cut, and the daemon exits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

describe('daemon shutdown with clients connected', { skip, timeout: 60_000 }, () => {
  let d: TestDaemon;
  before(async () => {
    d = new TestDaemon('shutdown');
    await d.start();
    d.importBusybox();
  });
  after(async () => { await d?.dispose(); });

  test('SIGTERM ends the daemon while an attach, a half-closed wait and an idle connection are open; the container keeps running', async () => {
    const id = d.ok(['run', '-d', '--name', 'keeps', 'busybox', 'sleep', '600']).trim();
    const clients: Socket[] = [];
    const open = (): Promise<Socket> => new Promise((resolve) => {
      const c = connect(d.socket, () => resolve(c));
      c.on('error', () => undefined);
      clients.push(c);
    });
    try {
      const attached = await open();
      attached.write(`POST /v1.43/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
      await new Promise<void>((resolve) => attached.once('data', () => resolve()));
      const halfClosed = await open();
      halfClosed.write(`POST /v1.43/containers/${id}/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      await new Promise<void>((resolve) => halfClosed.once('data', () => resolve())); // headers: the wait is registered
      halfClosed.end();
      const idle = await open();
      idle.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise<void>((resolve) => idle.once('data', () => resolve()));
      await d.stop(); // resolves once the process has exited
      for (const c of [attached, halfClosed, idle]) {
        if (!c.destroyed) await new Promise((resolve) => c.once('close', resolve));
      }
    } finally {
      for (const c of clients) c.destroy();
    }
    await d.start();
    assert.equal(d.ok(['inspect', '-f', '{{.State.Status}}', 'keeps']).trim(), 'running', 'SIGTERM leaves containers running');
    d.ok(['rm', '-f', 'keeps']);
  });
});
