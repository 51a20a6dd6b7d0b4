// Untrusted input through a real daemon: a gzip bomb import and an oversized API body are refused with errors
// naming the cap; exec into a missing working directory says so (root).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BLOCK, encodeHeader, paddedSize } from '../../src/engine/images/tar.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');
const MiB = 1024 * 1024;

/** POSTs `body` to the daemon; resolves with the status and the parsed error (or body). */
function post(socket: string, path: string, body: Buffer): Promise<{ status: number; json: { message?: string; hint?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { text += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { message?: string; hint?: string } }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('input caps through the daemon', { skip }, () => {
  const d = new TestDaemon('caps');
  const saved = { bytes: process.env['GANTRY_MAX_LAYER_BYTES'], body: process.env['GANTRY_MAX_BODY'] };
  before(async () => {
    process.env['GANTRY_MAX_LAYER_BYTES'] = '64m'; // busybox is ~4 MiB; the bomb below is 1 GiB
    process.env['GANTRY_MAX_BODY'] = '64k';
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    for (const [key, value] of [['GANTRY_MAX_LAYER_BYTES', saved.bytes], ['GANTRY_MAX_BODY', saved.body]] as const) {
      if (value === undefined) delete process.env[key]; else process.env[key] = value;
    }
    await d.dispose();
  });

  test('gantry import of a gzip bomb (1 MiB → 1 GiB) fails naming the cap, and leaves no layer or image', async () => {
    const bomb = join(d.dir, 'bomb.tar.gz');
    const size = 1024 * MiB;
    const zeros = Buffer.alloc(MiB);
    async function* tar(): AsyncGenerator<Buffer> {
      yield encodeHeader({ name: 'zeros', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, type: '0', linkname: '', devmajor: 0, devminor: 0 });
      for (let left = size; left > 0; left -= zeros.length) yield zeros;
      yield Buffer.alloc(paddedSize(size) - size + 2 * BLOCK);
    }
    await pipeline(Readable.from(tar()), createGzip({ level: 9 }), createWriteStream(bomb));
    const layersBefore = readdirSync(join(d.root, 'layers')).sort();
    const r = d.gantry(['import', bomb, 'bomb']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /the layer unpacks to more than 67108864 bytes/);
    assert.match(r.stderr, /GANTRY_MAX_LAYER_BYTES/);
    assert.doesNotMatch(d.ok(['images']), /bomb/);
    assert.deepEqual(readdirSync(join(d.root, 'layers')).sort(), layersBefore, 'no layer or temp dir remains');
  });

  test('a create body over GANTRY_MAX_BODY is a 413 with a Docker-shaped message', async () => {
    const body = Buffer.from(JSON.stringify({ Image: 'busybox', Env: [`BIG=${'x'.repeat(100 * 1024)}`] }));
    const r = await post(d.socket, '/v1.43/containers/create', body);
    assert.equal(r.status, 413);
    assert.match(r.json.message ?? '', /request body too large: the limit is 65536 bytes/);
    assert.match(r.json.hint ?? '', /GANTRY_MAX_BODY/);
    assert.equal(d.ok(['ps', '-aq']).trim(), '', 'nothing was created');
  });

  test('exec -w into a missing directory fails with a message and status 126, like docker', () => {
    d.ok(['run', '-d', '--name', 'cwd', 'busybox', 'sleep', '60']);
    try {
      const r = d.gantry(['exec', '-w', '/nonexistent', 'cwd', 'true']);
      assert.equal(r.status, 126, r.stderr);
      assert.match(r.stderr, /OCI runtime exec failed: .*chdir.*\/nonexistent.*(no such file or directory|ENOENT)/i);
      assert.equal(d.ok(['exec', '-w', '/tmp', 'cwd', 'pwd']), '/tmp\n', 'an existing directory still works');
    } finally {
      d.gantry(['rm', '-f', 'cwd']);
    }
  });
});
