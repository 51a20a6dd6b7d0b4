// Hostile tarballs through the real extraction (root): every refused entry leaves no layer, blob or image, and
// what is contained lands inside the layer — an absolute name under the layer dir, a symlink to `/` kept as a
// link, nothing written outside.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../src/common/errors.js';
import { ImageStore } from '../../src/engine/images/index.js';
import { craftTar, HOSTILE } from '../helpers/craft-tar.js';
import { skipReason } from '../helpers/privileged.js';

describe('hostile tarballs extracted for real', { skip: skipReason('root') }, () => {
  let dir = '';
  let store: ImageStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-hostile-'));
    store = new ImageStore({ root: join(dir, 'root') });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each refused entry is named and nothing is stored', async () => {
    for (const c of HOSTILE) {
      const file = join(dir, 'hostile.tar');
      writeFileSync(file, craftTar(c.entries));
      await assert.rejects(store.importTarball(file, 'hostile'), (e: unknown) => e instanceof GantryError && e.message.includes(JSON.stringify(c.entry)), c.what);
      assert.deepEqual(store.list(), [], c.what);
      assert.deepEqual(readdirSync(join(dir, 'root', 'layers')), [], c.what);
      assert.deepEqual(readdirSync(join(dir, 'root', 'blobs', 'sha256')), [], c.what);
    }
  });

  test('absolute names and links are contained in the layer', async () => {
    const file = join(dir, 'contained.tar');
    const outside = join(dir, 'outside-target');
    writeFileSync(file, craftTar([
      { name: `${outside}`, body: 'in the layer' },
      { name: 'slash', type: '2', linkname: '/' },
      { name: 'hl', type: '1', linkname: `${outside}` },
      { name: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
    ]));
    await store.importTarball(file, 'contained');
    const [layer] = store.layerDirs('contained');
    assert.ok(layer !== undefined);
    assert.equal(existsSync(outside), false, 'nothing written at the absolute host path');
    assert.equal(readFileSync(join(layer, outside.slice(1)), 'utf8'), 'in the layer');
    assert.equal(readlinkSync(join(layer, 'slash')), '/');
    assert.equal(lstatSync(join(layer, 'hl')).ino, lstatSync(join(layer, outside.slice(1))).ino);
    assert.ok(lstatSync(join(layer, 'dev/null')).isCharacterDevice());
    await store.remove('contained');
  });
});
