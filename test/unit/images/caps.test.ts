// Caps on what an imported layer may unpack to (gzip bombs, entry floods) and the xattrs a tarball may not set.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { GantryError } from '../../../src/common/errors.js';
import { DEFAULT_LAYER_LIMITS, ImageStore, layerLimitsFromEnv, type LayerLimits } from '../../../src/engine/images/index.js';
import { BLOCK, dropPaxRecords, encodeBodylessEntry, encodeHeader, paddedSize, parsePaxRecords } from '../../../src/engine/images/tar.js';
import { requires } from '../../helpers/privileged.js';
import { removeDir, tempDir } from './fixtures.js';

const MiB = 1024 * 1024;
const entryHeader = { mode: 0o644, uid: 0, gid: 0, mtime: 946684800, linkname: '', devmajor: 0, devminor: 0 };

/** A gzip-compressed tar holding one file of `size` zero bytes, streamed (never held in memory or on disk). */
async function writeZeroBomb(out: string, size: number): Promise<void> {
  const zeros = Buffer.alloc(MiB);
  async function* tar(): AsyncGenerator<Buffer> {
    yield encodeHeader({ ...entryHeader, name: 'zeros', type: '0', size });
    for (let left = size; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
    yield Buffer.alloc(paddedSize(size) - size + 2 * BLOCK);
  }
  await pipeline(Readable.from(tar()), createGzip({ level: 9 }), createWriteStream(out));
}

/** A plain tar of `n` empty files. */
function manyFilesTar(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(encodeHeader({ ...entryHeader, name: `f${i}`, type: '0', size: 0 }));
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

const tooLarge = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof GantryError, String(e));
  assert.equal(e.code, 'TOO_LARGE');
  assert.match(`${e.message} ${e.hint ?? ''}`, pattern);
  return true;
};

describe('layer caps', () => {
  let dir = '';
  let root = '';
  const open = (limits: Partial<LayerLimits>): ImageStore => new ImageStore({ root, limits: { ...DEFAULT_LAYER_LIMITS, ...limits } });
  const leftovers = (): string[] => [...readdirSync(join(root, 'layers')), ...readdirSync(join(root, 'blobs', 'sha256'))];

  beforeEach(() => { dir = tempDir(); root = join(dir, 'root'); });
  afterEach(() => removeDir(dir));

  test('a gzip bomb past the byte cap is refused, naming the cap and how to raise it, and leaves nothing behind', async () => {
    const bomb = join(dir, 'bomb.tar.gz');
    await writeZeroBomb(bomb, 512 * MiB);
    const store = open({ maxBytes: 32 * MiB });
    await assert.rejects(store.importTarball(bomb, 'bomb'), tooLarge(/more than 33554432 bytes.*GANTRY_MAX_LAYER_BYTES/s));
    assert.deepEqual(leftovers(), [], 'no layer, temp dir or blob remains');
    assert.equal(store.list().length, 0);
  });

  test('with the default caps, a layer unpacking to far more than its compressed size is refused as a bomb', async () => {
    const bomb = join(dir, 'bomb.tar.gz');
    await writeZeroBomb(bomb, 320 * MiB); // ~1000:1, past the 256 MiB floor of the ratio check
    await assert.rejects(open({}).importTarball(bomb, 'bomb'), tooLarge(/decompression bomb.*GANTRY_MAX_LAYER_RATIO/s));
    assert.deepEqual(leftovers(), []);
  });

  test('a layer with more entries than the cap is refused; at the cap it imports', async () => {
    const tar = join(dir, 'many.tar');
    writeFileSync(tar, manyFilesTar(1001));
    await assert.rejects(open({ maxEntries: 1000 }).importTarball(tar, 'many'), tooLarge(/more than 1000 entries.*GANTRY_MAX_LAYER_ENTRIES/s));
    assert.deepEqual(leftovers(), []);
    const image = await open({ maxEntries: 1001 }).importTarball(tar, 'many');
    assert.equal(readdirSync(open({}).layerDirs(image)[0]!).length, 1001);
  });

  test('the caps come from GANTRY_MAX_LAYER_BYTES / _ENTRIES / _RATIO, with sizes in units', () => {
    assert.deepEqual(layerLimitsFromEnv({}), DEFAULT_LAYER_LIMITS);
    assert.deepEqual(layerLimitsFromEnv({ GANTRY_MAX_LAYER_BYTES: '2g', GANTRY_MAX_LAYER_ENTRIES: '10', GANTRY_MAX_LAYER_RATIO: '0' }),
      { maxBytes: 2 * 1024 ** 3, maxEntries: 10, maxRatio: 0 });
    assert.throws(() => layerLimitsFromEnv({ GANTRY_MAX_LAYER_ENTRIES: 'lots' }), (e: unknown) => e instanceof GantryError && e.code === 'USAGE' && /GANTRY_MAX_LAYER_ENTRIES/.test(e.message));
    assert.throws(() => layerLimitsFromEnv({ GANTRY_MAX_LAYER_BYTES: 'big' }), (e: unknown) => e instanceof GantryError && e.code === 'USAGE');
  });
});

