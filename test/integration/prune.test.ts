// Prunes and disk usage through a real daemon (root): each prune removes what Docker's would, keeps what is in
// use, and reports the space the disk got back; rmi of an image a container uses is refused naming it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const du = (path: string): number => Number(execFileSync('du', ['-s', '-B1', path], { encoding: 'utf8' }).split('\t')[0]);

describe('prune and df', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('prune');
  before(async () => { await d.start(); d.importBusybox(); });
  after(() => d.dispose());
  const reclaimed = (out: string): string => /Total reclaimed space: (\S+)/.exec(out)?.[1] ?? '';

  test('rmi of an image a stopped container uses is refused naming the container; -f untags it', () => {
    d.ok(['tag', 'busybox', 'used:1']);
    d.ok(['create', '--name', 'user1', 'used:1', 'true']);
    d.ok(['rmi', 'busybox']); // another tag remains: only untagged
    const r = d.gantry(['rmi', 'used:1']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unable to remove repository reference "used:1" \(must force\) - stopped container [0-9a-f]{12} \(user1\) is using its referenced image/);
    const id = d.gantry(['rmi', JSON.parse(d.ok(['image', 'inspect', 'used:1']))[0].Id]);
    assert.match(id.stderr, /image is being used by stopped container [0-9a-f]{12} \(user1\)/);
    assert.match(d.ok(['rmi', '-f', 'used:1']), /Untagged: used:1/);
    assert.equal(JSON.parse(d.ok(['inspect', 'user1']))[0].State.Status, 'created', 'the container keeps its image');
    d.ok(['rm', 'user1']);
  });

  test('container prune removes stopped containers only and reports their size', () => {
    d.importBusybox();
    d.ok(['run', '--name', 'big', 'busybox', 'dd', 'if=/dev/zero', 'of=/blob', 'bs=1M', 'count=3']);
    d.ok(['run', '-d', '--name', 'alive', 'busybox', 'sleep', '600']);
    const dir = join(d.root, 'containers', JSON.parse(d.ok(['inspect', 'big']))[0].Id);
    const size = du(dir);
    const out = d.ok(['container', 'prune', '-f']);
    assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n/);
    assert.match(reclaimed(out), /^3\.\d+MiB$/, out);
    assert.ok(size > 3 * 1024 * 1024);
    assert.deepEqual(d.ok(['ps', '-a', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l).Names), [['/alive']]);
    d.ok(['rm', '-f', 'alive']);
  });

  test('image prune removes dangling images; -a every image no container uses; until and label filters', () => {
    d.ok(['run', '--name', 'c1', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/x bs=1M count=2']);
    const dangling = d.ok(['commit', 'c1']).trim();
    d.ok(['commit', '-c', 'LABEL keep=yes', 'c1', 'kept:1']);
    d.ok(['rm', 'c1']);
    const before = du(join(d.root, 'blobs')) + du(join(d.root, 'layers'));
    const out = d.ok(['image', 'prune', '-f']);
    assert.match(out, new RegExp(`deleted: ${dangling}`));
    const after = du(join(d.root, 'blobs')) + du(join(d.root, 'layers'));
    assert.ok(before - after > 0 && reclaimed(out) !== '0B', out);
    assert.match(d.ok(['images']), /kept/);
    assert.doesNotMatch(d.ok(['image', 'prune', '-a', '-f', '--filter', 'label=keep=yes', '--filter', 'until=1h']), /kept/, 'until=1h: made just now, kept');
    d.ok(['create', '--name', 'holder', 'busybox', 'true']);
    const all = d.ok(['image', 'prune', '-a', '-f', '--filter', 'label=keep=yes']);
    assert.match(all, /untagged: kept:1/);
    assert.match(d.ok(['images']), /busybox/, 'busybox is used by a container');
    const bad = d.gantry(['image', 'prune', '-f', '--filter', 'colour=red']);
    assert.match(bad.stderr, /invalid filter "colour"/);
    d.ok(['rm', 'holder']);
  });

  test('volume prune: anonymous volumes only unless -a; never one in use', () => {
    d.ok(['volume', 'create', 'named']);
    d.ok(['run', '--name', 'anon', '-v', '/data', 'busybox', 'sh', '-c', 'dd if=/dev/zero of=/data/z bs=1M count=1']);
    d.ok(['run', '-d', '--name', 'holds', '-v', 'held:/data', 'busybox', 'sleep', '600']);
    d.ok(['rm', 'anon']);
    const out = d.ok(['volume', 'prune', '-f']);
    assert.match(out, /Deleted Volumes:\n[0-9a-f]{64}\n/);
    assert.match(reclaimed(out), /^1(\.\d+)?MiB$/, out);
    assert.doesNotMatch(out, /named|held/);
    const all = d.ok(['volume', 'prune', '-a', '-f']);
    assert.match(all, /named/);
    assert.doesNotMatch(all, /held/);
    d.ok(['rm', '-f', 'holds']);
  });

  test('system df counts images, containers and volumes; system prune -a --volumes empties what nothing uses', () => {
    d.ok(['run', '--name', 'df1', '-v', '/v', 'busybox', 'sh', '-c', 'echo x > /v/x; echo y > /y']);
    const df = d.ok(['system', 'df']);
    assert.match(df, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE/);
    assert.match(df, /\nImages +1 +1 /);
    assert.match(df, /\nContainers +1 +0 /);
    assert.match(df, /\nLocal Volumes +\d+ +1 /);
    assert.match(d.ok(['system', 'df', '-v']), /Containers space usage:[\s\S]*df1/);
    const out = d.ok(['system', 'prune', '-a', '--volumes', '-f']);
    assert.match(out, /Deleted Containers:/);
    assert.match(out, /Deleted Volumes:/);
    assert.match(out, /untagged: busybox:latest/);
    assert.equal(d.ok(['images', '-q']), '');
  });
});
