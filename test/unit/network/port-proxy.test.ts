// The proxy between two loopback sockets: no root needed. TCP runs as one contract against both engines: the
// proxy inside the daemon and gantry-portproxy (a process of its own, chosen by a control directory).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPortProxies, startPortProxy as startAny, type PortProxyOptions } from '../../../src/engine/network/port-proxy.js';
import { adoptNativeTcpProxy, portProxyBinary, sweepNativeTcpProxies } from '../../../src/engine/network/native-port-proxy.js';
import { GantryError } from '../../../src/common/errors.js';

const controlRoot = mkdtempSync(join(tmpdir(), 'gantry-pp-'));
after(async () => {
  // every proxy a test started is gone, failure or not
  for (const d of readdirSync(controlRoot)) await sweepNativeTcpProxies(join(controlRoot, d), new Set());
  rmSync(controlRoot, { recursive: true, force: true });
});
let dirs = 0;

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

const engines = portProxyBinary() === undefined ? ['daemon'] : ['daemon', 'gantry-portproxy'];
for (const engine of engines) describe(`port proxy (${engine})`, () => {
  const controlDir = engine === 'daemon' ? undefined : join(controlRoot, String(dirs++));
  const startPortProxy = (o: PortProxyOptions) => startAny({ ...o, controlDir });
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
      assert.equal(await proxy.activeCount(), 0);
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
      assert.equal(await proxy.activeCount(), 3);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(await proxy.activeCount(), 0, 'idle sessions are closed');
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
      ], '127.0.0.1', { controlDir }), { code: 'PORT_IN_USE' });
      // the first one was released again: its port can be taken
      const again = await startPortProxy({ hostIp: '127.0.0.1', hostPort: freePort, protocol: 'tcp', target: { ip: '127.0.0.1', port } });
      await again.close();
    } finally {
      server.close();
    }
  });
});

/** A server that holds each connection open until the client ends it, answering its own tag. */
async function tagServer(tag: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.write(tag);
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
  const a = server.address();
  return { server, port: typeof a === 'object' && a !== null ? a.port : 0 };
}

function firstBytes(port: number): Promise<{ text: string; end: () => void }> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.once('data', (d: Buffer) => resolve({ text: d.toString(), end: () => s.end() }));
    s.on('error', reject);
  });
}

describe('gantry-portproxy', { skip: portProxyBinary() === undefined ? 'native/build/gantry-portproxy is not built' : false }, () => {
  const controlDir = join(controlRoot, 'native');

  test('retarget: new connections go to the new address, open ones stay and are counted until they end', async () => {
    const a = await tagServer('A');
    const proxy = await startAny({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.2', port: a.port }, controlDir });
    // the new container listens on the same port at another address
    const b = createServer((s) => s.end('B'));
    await new Promise<void>((r) => b.listen(a.port, '127.0.0.3', r));
    try {
      const old = await firstBytes(proxy.hostPort);
      assert.equal(old.text, 'A');
      assert.equal(await proxy.activeTo('127.0.0.2'), 1);
      await proxy.retarget('127.0.0.3');
      assert.equal((await firstBytes(proxy.hostPort)).text, 'B');
      assert.equal(await proxy.activeTo('127.0.0.2'), 1, 'the open connection is still on the old address');
      old.end();
      for (let i = 0; i < 200 && await proxy.activeTo('127.0.0.2') > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await proxy.activeTo('127.0.0.2'), 0);
    } finally {
      await proxy.close();
      a.server.close();
      b.close();
    }
  });

  test('it outlives whoever started it: released, then adopted by its control socket, then closed', async () => {
    const { server, port } = await echoTcp();
    const proxy = await startAny({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port }, controlDir });
    try {
      assert.equal(proxy.outlivesDaemon, true);
      await proxy.release();
      assert.equal((await tcpRoundTrip(proxy.hostPort, Buffer.from('still'))).toString(), 'echo:still');
      assert.equal(await adoptNativeTcpProxy(controlDir, '127.0.0.1', proxy.hostPort, port + 1), undefined, 'a proxy that is not what the record says is stopped');
      const again = await startAny({ hostIp: '127.0.0.1', hostPort: proxy.hostPort, protocol: 'tcp', target: { ip: '127.0.0.1', port }, controlDir });
      await again.release();
      const adopted = await adoptNativeTcpProxy(controlDir, '127.0.0.1', again.hostPort, port);
      assert.ok(adopted !== undefined);
      assert.deepEqual(adopted.target, { ip: '127.0.0.1', port });
      await adopted.close();
      await assert.rejects(tcpRoundTrip(again.hostPort, Buffer.from('x')), { code: 'ECONNREFUSED' });
      assert.equal(await adoptNativeTcpProxy(controlDir, '127.0.0.1', again.hostPort, port), undefined);
    } finally {
      await proxy.close();
      server.close();
    }
  });

  test('sweep stops the proxies nobody keeps', async () => {
    const { server, port } = await echoTcp();
    const dir = join(controlRoot, 'sweep');
    const kept = await startAny({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port }, controlDir: dir });
    const stray = await startAny({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: '127.0.0.1', port }, controlDir: dir });
    try {
      const stopped = await sweepNativeTcpProxies(dir, new Set([join(dir, `t-127.0.0.1-${kept.hostPort}`)]));
      assert.deepEqual(stopped, [`127.0.0.1-${stray.hostPort}`]);
      await assert.rejects(tcpRoundTrip(stray.hostPort, Buffer.from('x')), { code: 'ECONNREFUSED' });
      assert.equal((await tcpRoundTrip(kept.hostPort, Buffer.from('k'))).toString(), 'echo:k');
    } finally {
      await kept.close();
      await stray.close();
      server.close();
    }
  });
});