describe('a full disk', () => {
  test('importing onto a full filesystem is NO_SPACE naming the place, and leaves nothing half-made', async (t) => {
    if (!requires(t, 'root')) return; // mounts a small tmpfs
    const dir = tempDir();
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'gantry-test-full', mnt]);
    try {
      // 3 MiB of noise: the blob fits, extracting it does not (tar's short write); 6 MiB: the blob does not fit.
      for (const [size, place] of [[3 * MiB, 'extracting a layer'], [6 * MiB, 'writing']] as const) {
        const tarFile = join(dir, 'big.tar');
        writeFileSync(tarFile, Buffer.concat([
          encodeHeader({ ...entryHeader, name: 'noise', type: '0', size }), randomBytes(size), Buffer.alloc(2 * BLOCK),
        ]));
        const store = new ImageStore({ root: join(mnt, 'root') });
        const err = await store.importTarball(tarFile, 'big').then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof GantryError, String(err));
        assert.equal(err.code, 'NO_SPACE', err.message);
        assert.match(err.message, new RegExp(`no space left on device while ${place} .*${mnt.replace(/[/.]/g, '\\$&')}`));
        assert.match(err.hint ?? '', /free some space/);
        assert.deepEqual(readdirSync(join(mnt, 'root', 'layers')), [], `${size}: no layer or temp dir remains`);
        assert.deepEqual(readdirSync(join(mnt, 'root', 'blobs', 'sha256')), [], `${size}: no blob remains`);
        assert.equal(store.list().length, 0);
      }
    } finally {
      execFileSync('umount', [mnt]);
      removeDir(dir);
    }
  });
});

describe('xattrs from a tarball', () => {
  let dir = '';
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => removeDir(dir));

  test('trusted.* records are dropped from a PAX header, other records kept byte for byte (binary values too)', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x20, 0x0a, 0xff, 0x3d]); // a value with a newline, 0xff and '='
    const record = (key: string, value: Buffer): Buffer => {
      const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return Buffer.concat([Buffer.from(String(len)), rest]);
    };
    const withCap = Buffer.concat([
      record('path', Buffer.from('a')), record('SCHILY.xattr.trusted.overlay.opaque', Buffer.from('y')),
      record('SCHILY.xattr.security.capability', cap), record('LIBARCHIVE.xattr.trusted.overlay.redirect', Buffer.from('eA==')),
    ]);
    const kept = dropPaxRecords(withCap, (k) => k.includes('.xattr.trusted.'));
    assert.ok(kept !== undefined);
    assert.deepEqual([...parsePaxRecords(kept).keys()], ['path', 'SCHILY.xattr.security.capability']);
    assert.ok(kept.includes(cap), 'the binary value is untouched');
    assert.equal(dropPaxRecords(withCap, () => false), undefined, 'nothing dropped: undefined');
  });

  test('an imported layer has no trusted.overlay.* xattr from the tarball; the conversion still sets its own', async (t) => {
    if (!requires(t, 'root')) return; // trusted.* xattrs can only be set by root
    const tarFile = join(dir, 'layer.tar');
    writeFileSync(tarFile, Buffer.concat([
      encodeBodylessEntry({ ...entryHeader, mode: 0o755, name: 'forged/', type: '5' },
        [['SCHILY.xattr.trusted.overlay.opaque', 'y'], ['SCHILY.xattr.user.kept', 'yes']]),
      encodeBodylessEntry({ ...entryHeader, mode: 0o755, name: 'real/', type: '5' }),
      encodeBodylessEntry({ ...entryHeader, name: 'real/.wh..wh..opq', type: '0' }),
      Buffer.alloc(2 * BLOCK),
    ]));
    const store = new ImageStore({ root: join(dir, 'root') });
    const image = await store.importTarball(tarFile, 'forged');
    const diff = store.layerDirs(image)[0]!;
    const listing = execFileSync('sh', ['-c', 'tar --create --xattrs --xattrs-include="*" --file=- --directory "$1" forged real | tar --list --xattrs --xattrs-include="*" -vv --file=-', 'sh', diff], { encoding: 'utf8' });
    const forged = /forged\/\n((?:\s+x:.*\n)*)/.exec(listing)?.[1] ?? '';
    const real = /real\/\n((?:\s+x:.*\n)*)/.exec(listing)?.[1] ?? '';
    assert.doesNotMatch(forged, /trusted\.overlay/, listing);
    assert.match(forged, /user\.kept/, 'other xattrs stay');
    assert.match(real, /trusted\.overlay\.opaque/, 'the whiteout conversion sets the opaque xattr itself');
  });
});
