// A full disk (issue 9, item 6), on a daemon root of its own: a 48 MiB tmpfs mounted for this test only.
// Logs rotate instead of filling it (the default cap), `rm -f` of a container on a full disk ends its processes,
// and a daemon restarted on a full disk starts and answers, with writes failing with a message instead of a crash.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, killCgroupTree, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');
const mib = (n: number): number => n * 1024 * 1024;

describe('a full disk', { skip }, () => {
  const d = new TestDaemon('diskfull');
  let mounted = false;
  const logBytes = (id: string): number => readdirSync(join(d.root, 'containers', id)).filter((f) => /^log(\.\d+)?$/.test(f))
    .reduce((sum, f) => sum + statSync(join(d.root, 'containers', id, f)).size, 0);
  const free = (): number => Number(spawnSync('df', ['--output=avail', '-B1', d.root], { encoding: 'utf8' }).stdout.trim().split('\n')[1]);

  before(async () => {
    mkdirSync(d.root, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0700', 'tmpfs', d.root], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    mounted = true;
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    // dispose removes containers and stops the daemon, then cannot rmdir the mount point: unmounted, then removed.
    try { await d.dispose(); } catch { /* EBUSY on the mount point */ } finally {
      killCgroupTree(d.prefix);
      if (mounted) spawnSync('umount', ['-l', d.root]);
      rmSync(d.dir, { recursive: true, force: true });
    }
  });

  test('a chatty container\'s log stays within the default cap (10 MB x 5) instead of filling the disk', async () => {
    const id = d.ok(['run', '-d', '--name', 'chatty', 'busybox', 'sh', '-c', 'while :; do echo 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz; done']).trim();
    // Wait until it has rotated at least once past the cap's first file.
    await eventually(() => assert.ok(existsSync(join(d.root, 'containers', id, 'log.1')), 'rotated'), 60_000, 'the log to rotate');
    assert.ok(logBytes(id) <= 5 * 10_000_000, `logs use ${logBytes(id)} bytes`);
    assert.ok(free() > mib(1), 'the disk is not full');
    d.ok(['rm', '-f', id]);
  });

  test('on a full disk, rm -f ends the container\'s processes; a daemon restarted there starts and answers', async () => {
    const id = d.ok(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '100000']).trim();
    const pid = (JSON.parse(d.ok(['inspect', id])) as Array<{ State: { Pid: number } }>)[0]!.State.Pid;
    spawnSync('dd', ['if=/dev/zero', `of=${join(d.root, 'filler')}`, 'bs=1M'], { encoding: 'utf8' });
    assert.ok(free() < mib(1), 'the disk is full');
    const rm = d.gantry(['rm', '-f', id]);
    assert.equal(rm.status, 0, rm.stderr);
    await eventually(() => assert.throws(() => process.kill(pid, 0)), 15_000, 'the container\'s process to end');
    assert.equal(d.gantry(['ps', '-aq']).stdout.trim(), '', 'the record is gone');

    await d.stop();
    await d.start();
    assert.equal(d.gantry(['version']).status, 0, 'the daemon answers on a full disk');
    const run = d.gantry(['run', '-d', 'busybox', 'true']);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /no space left on device|ENOSPC|NO_SPACE/i);
    assert.doesNotMatch(run.stderr, /this is a bug/i);
    spawnSync('rm', ['-f', join(d.root, 'filler')]);
    d.ok(['run', '--rm', 'busybox', 'true']);
  });
});
