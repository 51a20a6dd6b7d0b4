// The API server on a real unix socket: body caps (413 before buffering), errors a user can act on, the
// socket directory's mode.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { prepareSocketDir } from '../../../src/common/paths.js';
import { Router, ttySizeParam } from '../../../src/api/router.js';
import { ApiServer, DEFAULT_MAX_BODY_BYTES, maxBodyBytesFromEnv } from '../../../src/api/server.js';

const CAP = 1024;

/** Sends `head` (request line + headers) then `chunks`; resolves with the answer once the *server* closes. */
function exchange(socket: string, head: string, chunks: Buffer[] = []): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const c = connect(socket);
    let text = '';
    c.on('error', () => undefined); // the server may close while we still write: what it answered counts
    c.setEncoding('utf8');
    c.on('data', (s: string) => { text += s; });
    c.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (!m) return reject(new Error(`no response: ${JSON.stringify(text)}`));
      resolve({ status: Number(m[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    c.write(head);
    for (const chunk of chunks) c.write(chunk);
  });
}

describe('ApiServer', { timeout: 20_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-api-server-'));
  const socket = join(dir, 'run', 'api.sock');
  const seen: string[] = [];
  let server: ApiServer;

  before(async () => {
    const r = new Router();
    r.add('POST', '/echo', (ctx) => ({ got: ctx.body }));
    r.add('POST', '/raw', async (ctx) => {
      let n = 0;
      for await (const c of ctx.req as AsyncIterable<Buffer>) n += c.length;
      return { bytes: n };
    }, { rawBody: true });
    r.add('POST', '/full', () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/var/lib/gantry/x.log' }); });
    r.add('POST', '/full-typed', () => {
      throw new GantryError('SYSCALL_FAILED', 'write `/var/lib/gantry/y`: ENOSPC', { cause: Object.assign(new Error('no space'), { code: 'ENOSPC' }) });
    });
    r.add('POST', '/resize', (ctx) => ({ h: ttySizeParam(ctx.query, 'h', 24), w: ttySizeParam(ctx.query, 'w', 80) }));
    server = new ApiServer(r, (m) => seen.push(m), { maxBodyBytes: CAP });
    await server.listen(socket);
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a JSON body under the cap is read', async () => {
    const body = JSON.stringify({ a: 'x'.repeat(CAP - 20) });
    const r = await exchange(socket, `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { got: { a: string } }).got.a.length, CAP - 20);
  });

  test('a declared Content-Length over the cap is a 413 with a Docker-shaped error, before any body is sent', async () => {
    const r = await exchange(socket, `POST /v1.43/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
    assert.equal(r.status, 413);
    const err = JSON.parse(r.body) as { message: string; code: string; hint: string };
    assert.match(err.message, /request body too large: the limit is 1024 bytes/);
    assert.equal(err.code, 'TOO_LARGE');
    assert.match(err.hint, /GANTRY_MAX_BODY/);
  });

  test('a chunked body is cut off once it passes the cap: 413 and the connection closes', async () => {
    const chunk = Buffer.from(`${(512).toString(16)}\r\n${'x'.repeat(512)}\r\n`);
    const r = await exchange(socket, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      [chunk, chunk, chunk, chunk]); // 2 KiB, never terminated: the server must not wait for the end
    assert.equal(r.status, 413);
    assert.match(r.body, /request body too large/);
  });

  test('raw-body routes (image import) are not held to the JSON cap', async () => {
    const size = CAP * 8;
    const r = await exchange(socket, `POST /raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`, [Buffer.alloc(size)]);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { bytes: size });
  });

  test('a full disk is NO_SPACE naming the path, not "a bug in gantry"', async () => {
    for (const path of ['/full', '/full-typed']) {
      const r = await exchange(socket, `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 507, path);
      const err = JSON.parse(r.body) as { message: string; code: string; hint: string };
      assert.equal(err.code, 'NO_SPACE');
      assert.match(err.message, /no space left on device/);
      assert.match(err.hint, /free some space/);
      assert.doesNotMatch(err.hint, /bug/);
    }
    const plain = await exchange(socket, 'POST /full HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.match(plain.body, /while writing \/var\/lib\/gantry\/x\.log/);
  });

  test('resize with a height or width that is not a number is a 400, not a silent 24x80', async () => {
    const ok = await exchange(socket, 'POST /resize?h=40&w=120 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.deepEqual(JSON.parse(ok.body), { h: 40, w: 120 });
    for (const q of ['h=abc', 'w=-1', 'h=1.5', 'w=70000']) {
      const r = await exchange(socket, `POST /resize?${q} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.equal(r.status, 400, q);
      const err = JSON.parse(r.body) as { code: string; message: string };
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /invalid terminal (height|width)/);
    }
  });

  test('a socket dir the server creates is 0700', () => {
    assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700);
  });
});

describe('GANTRY_MAX_BODY', () => {
  test('defaults to 4 MiB and takes sizes with units', () => {
    assert.equal(maxBodyBytesFromEnv({}), DEFAULT_MAX_BODY_BYTES);
    assert.equal(DEFAULT_MAX_BODY_BYTES, 4 * 1024 * 1024);
    assert.equal(maxBodyBytesFromEnv({ GANTRY_MAX_BODY: '16m' }), 16 * 1024 * 1024);
    assert.throws(() => maxBodyBytesFromEnv({ GANTRY_MAX_BODY: 'huge' }), (e: unknown) => e instanceof GantryError && e.code === 'USAGE');
    assert.throws(() => maxBodyBytesFromEnv({ GANTRY_MAX_BODY: '0' }), (e: unknown) => e instanceof GantryError && e.code === 'USAGE');
  });
});

describe('prepareSocketDir', () => {
  test('an existing directory (like /tmp for unix:///tmp/x.sock) keeps its mode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-sockdir-'));
    try {
      const shared = join(dir, 'shared');
      mkdirSync(shared);
      chmodSync(shared, 0o1777);
      assert.equal(prepareSocketDir(join(shared, 'x.sock'), join(dir, 'own')), false);
      assert.equal(statSync(shared).mode & 0o7777, 0o1777);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a directory it creates, and gantry\'s own existing one, are made 0700', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-sockdir-'));
    try {
      assert.equal(prepareSocketDir(join(dir, 'a', 'b', 'x.sock'), join(dir, 'own')), true);
      assert.equal(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o700);
      const own = join(dir, 'own');
      mkdirSync(own, { mode: 0o755 });
      chmodSync(own, 0o755);
      assert.equal(prepareSocketDir(join(own, 'gantry.sock'), own), true);
      assert.equal(statSync(own).mode & 0o777, 0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
