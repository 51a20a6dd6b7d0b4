// What makes thousands of containers cheap, as a user of one container sees it (issue 16): a `--network none`
// container binds one shared sysfs of an lo-only network namespace, GANTRY_MEMCG=limited shares the cgroups nobody
// limits, and `rm -f` of a container with a restart policy removes it for good.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root');
const version = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 2 : 1;

/** The host's mounts under the daemon's directory. */
const mountsUnder = (dir: string): string[] => readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  .filter((l) => l.split(' ')[4]?.startsWith(dir) === true).map((l) => l.split(' ').slice(4, 10).join(' '));

describe('density: shared sysfs and cgroups, removal', { skip }, () => {
  const d = new TestDaemon('density', [], { GANTRY_MEMCG: 'limited' });
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.dispose());

  test('--network none: /sys shows only lo (up), read-only; containers share one host mount, kept while one runs, gone with the last', async () => {
    const script = 'ls /sys/class/net; cat /sys/class/net/lo/carrier; awk \'$5 == "/sys" {print $5, $6, $9}\' /proc/self/mountinfo; touch /sys/x 2>/dev/null || echo ro';
    assert.equal(d.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', script]), 'lo\n1\n/sys ro,nosuid,nodev,noexec,relatime sysfs\nro\n');
    d.ok(['run', '-d', '--name', 'n1', '--network', 'none', 'busybox', 'sleep', '600']);
    d.ok(['run', '-d', '--name', 'n2', '--network', 'none', 'busybox', 'sleep', '600']);
    const shared = mountsUnder(d.dir);
    assert.deepEqual(shared.map((m) => m.split(' ')[0]!.slice(d.dir.length)).sort(), ['/run/sysfs-none', '/run/sysfs-none.netns'],
      `one sysfs (and its netns) for all of them: ${shared.join('; ')}`);
    assert.equal(d.ok(['exec', 'n2', 'ls', '/sys/class/net']), 'lo\n');
    // a bridge container still has its own: its eth0 is in it
    assert.equal(d.ok(['run', '--rm', 'busybox', 'ls', '/sys/class/net']), 'eth0\nlo\n');
    await d.stop();
    assert.deepEqual(mountsUnder(d.dir), shared, 'kept while containers that bind it run');
    await d.start();
    assert.equal(d.ok(['exec', 'n1', 'ls', '/sys/class/net']), 'lo\n', 'running containers keep their view across the restart');
    d.ok(['run', '--rm', '--network', 'none', 'busybox', 'true']);
    assert.deepEqual(mountsUnder(d.dir), shared, 'the next daemon reuses it');
    d.ok(['rm', '-f', 'n1', 'n2']);
    await d.stop();
    assert.deepEqual(mountsUnder(d.dir), [], 'no mount left on the host once the daemon stopped with none of them running');
    await d.start();
  });

  test('GANTRY_MEMCG=limited (v1): no cpuset cgroup of its own, and the container still reads its cpuset view', { skip: version !== 1 ? 'cgroup v1 only' : false }, () => {
    const id = d.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']).trim();
    try {
      assert.equal(existsSync(`/sys/fs/cgroup/cpuset/${d.prefix}/${id}`), false);
      assert.equal(existsSync(`/sys/fs/cgroup/pids/${d.prefix}/${id}`), true, 'its own where a limit or a count is read');
      const cpus = readFileSync('/sys/fs/cgroup/cpuset/cpuset.cpus', 'utf8');
      assert.equal(d.ok(['exec', id, 'cat', '/sys/fs/cgroup/cpuset/cpuset.cpus']), cpus);
      assert.equal(d.ok(['exec', id, 'cat', '/proc/self/cgroup']).split('\n').filter((l) => l.includes('cpuset')).map((l) => l.split(':')[2]).join(), '/');
    } finally {
      d.gantry(['rm', '-f', id]);
    }
  });

  test('rm -f of a running container with --restart always: removed, not restarted, its cgroups gone', async () => {
    const id = d.ok(['run', '-d', '--restart', 'always', '--network', 'none', 'busybox', 'sleep', '600']).trim();
    d.ok(['rm', '-f', id]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.ok(['ps', '-aq', '--no-trunc']).split('\n').includes(id), false);
    const left = readdirSync('/sys/fs/cgroup', { withFileTypes: true }).filter((e) => e.isDirectory())
      .filter((e) => existsSync(`/sys/fs/cgroup/${e.name}/${d.prefix}/${id}`)).map((e) => e.name);
    assert.deepEqual(left, []);
  });

  test('rm -f answers before the container\'s shim has released its mounts and network namespace; that follows within seconds', async () => {
    const ids = [0, 1, 2].map(() => d.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']).trim());
    const shims = ids.map((id) => {
      const init = Number(d.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
      return Number(readFileSync(`/proc/${init}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]); // its parent: the shim
    });
    for (const pid of shims) assert.match(readFileSync(`/proc/${pid}/comm`, 'utf8'), /gantry-shim/);
    d.ok(['rm', '-f', ...ids]);
    assert.deepEqual(d.ok(['ps', '-aq']).trim(), '', 'gone from the list at once');
    const alive = (pid: number): boolean => { try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; } };
    for (let i = 0; i < 100 && shims.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(shims.filter(alive), [], 'every shim has released and exited');
  });
});
