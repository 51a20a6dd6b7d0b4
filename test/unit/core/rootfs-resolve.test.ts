import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBeneath } from '../../../src/engine/rootfs/open-beneath.js';
import { resolveInLayers, ResolveError } from '../../../src/engine/rootfs/resolve.js';
import { requires } from '../../helpers/privileged.js';
import { removeDir, tempDir } from './helpers.js';
import { writeOpaqueLayer, writeTree } from './rootfs-layers.js';

const rejectsWith = (code: string) => (e: unknown): boolean => e instanceof ResolveError && e.code === code;

describe('resolveInLayers: a path inside a layered container root', () => {
  let dir: string;
  let host: string;
  let upper: string;
  let top: string;
  let base: string;
  let layers: string[];

  before(() => {
    dir = tempDir();
    host = join(dir, 'host');
    upper = join(dir, 'upper');
    top = join(dir, 'top');
    base = join(dir, 'base');
    // a canary on the host, outside every layer: no resolution may ever reach it
    writeTree(host, { 'secret/canary': 'HOST-CANARY' });
    writeTree(base, {
      'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
      'etc/group': 'root:x:0:\n',
      'etc/hostname': 'base',
      'data/old': 'old',
      'bin/sh': 'sh',
      hostroot: { link: '/' },
      'usr/bin/up3': { link: '../../..' },
      'usr/bin/upmany': { link: '../../../../../../../../..' },
      'loop/a': { link: 'b' },
      'loop/b': { link: 'a' },
      'chain/one': { link: 'two' },
      'chain/two': { link: '/chain/three' },
      'chain/three': { link: '../etc/passwd' },
      'rel-abs': { link: join(host, 'secret') },
    });
    writeTree(top, { 'etc/hostname': 'top', 'etc/added': 'added', 'data/old': { whiteout: true } });
    writeTree(upper, { 'etc/group': 'wheel:x:10:\n' });
    layers = [upper, top, base];
  });
  after(() => removeDir(dir));

  test('a file comes from the topmost layer that has it; directories merge', async () => {
    assert.equal((await resolveInLayers(layers, '/etc/group')).hostPath, join(upper, 'etc/group'));
    assert.equal((await resolveInLayers(layers, '/etc/hostname')).hostPath, join(top, 'etc/hostname'));
    assert.equal((await resolveInLayers(layers, '/etc/passwd')).hostPath, join(base, 'etc/passwd'));
    assert.deepEqual((await resolveInLayers(layers, '/etc')).dirLayers, [join(upper, 'etc'), join(top, 'etc'), join(base, 'etc')]);
  });

  test('a whiteout deletes the name from the layers below', async () => {
    await assert.rejects(resolveInLayers(layers, '/data/old'), rejectsWith('ENOENT'));
  });

  test('an absolute link restarts at the container root, not the host root', async () => {
    const e = await resolveInLayers(layers, '/hostroot/etc/passwd');
    assert.equal(e.hostPath, join(base, 'etc/passwd'));
    assert.equal(e.containerPath, '/etc/passwd');
    const hostSecret = join(host, 'secret/canary').slice(1);
    await assert.rejects(resolveInLayers(layers, `/hostroot/${hostSecret}`), rejectsWith('ENOENT'), 'the host path behind the link is never reached');
    await assert.rejects(resolveInLayers(layers, '/rel-abs/canary'), rejectsWith('ENOENT'), 'a link to a host path is a path in the container');
  });

  test('`..` never goes above the container root, in paths and in links', async () => {
    assert.equal((await resolveInLayers(layers, '/../../../../etc/passwd')).hostPath, join(base, 'etc/passwd'));
    assert.equal((await resolveInLayers(layers, '/usr/bin/up3/etc/passwd')).hostPath, join(base, 'etc/passwd'));
    assert.equal((await resolveInLayers(layers, '/usr/bin/upmany/etc/passwd')).hostPath, join(base, 'etc/passwd'));
    assert.equal((await resolveInLayers(layers, '/usr/bin/upmany')).containerPath, '/');
    await assert.rejects(resolveInLayers(layers, '/usr/bin/upmany/host/secret/canary'), rejectsWith('ENOENT'));
  });

  test('link chains are followed inside the root; loops end with ELOOP', async () => {
    const e = await resolveInLayers(layers, '/chain/one');
    assert.equal(e.hostPath, join(base, 'etc/passwd'));
    await assert.rejects(resolveInLayers(layers, '/loop/a'), rejectsWith('ELOOP'));
    assert.ok((await resolveInLayers(layers, '/loop/a', { followFinal: false })).stat.isSymbolicLink(), 'the link itself when the last one is not followed');
  });

  test('a file used as a directory is ENOTDIR', async () => {
    await assert.rejects(resolveInLayers(layers, '/etc/passwd/x'), rejectsWith('ENOTDIR'));
  });

  test('a directory in an upper layer replaced by a file hides the lower directory', async () => {
    const d = join(dir, 'replaced');
    writeTree(join(d, 'low'), { 'etc/passwd': 'low' });
    mkdirSync(join(d, 'high'));
    writeFileSync(join(d, 'high', 'etc'), 'a file now');
    await assert.rejects(resolveInLayers([join(d, 'high'), join(d, 'low')], '/etc/passwd'), rejectsWith('ENOTDIR'));
  });

  test('an opaque directory hides the same directory of the layers below', async (t) => {
    if (!requires(t, 'root')) return;
    const d = join(dir, 'opaque');
    writeTree(join(d, 'low'), { 'etc/passwd': 'low', 'etc/group': 'low' });
    mkdirSync(join(d, 'scratch'), { recursive: true });
    await writeOpaqueLayer(join(d, 'high'), join(d, 'scratch'), 'etc', { 'etc/passwd': 'high' });
    const stack = [join(d, 'high'), join(d, 'low')];
    assert.equal((await resolveInLayers(stack, '/etc/passwd')).hostPath, join(d, 'high', 'etc/passwd'));
    await assert.rejects(resolveInLayers(stack, '/etc/group'), rejectsWith('ENOENT'));
    assert.deepEqual((await resolveInLayers(stack, '/etc')).dirLayers, [join(d, 'high', 'etc')]);
  });
});

describe('openBeneath: no component of the opened path is a link', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
    writeTree(join(dir, 'host'), { passwd: 'host' });
    writeTree(join(dir, 'layer'), { 'etc/passwd': 'mine', 'swapped': { link: join(dir, 'host') }, 'final': { link: 'etc/passwd' } });
  });
  after(() => removeDir(dir));

  test('a real path opens; a directory swapped for a link, or a final link, is refused', async () => {
    const fh = await openBeneath(join(dir, 'layer'), '/etc/passwd', constants.O_RDONLY);
    try {
      assert.equal((await fh.readFile()).toString(), 'mine');
    } finally {
      await fh.close();
    }
    await assert.rejects(openBeneath(join(dir, 'layer'), '/swapped/passwd', constants.O_RDONLY), /ELOOP|ENOTDIR/);
    await assert.rejects(openBeneath(join(dir, 'layer'), '/final', constants.O_RDONLY), /ELOOP/);
  });

  test('the resolved entry names its layer, so the reader opens the same file', async () => {
    const upper = join(dir, 'upper');
    writeTree(upper, { 'etc/group': 'g' });
    const e = await resolveInLayers([upper, join(dir, 'layer')], '/etc/passwd');
    assert.equal(e.layer, join(dir, 'layer'));
    assert.equal((await resolveInLayers([upper, join(dir, 'layer')], '/etc/group')).layer, upper);
  });
});
