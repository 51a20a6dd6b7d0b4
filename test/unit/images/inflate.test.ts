// Layer gunzip through ISA-L's igzip (a process) or Node's zlib: the same bytes out, damaged input refused, and a
// stream stopped downstream (a cap) kills the process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { GantryError } from '../../../src/common/errors.js';
import { createDecompressor, createInflater, findIgzip, findZstd, inflateBackend, PROCESS_INFLATE_MIN_BYTES, type InflateBackend } from '../../../src/engine/images/inflate.js';

const MiB = 1024 * 1024;

/** Compressible but not trivial: random words repeated with variations. */
function payload(size: number): Buffer {
  const words = Array.from({ length: 512 }, () => randomBytes(1 + Math.floor(Math.random() * 12)).toString('base64'));
  const parts: string[] = [];
  let n = 0;
  while (n < size) { const w = words[Math.floor(Math.random() * words.length)]!; parts.push(w); n += w.length + 1; }
  return Buffer.from(parts.join(' ')).subarray(0, size);
}

async function inflate(backend: InflateBackend, input: Buffer, chunk = 64 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = function* (): Generator<Buffer> { for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk); };
  await pipeline(Readable.from(chunks()), createInflater(backend), new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } }));
  return Buffer.concat(out);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function ourIgzips(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /\bigzip$/.test(l.trim())).map((l) => Number(l.trim().split(/\s+/)[0]));
}

const needsIgzip = (t: { skip: (why: string) => void }): boolean => {
  if (findIgzip() !== null) return true;
  if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error('required by GANTRY_REQUIRE_PRIVILEGED=1: needs igzip (apt-get install isal; scripts/setup.sh does)');
  t.skip('needs igzip (apt-get install isal)');
  return false;
};

describe('layer gunzip', () => {
  test('small blobs inflate in-process, large ones through igzip when installed; GANTRY_GUNZIP chooses', () => {
    const withIgzip = findIgzip() === null ? 'zlib' : 'igzip';
    assert.equal(inflateBackend(PROCESS_INFLATE_MIN_BYTES - 1, {}), 'zlib');
    assert.equal(inflateBackend(PROCESS_INFLATE_MIN_BYTES, {}), withIgzip);
    assert.equal(inflateBackend(undefined, {}), withIgzip);
    assert.equal(inflateBackend(100 * MiB, { GANTRY_GUNZIP: 'zlib' }), 'zlib');
    assert.equal(inflateBackend(10, { GANTRY_GUNZIP: 'igzip' }), withIgzip);
  });

  test('igzip and zlib give the same bytes, for one gzip member and for several', async (t) => {
    if (!needsIgzip(t)) return;
    const a = payload(3 * MiB);
    const b = payload(MiB);
    for (const gz of [gzipSync(a), Buffer.concat([gzipSync(a), gzipSync(b)])]) {
      const viaZlib = await inflate('zlib', gz);
      const viaIgzip = await inflate('igzip', gz, 7777);
      assert.equal(sha(viaIgzip), sha(viaZlib));
      assert.ok(viaIgzip.length === a.length || viaIgzip.length === a.length + b.length);
    }
  });

  test('damaged or cut-short gzip fails as INVALID_IMAGE_ARCHIVE through either, without echoing content', async (t) => {
    if (!needsIgzip(t)) return;
    const gz = gzipSync(payload(2 * MiB));
    const damaged = Buffer.from(gz);
    damaged.fill(0x41, 1000, 5000);
    for (const backend of ['igzip', 'zlib'] as const) {
      for (const input of [damaged, gz.subarray(0, gz.length - 100), Buffer.from('AAAAAAAAAAAAAAAAAAAA')]) {
        await assert.rejects(inflate(backend, input), (e: unknown) => {
          if (backend === 'zlib') return e instanceof Error; // zlib's own errors; extraction wraps them
          return e instanceof GantryError && e.code === 'INVALID_IMAGE_ARCHIVE' && !/AAAA/.test(e.message);
        });
      }
    }
    assert.deepEqual(ourIgzips(), []);
  });

  test('a stream stopped downstream (a cap) kills igzip at once', async (t) => {
    if (!needsIgzip(t)) return;
    const zeros = Buffer.alloc(MiB);
    const bomb = gzipSync(Buffer.concat(Array.from({ length: 64 }, () => zeros)), { level: 9 });
    let seen = 0;
    const cap = new Writable({ write(c: Buffer, _e, done) { seen += c.length; done(seen > 4 * MiB ? new Error('cap passed') : null); } });
    await assert.rejects(pipeline(Readable.from([bomb]), createInflater('igzip'), cap), /cap passed/);
    for (let i = 0; i < 50 && ourIgzips().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(ourIgzips(), []);
    assert.ok(seen < 64 * MiB);
  });

  test('zstd: the same bytes as the zstd program wrote; a damaged frame is INVALID_IMAGE_ARCHIVE', async (t) => {
    if (findZstd() === null) {
      if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error('required by GANTRY_REQUIRE_PRIVILEGED=1: needs zstd (apt-get install zstd)');
      t.skip('needs zstd'); return;
    }
    const data = payload(2 * MiB);
    const zst = execFileSync(findZstd()!, ['-q', '-c'], { input: data, maxBuffer: 64 * MiB });
    const run = async (input: Buffer): Promise<Buffer> => {
      const out: Buffer[] = [];
      await pipeline(Readable.from([input]), createDecompressor('zstd', input.length), new Writable({ write(c: Buffer, _e, done) { out.push(c); done(); } }));
      return Buffer.concat(out);
    };
    assert.equal(sha(await run(zst)), sha(data));
    const damaged = Buffer.from(zst);
    damaged.fill(0x41, 200, 4000);
    await assert.rejects(run(damaged), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_IMAGE_ARCHIVE' && /zstd stream/.test(e.message));
    await assert.rejects(run(zst.subarray(0, zst.length - 50)), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_IMAGE_ARCHIVE');
  });
});
