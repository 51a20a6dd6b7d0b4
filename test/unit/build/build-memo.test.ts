// The daemon's memory of fully cached builds: keyed by the context's bytes and every parameter, dropped when its
// image or an image it took from the store changed, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildMemo, type MemoParams } from '../../../src/engine/build/build-memo.js';

const params: MemoParams = { dockerfile: 'Dockerfile', tags: ['app:1'], buildArgs: new Map([['A', '1']]), labels: {}, target: undefined, network: 'none' };
const context = Buffer.from('tar bytes');

test('the key changes with the context bytes and with each parameter', () => {
  const base = BuildMemo.key(context, params);
  assert.equal(BuildMemo.key(Buffer.from('tar bytes'), { ...params, buildArgs: new Map([['A', '1']]) }), base);
  const variants: MemoParams[] = [
    { ...params, dockerfile: 'other.Dockerfile' }, { ...params, tags: ['app:2'] }, { ...params, buildArgs: new Map([['A', '2']]) },
    { ...params, labels: { x: 'y' } }, { ...params, target: 'build' }, { ...params, network: 'host' },
  ];
  for (const v of variants) assert.notEqual(BuildMemo.key(context, v), base, JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? [...x] : x)));
  assert.notEqual(BuildMemo.key(Buffer.from('tar bytez'), params), base);
});

test('an entry is given back only while its image exists and its base images resolve as they did', () => {
  const memo = new BuildMemo();
  const key = BuildMemo.key(context, params);
  memo.store(key, { imageId: 'sha256:img', external: { busybox: 'sha256:base' }, messages: [{ stream: 'Step 1/1 : FROM busybox\n' }] });
  const images = new Map([['busybox', 'sha256:base']]);
  const exists = new Set(['sha256:img']);
  assert.equal(memo.lookup(key, (r) => images.get(r), (id) => exists.has(id))?.imageId, 'sha256:img');
  images.set('busybox', 'sha256:newer');
  assert.equal(memo.lookup(key, (r) => images.get(r), (id) => exists.has(id)), undefined, 'the base moved');
  assert.equal(memo.size, 0, 'a stale entry is dropped');
  memo.store(key, { imageId: 'sha256:img', external: {}, messages: [] });
  exists.clear();
  assert.equal(memo.lookup(key, () => undefined, (id) => exists.has(id)), undefined, 'the image is gone');
});

test('it holds at most 128 builds, the least recently used go first, and clear forgets all', () => {
  const memo = new BuildMemo();
  for (let i = 0; i < 130; i++) memo.store(`k${i}`, { imageId: `i${i}`, external: {}, messages: [] });
  assert.equal(memo.size, 128);
  assert.equal(memo.lookup('k0', () => undefined, () => true), undefined);
  assert.equal(memo.lookup('k2', () => undefined, () => true)?.imageId, 'i2');
  memo.store('k130', { imageId: 'i130', external: {}, messages: [] });
  assert.equal(memo.lookup('k3', () => undefined, () => true), undefined, 'k3 was the oldest after k2 was used');
  assert.equal(memo.lookup('k2', () => undefined, () => true)?.imageId, 'i2');
  memo.clear();
  assert.equal(memo.size, 0);
});
