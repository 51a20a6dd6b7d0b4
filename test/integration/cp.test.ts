// gantry cp through a real daemon (root): both ways, streams, a container symlink to `/` that must stay inside
// the container, a stopped container, owners with and without -a.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { GANTRY_BIN, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

describe('gantry cp', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('cp');
  let host = '';
  before(async () => {
    await d.start();
    d.importBusybox();
    host = join(d.dir, 'host');
    mkdirSync(host);
    // a container whose files try to lead cp out: /escape -> /, /etc/evil -> /etc/os-release (host files if followed; the image has neither)
    d.ok(['run', '--name', 'src', 'busybox', 'sh', '-c',
      'echo inside > /etc/marker && ln -s / /escape && ln -s /etc/os-release /etc/evil && mkdir -p /data/sub && echo a > /data/sub/a && chown 1234:5678 /data/sub/a']);
  });
  after(() => d.dispose());

  test('container → host: a file, a directory, a stream; owners kept only with -a', () => {
    d.ok(['cp', 'src:/etc/marker', join(host, 'marker')]);
    assert.equal(readFileSync(join(host, 'marker'), 'utf8'), 'inside\n');
    d.ok(['cp', 'src:/data', host]);
    assert.equal(readFileSync(join(host, 'data/sub/a'), 'utf8'), 'a\n');
    assert.equal(lstatSync(join(host, 'data/sub/a')).uid, 0, 'without -a the copy is owned by the user');
    d.ok(['cp', '-a', 'src:/data/sub', join(host, 'renamed')]);
    assert.deepEqual([lstatSync(join(host, 'renamed/a')).uid, lstatSync(join(host, 'renamed/a')).gid], [1234, 5678]);
    const tar = spawnSync(process.execPath, [GANTRY_BIN, 'cp', 'src:/data/sub/a', '-'], { env: d.env, maxBuffer: 1 << 20 });
    assert.equal(tar.status, 0, tar.stderr.toString());
    writeFileSync(join(host, 'a.tar'), tar.stdout);
    assert.equal(execFileSync('tar', ['-xOf', join(host, 'a.tar'), 'a'], { encoding: 'utf8' }), 'a\n');
  });

  test('container symlinks resolve inside the container: /escape/etc/marker is the container\'s, a link is copied as a link', () => {
    d.ok(['cp', 'src:/escape/etc/marker', join(host, 'via-link')]);
    assert.equal(readFileSync(join(host, 'via-link'), 'utf8'), 'inside\n');
    const r = d.gantry(['cp', 'src:/escape/etc/os-release', join(host, 'os-release')]);
    assert.notEqual(r.status, 0, 'the host /etc/os-release is not reachable');
    assert.match(r.stderr, /could not find the file \/escape\/etc\/os-release in container src/);
    d.ok(['cp', 'src:/etc/evil', join(host, 'evil')]);
    assert.equal(readlinkSync(join(host, 'evil')), '/etc/os-release', 'the link itself, not the host file');
    const followed = d.gantry(['cp', '-L', 'src:/etc/evil', join(host, 'evil2')]);
    assert.notEqual(followed.status, 0, '-L follows it inside the container, where it names nothing');
    assert.equal(existsSync(join(host, 'evil2')), false);
  });

  test('host → stopped container, through its symlink to /; written into the container only', () => {
    const file = join(host, 'upload.txt');
    writeFileSync(file, 'uploaded\n');
    chownSync(file, 4321, 4321);
    d.ok(['cp', file, 'src:/escape/tmp/']);
    d.ok(['cp', '-a', file, 'src:/tmp/owned.txt']);
    assert.equal(existsSync('/tmp/upload.txt') && readFileSync('/tmp/upload.txt', 'utf8') === 'uploaded\n', false, 'nothing written on the host');
    d.ok(['commit', 'src', 'src:copied']);
    assert.equal(d.ok(['run', '--rm', 'src:copied', 'sh', '-c', 'cat /tmp/upload.txt; stat -c %u:%g /tmp/upload.txt /tmp/owned.txt']), 'uploaded\n0:0\n4321:4321\n');
    const dir = join(host, 'tree');
    mkdirSync(join(dir, 'inner'), { recursive: true });
    writeFileSync(join(dir, 'inner', 'f'), 'f\n');
    d.ok(['cp', dir, 'src:/data/']);
    const stream = spawnSync(process.execPath, [GANTRY_BIN, 'cp', '-', 'src:/data'], { env: d.env, input: execFileSync('tar', ['-c', '-C', host, 'upload.txt']) });
    assert.equal(stream.status, 0, stream.stderr.toString());
    assert.equal(d.ok(['run', '--rm', 'src:copied', 'true']), '');
    d.ok(['commit', 'src', 'src:copied2']);
    assert.equal(d.ok(['run', '--rm', 'src:copied2', 'sh', '-c', 'cat /data/tree/inner/f /data/upload.txt /data/sub/a']), 'f\nuploaded\na\n');
  });

  test('paths on a volume or a bind are read from and written to the mount, a read-only one refuses writes', () => {
    const bind = join(host, 'bind-src');
    mkdirSync(bind);
    writeFileSync(join(bind, 'b'), 'bound\n');
    d.ok(['run', '--name', 'vol', '-v', 'vdata:/data', '-v', `${bind}:/ro:ro`, 'busybox', 'sh', '-c', 'echo v > /data/v']);
    d.ok(['cp', 'vol:/data/v', join(host, 'v')]);
    assert.equal(readFileSync(join(host, 'v'), 'utf8'), 'v\n');
    mkdirSync(join(host, 'vols'));
    d.ok(['cp', 'vol:/data', join(host, 'vols')]);
    assert.equal(readFileSync(join(host, 'vols/data/v'), 'utf8'), 'v\n', 'a mount\'s root comes under its own name');
    d.ok(['cp', 'vol:/ro/b', join(host, 'b')]);
    assert.equal(readFileSync(join(host, 'b'), 'utf8'), 'bound\n');
    writeFileSync(join(host, 'w'), 'written\n');
    d.ok(['cp', join(host, 'w'), 'vol:/data/']);
    assert.equal(d.ok(['run', '--rm', '-v', 'vdata:/data', 'busybox', 'cat', '/data/w']), 'written\n', 'in the volume, not under it');
    const ro = d.gantry(['cp', join(host, 'w'), 'vol:/ro/']);
    assert.notEqual(ro.status, 0);
    assert.match(ro.stderr, /\/ro\/? is on a read-only mount of container vol/);
    assert.equal(existsSync(join(bind, 'w')), false);
    d.ok(['rm', 'vol']);
  });

  test('host → running container: the file shows inside at once', () => {
    d.ok(['run', '-d', '--name', 'live', 'busybox', 'sleep', '600']);
    const file = join(host, 'live.txt');
    writeFileSync(file, 'live\n');
    d.ok(['cp', file, 'live:/live.txt']);
    assert.equal(d.ok(['exec', 'live', 'cat', '/live.txt']), 'live\n');
    d.ok(['cp', 'live:/live.txt', join(host, 'back.txt')]);
    assert.equal(readFileSync(join(host, 'back.txt'), 'utf8'), 'live\n');
    d.ok(['rm', '-f', 'live']);
  });
});
