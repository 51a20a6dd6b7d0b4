import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VolumeStore } from '../../../src/engine/volumes/store.js';
import { isCode, removeDir, tempDir } from './helpers.js';

describe('VolumeStore', () => {
  let root = '';
  beforeEach(() => { root = tempDir(); });
  afterEach(() => removeDir(root));

  test('create makes volumes/<name>/_data and a record; inspect reports a local volume at that path', () => {
    const s = new VolumeStore(root);
    const rec = s.create('pgdata', { labels: { app: 'db' }, options: { o: 'x' } });
    assert.equal(rec.name, 'pgdata');
    assert.equal(rec.anonymous, false);
    assert.ok(statSync(join(root, 'volumes', 'pgdata', '_data')).isDirectory());
    assert.deepEqual(s.inspect('pgdata'), {
      Name: 'pgdata', Driver: 'local', Mountpoint: join(root, 'volumes', 'pgdata', '_data'), CreatedAt: rec.createdAt,
      Labels: { app: 'db' }, Scope: 'local', Options: { o: 'x' },
    });
  });

  test('create is idempotent: the second create returns the first record and keeps the data', () => {
    const s = new VolumeStore(root);
    const first = s.create('cache', { labels: { v: '1' } });
    writeFileSync(join(s.dataDir('cache'), 'keep.txt'), 'data');
    const second = s.create('cache', { labels: { v: '2' } });
    assert.deepEqual(second, first);
    assert.ok(existsSync(join(s.dataDir('cache'), 'keep.txt')));
    assert.deepEqual(s.list().map((v) => v.name), ['cache']);
  });

  for (const bad of ['', '-x', '.hidden', 'a/b', 'has space', '../escape', 'wé']) {
    test(`invalid name "${bad}" is INVALID_ARGUMENT and creates nothing`, () => {
      const s = new VolumeStore(root);
      assert.throws(() => s.create(bad), isCode('INVALID_ARGUMENT', /invalid volume name/));
      assert.deepEqual(readdirSync(join(root, 'volumes')), []);
    });
  }

  test('records survive a reopen (daemon restart), listed by name', () => {
    const s1 = new VolumeStore(root);
    s1.create('zeta');
    s1.create('alpha', { anonymous: true });
    const s2 = new VolumeStore(root);
    assert.deepEqual(s2.list().map((v) => [v.name, v.anonymous]), [['alpha', true], ['zeta', false]]);
    assert.deepEqual(s2.get('zeta'), s1.get('zeta'));
  });

  test('a stray half-made ".name.*" dir from a crash is cleaned at open and never listed', () => {
    mkdirSync(join(root, 'volumes', '.web.12345', '_data'), { recursive: true });
    mkdirSync(join(root, 'volumes', '.rm-old-999'), { recursive: true });
    const s = new VolumeStore(root);
    assert.deepEqual(readdirSync(join(root, 'volumes')), []);
    assert.deepEqual(s.list(), []);
    s.create('web');
    assert.deepEqual(readdirSync(join(root, 'volumes')), ['web']);
  });

  test('remove of a volume in use is VOLUME_IN_USE naming the containers, and keeps the volume', () => {
    const s = new VolumeStore(root);
    s.create('shared');
    assert.throws(() => s.remove('shared', ['web', 'worker']), isCode('VOLUME_IN_USE', /in use by container\(s\) web, worker/));
    assert.ok(s.find('shared'));
    assert.ok(existsSync(s.dataDir('shared')));
  });

  test('remove deletes the record and the data, for good', () => {
    const s = new VolumeStore(root);
    s.create('tmp');
    writeFileSync(join(s.dataDir('tmp'), 'f'), 'x');
    s.remove('tmp', []);
    assert.equal(s.find('tmp'), undefined);
    assert.deepEqual(readdirSync(join(root, 'volumes')), []);
    assert.equal(new VolumeStore(root).find('tmp'), undefined);
  });

  test('remove or inspect of an unknown volume is VOLUME_NOT_FOUND', () => {
    const s = new VolumeStore(root);
    assert.throws(() => s.remove('ghost', []), isCode('VOLUME_NOT_FOUND', /no such volume: ghost/));
    assert.throws(() => s.inspect('ghost'), isCode('VOLUME_NOT_FOUND'));
  });

  test('a volume can be made again after removal', () => {
    const s = new VolumeStore(root);
    s.create('again');
    s.remove('again', []);
    assert.equal(s.create('again').name, 'again');
    assert.ok(existsSync(s.dataDir('again')));
  });
});
