// The proxy between two loopback sockets: no root needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { startPortProxies, startPortProxy } from '../../../src/engine/network/port-proxy.js';
import { GantryError } from '../../../src/common/errors.js';

async function echoTcp(): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => s.end(Buffer.concat([Buffer.from('echo:'), ...chunks])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0 };
}

function tcpRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(chunks));
    });
    s.on('error', reject);
    s.end(payload);
  });
}

function udpAsk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no UDP reply'));
    }, 2000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send(text, port, '127.0.0.1');
  });
}

describe('port proxy', () => {
  test('TCP: bytes go through both ways, half-close included, random host port', async () => {
    const { server, port } = await echoTcp();
    const proxy = await startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
    try {
      assert.ok(proxy.hostPort > 0 && proxy.hostPort !== port);
      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      const back = await tcpRoundTrip(proxy.hostPort, big);
      assert.equal(back.length, big.length + 5);
      assert.equal(back.subarray(0, 5).toString(), 'echo:');
      const r = await Promise.all([1, 2, 3].map((i) => tcpRoundTrip(proxy.hostPort, Buffer.from(`n${i}`))));
      assert.deepEqual(r.map(String), ['echo:n1', 'echo:n2', 'echo:n3']);
    } finally {
      await proxy.close();
      server.close();
    }
  });

  test('TCP: a target that refuses closes the client connection', async () => {
    const { server, port } = await echoTcp();
    server.close(); // nothing listens on port any more
    const proxy = await startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
    try {
      const got = await tcpRoundTrip(proxy.hostPort, Buffer.from('x')).catch(() => Buffer.alloc(0));
      assert.equal(got.length, 0);
      assert.equal(proxy.activeCount(), 0);
    } finally {
      await proxy.close();
    }
  });

  test('UDP: replies come back to each client through its own session', async () => {
    const target = createSocket('udp4');
    target.on('message', (m, r) => target.send(`pong:${m.toString()}`, r.port, r.address));
    await new Promise<void>((r) => target.bind(0, '127.0.0.1', r));
    const proxy = await startPortProxy({
      hostIp: '127.0.0.1', hostPort: 0, protocol: 'udp', target: { ip: '127.0.0.1', port: target.address().port }, udpIdleMs: 200,
    });
    try {
      assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((t) => udpAsk(proxy.hostPort, t))), ['pong:a', 'pong:b', 'pong:c']);
      assert.equal(proxy.activeCount(), 3);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(proxy.activeCount(), 0, 'idle sessions are closed');
    } finally {
      await proxy.close();
      target.close();
    }
  });

  test('a port in use: PORT_IN_USE naming IP:PORT/proto', async () => {
    const { server, port } = await echoTcp();
    try {
      await assert.rejects(
        startPortProxy({ hostIp: '127.0.0.1', hostPort: port, protocol: 'tcp', target: { ip: '127.0.0.1', port: 1 } }),
        (e: unknown) => e instanceof GantryError && e.code === 'PORT_IN_USE' && e.message.includes(`127.0.0.1:${port}/tcp`),
      );
      await assert.rejects(
        startPortProxy({ hostIp: '', hostPort: port, protocol: 'tcp', target: { ip: '127.0.0.1', port: 1 } }),
        (e: unknown) => e instanceof GantryError && e.code === 'PORT_IN_USE' && e.message.includes(`0.0.0.0:${port}/tcp`),
      );
      const u = createSocket('udp4');
      await new Promise<void>((r) => u.bind(0, '127.0.0.1', r));
      try {
        await assert.rejects(
          startPortProxy({ hostIp: '127.0.0.1', hostPort: u.address().port, protocol: 'udp', target: { ip: '127.0.0.1', port: 1 } }),
          (e: unknown) => e instanceof GantryError && e.code === 'PORT_IN_USE' && e.message.includes(`/udp`),
        );
      } finally {
        u.close();
      }
    } finally {
      server.close();
    }
  });

  test('a host range picks a free port of the range', async () => {
    const { server, port } = await echoTcp();
    let proxy;
    try {
      proxy = await startPortProxy({ hostIp: '127.0.0.1', hostPort: port, hostPortEnd: port + 20, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
      assert.ok(proxy.hostPort > port && proxy.hostPort <= port + 20);
    } finally {
      await proxy?.close();
      server.close();
    }
  });

  test('several bindings: all or nothing', async () => {
    const { server, port } = await echoTcp();
    try {
      const free = await startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
      const freePort = free.hostPort;
      await free.close();
      await assert.rejects(startPortProxies([
        { hostIp: '127.0.0.1', hostPort: freePort, containerPort: 80, protocol: 'tcp' },
        { hostIp: '127.0.0.1', hostPort: port, containerPort: 81, protocol: 'tcp' },
      ], '127.0.0.1'), { code: 'PORT_IN_USE' });
      // the first one was released again: its port can be taken
      const again = await startPortProxy({ hostIp: '127.0.0.1', hostPort: freePort, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
      await again.close();
    } finally {
      server.close();
    }
  });
});
