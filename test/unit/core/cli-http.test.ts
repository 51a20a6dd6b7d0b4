// The CLI's HTTP client keeps connections alive: many requests (rm -f of 1,000) share a few connections, every
// answer form (length, chunked, none, until close) still reads whole, a connection the daemon closed while idle
// is replaced without the user seeing an error, and an idle connection never keeps the command alive.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DaemonClient } from '../../../src/cli/client.js';

describe('CLI HTTP client: kept-alive connections', () => {
  let dir = '';
  let server: Server;
  let connections = 0;
  const sockPath = (): string => join(dir, 'api.sock');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-cli-http-'));
    server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/empty') { res.writeHead(204); res.end(); return; }
      if (url.pathname === '/chunked') { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.write('one,'); setTimeout(() => res.end('two'), 5); return; }
      if (url.pathname === '/close') { res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' }); res.end('{"closed":true}'); return; }
      if (url.pathname === '/error') { res.writeHead(404, { 'Content-Type': 'application/json' }); res.end('{"message":"no such container: x","code":"NOT_FOUND"}'); return; }
      const body = JSON.stringify({ path: url.pathname, n: Number(url.searchParams.get('n') ?? 0) });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.on('connection', () => { connections++; });
    await new Promise<void>((r) => server.listen(sockPath(), r));
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('sequential and concurrent requests reuse a few connections; every answer is whole', async () => {
    const client = new DaemonClient(`unix://${sockPath()}`);
    const before = connections;
    for (let i = 0; i < 20; i++) assert.deepEqual(await client.call('GET', '/seq', { query: { n: i } }), { path: '/seq', n: i });
    assert.equal(connections - before, 1, 'one connection for 20 requests one after another');
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => client.call<{ n: number }>('DELETE', '/containers/x', { query: { n: i } })));
    assert.deepEqual(answers.map((a) => a.n), Array.from({ length: 40 }, (_, i) => i));
    assert.ok(connections - before <= 41, 'never more connections than requests in flight');
    const reused = connections;
    assert.equal(await client.call('DELETE', '/empty'), undefined, 'a 204 answer has no body');
    assert.equal(await client.call('GET', '/chunked'), 'one,two');
    assert.deepEqual(await client.call('GET', '/seq'), { path: '/seq', n: 0 });
    assert.equal(connections, reused, 'after 204 and chunked answers the connection is reused');
    assert.deepEqual(await client.call('GET', '/close'), { closed: true });
    await assert.rejects(client.call('GET', '/error'), /no such container: x/);
    assert.deepEqual(await client.call('GET', '/seq', { query: { n: 7 } }), { path: '/seq', n: 7 });
  });

  test('a connection the daemon closed while idle is replaced: the request still gets its answer', async () => {
    const client = new DaemonClient(`unix://${sockPath()}`);
    assert.deepEqual(await client.call('GET', '/seq', { query: { n: 1 } }), { path: '/seq', n: 1 });
    server.closeIdleConnections(); // what the daemon's keepAliveTimeout does
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await client.call('GET', '/seq', { query: { n: 2 } }), { path: '/seq', n: 2 });
    // closed so late that the client writes on it before it sees the close
    const races = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      await client.call('GET', '/seq');
      server.closeIdleConnections();
      return client.call<{ n: number }>('GET', '/seq', { query: { n: i } });
    }));
    assert.deepEqual(races.map((r) => r.n), Array.from({ length: 10 }, (_, i) => i));
  });

  test('an idle kept-alive connection does not keep a finished command alive', async () => {
    const script = `
      import { DaemonClient } from ${JSON.stringify(join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'src', 'cli', 'client.js'))};
      const c = new DaemonClient(${JSON.stringify(`unix://${sockPath()}`)});
      console.log(JSON.stringify(await c.call('GET', '/seq', { query: { n: 3 } })));`;
    // not spawnSync: this process serves the request
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    clearTimeout(timer);
    assert.equal(signal, null, 'exited by itself (not killed after 10 s)');
    assert.equal(code, 0, err);
    assert.equal(out.trim(), '{"path":"/seq","n":3}');
  });
});
