import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { copyUpIntoVolume } from '../../../src/engine/volumes/copy-up.js';
import { requires } from '../../helpers/privileged.js';
import { removeDir, tempDir } from './helpers.js';
import { writeOpaqueLayer, writeTree } from './rootfs-layers.js';

describe('copyUpIntoVolume: image content at a volume target, never the host', () => {
  let dir: string;
  let host: string;
  let upper: string;
  let top: string;
  let base: string;
  let n = 0;
  const freshVolume = (): string => {
    const v = join(dir, 'volumes', `v${n++}`, '_data');
    mkdirSync(v, { recursive: true });
    return v;
  };

  before(() => {
    dir = tempDir();
    host = join(dir, 'host');
    upper = join(dir, 'upper');
    top = join(dir, 'top');
    base = join(dir, 'base');
    writeTree(host, { 'canary/secret': 'HOST-CANARY' });
    writeTree(base, {
      hostroot: { link: '/' },
      'etc/app/conf': 'base-conf',
      'etc/app/gone': 'gone',
      'etc/app/sub/deep': 'deep',
      'etc/app/out': { link: host },
      [`${host.slice(1)}/canary/image-file`]: 'from-image',
      'data/escape': { link: host },
    });
    writeTree(top, { 'etc/app/gone': { whiteout: true }, 'etc/app/added': 'added' });
    writeTree(join(top, 'data/escape'), { secret: 'layer-file-over-a-lower-link' });
    mkdirSync(upper);
  });
  after(() => removeDir(dir));

  const source = (): { name: string; layers: string[] } => ({ name: 'db', layers: [upper, top, base] });

  test('copies the merged view: whiteouts removed, links copied as links', async () => {
    const vol = freshVolume();
    assert.equal(await copyUpIntoVolume(source(), '/etc/app', vol), true);
    assert.deepEqual(readdirSync(vol).sort(), ['added', 'conf', 'out', 'sub']);
    assert.equal(readFileSync(join(vol, 'sub/deep'), 'utf8'), 'deep');
    assert.ok(lstatSync(join(vol, 'out')).isSymbolicLink());
    assert.equal(readlinkSync(join(vol, 'out')), host, 'the link is kept, not followed');
    assert.deepEqual(readdirSync(join(vol, '..')), ['_data'], 'no staging dir is left');
  });

  test('a target through `hostroot -> /` is the image\'s own directory, not the host\'s', async () => {
    const vol = freshVolume();
    assert.equal(await copyUpIntoVolume(source(), `/hostroot${host}/canary`, vol), true);
    assert.deepEqual(readdirSync(vol), ['image-file'], 'the image\'s copy of that path, never the host canary');
    const vol2 = freshVolume();
    assert.equal(await copyUpIntoVolume(source(), '/hostroot/nonexistent-in-image', vol2), false);
    assert.deepEqual(readdirSync(vol2), []);
  });

  test('a lower layer\'s link under an upper layer\'s directory of the same name is not written through', async () => {
    const vol = freshVolume();
    assert.equal(await copyUpIntoVolume(source(), '/data', vol), true);
    assert.ok(lstatSync(join(vol, 'escape')).isDirectory());
    assert.equal(readFileSync(join(vol, 'escape/secret'), 'utf8'), 'layer-file-over-a-lower-link');
    assert.equal(readFileSync(join(host, 'canary/secret'), 'utf8'), 'HOST-CANARY');
    assert.ok(!existsSync(join(host, 'secret')), 'nothing written on the host');
  });

  test('a volume that already has content is left alone', async () => {
    const vol = freshVolume();
    writeTree(vol, { mine: 'mine' });
    assert.equal(await copyUpIntoVolume(source(), '/etc/app', vol), false);
    assert.deepEqual(readdirSync(vol), ['mine']);
  });

  test('more entries or bytes than the limits: a clear error, the volume stays empty', async () => {
    const vol = freshVolume();
    await assert.rejects(copyUpIntoVolume(source(), '/etc/app', vol, { maxEntries: 2, maxBytes: 1 << 20 }), (e: unknown) => {
      assert.ok(e instanceof GantryError);
      assert.match(e.message, /copying \/etc\/app of container db into its volume: the image holds more than 2 entries there/);
      assert.match(e.hint ?? '', /nocopy/);
      return true;
    });
    assert.deepEqual(readdirSync(vol), []);
    assert.deepEqual(readdirSync(join(vol, '..')), ['_data'], 'the staging dir is removed');
    await assert.rejects(copyUpIntoVolume(source(), '/etc/app', vol, { maxEntries: 100, maxBytes: 5 }), /more than 5 bytes/);
  });

  test('an opaque directory hides the lower layers\' content', async (t) => {
    if (!requires(t, 'root')) return;
    const d = join(dir, 'opaque');
    writeTree(join(d, 'low'), { 'srv/old': 'old', 'srv/keep/x': 'x' });
    mkdirSync(join(d, 'scratch'), { recursive: true });
    await writeOpaqueLayer(join(d, 'high'), join(d, 'scratch'), 'srv', { 'srv/new': 'new' });
    const vol = freshVolume();
    assert.equal(await copyUpIntoVolume({ name: 'db', layers: [join(d, 'high'), join(d, 'low')] }, '/srv', vol), true);
    assert.deepEqual(readdirSync(vol), ['new']);
  });
});
