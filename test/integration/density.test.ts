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
      for (const h of ['cpu', 'cpuacct', 'blkio', 'pids', 'memory']) assert.equal(existsSync(`/sys/fs/cgroup/${h}/${d.prefix}/${id}`), false, `${h}: no limit, shared`);
      assert.equal(existsSync(`/sys/fs/cgroup/freezer/${d.prefix}/${id}`), true, 'freezer: its own');
      assert.equal(existsSync(`/sys/fs/cgroup/devices/${d.prefix}/${id}`), false, 'Docker\'s default device rules: the shared devices cgroup');
      const cpus = readFileSync('/sys/fs/cgroup/cpuset/cpuset.cpus', 'utf8');
      assert.equal(d.ok(['exec', id, 'cat', '/sys/fs/cgroup/cpuset/cpuset.cpus']), cpus);
      assert.equal(d.ok(['exec', id, 'cat', '/proc/self/cgroup']).split('\n').filter((l) => l.includes('cpuset')).map((l) => l.split(':')[2]).join(), '/');
    } finally {
      d.gantry(['rm', '-f', id]);
    }
  });

  test('GANTRY_MEMCG=limited (v1): cpu, pids and blkio cgroups only with a limit; stats still count its own processes; a limit set by update moves it to its own', { skip: version !== 1 ? 'cgroup v1 only' : false }, async () => {
    const id = d.ok(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 600']).trim();
    const limited = d.ok(['run', '-d', '--network', 'none', '--cpus', '0.5', '--pids-limit', '20', 'busybox', 'sleep', '600']).trim();
    try {
      assert.equal(readFileSync(`/sys/fs/cgroup/cpu/${d.prefix}/${limited}/cpu.cfs_quota_us`, 'utf8').trim(), '50000', '--cpus: a cpu cgroup of its own');
      assert.equal(readFileSync(`/sys/fs/cgroup/pids/${d.prefix}/${limited}/pids.max`, 'utf8').trim(), '20');
      assert.equal(d.ok(['exec', limited, 'cat', '/sys/fs/cgroup/pids/pids.max']).trim(), '20', 'and the container sees its own');
      await new Promise((r) => setTimeout(r, 1500));
      type Stats = { cpu_stats: { cpu_usage: { total_usage: number } }; memory_stats: { usage: number }; pids_stats: { current: number } };
      const [stats] = JSON.parse(d.ok(['stats', '--no-stream', '--format', 'json', id])) as Stats[];
      assert.equal(stats?.pids_stats.current, 1, 'its own process count, not the shared cgroup\'s');
      assert.ok((stats?.cpu_stats.cpu_usage.total_usage ?? 0) > 10_000_000, `the cpu time its shell spent counting: ${stats?.cpu_stats.cpu_usage.total_usage} ns`);
      assert.ok((stats?.memory_stats.usage ?? 0) > 0);
      const sock = d.socket;
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ socketPath: sock, method: 'POST', path: `/containers/${id}/update`, headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end(JSON.stringify({ PidsLimit: 50 }));
      });
      assert.equal(status, 200);
      const pid = d.ok(['inspect', '--format', '{{.State.Pid}}', id]).trim();
      assert.equal(readFileSync(`/sys/fs/cgroup/pids/${d.prefix}/${id}/pids.max`, 'utf8').trim(), '50');
      assert.equal(readFileSync(`/sys/fs/cgroup/pids/${d.prefix}/${id}/cgroup.procs`, 'utf8').trim(), pid, 'its process moved into its own');
    } finally {
      d.gantry(['rm', '-f', id, limited]);
    }
  });

  test('GANTRY_MEMCG=limited (v1): the shared devices cgroup holds Docker\'s default rules (a disk node made in the container cannot be opened, /dev/null can); --privileged gets its own', { skip: version !== 1 ? 'cgroup v1 only' : false }, () => {
    const id = d.ok(['run', '-d', '--network', 'none', 'busybox', 'sleep', '600']).trim();
    const priv = d.ok(['run', '-d', '--network', 'none', '--privileged', 'busybox', 'sleep', '600']).trim();
    try {
      const mine = readFileSync(`/proc/${d.ok(['inspect', '--format', '{{.State.Pid}}', id]).trim()}/cgroup`, 'utf8').split('\n').find((l) => /:devices:/.test(l))!;
      const shared = mine.split(':')[2]!;
      assert.match(shared, new RegExp(`^/${d.prefix}/_devices-[0-9a-f]{12}$`));
      const list = readFileSync(`/sys/fs/cgroup/devices${shared}/devices.list`, 'utf8');
      assert.ok(!list.includes('a *:* rwm') && list.includes('c 1:3 rwm') && list.includes('c 136:* rwm'), list);
      const r = d.gantry(['exec', id, 'sh', '-c', 'mknod /tmp/disk b 7 0 && echo made; head -c1 /tmp/disk; head -c1 /dev/null && echo null-ok']);
      assert.match(r.stdout, /made\n/, `mknod is allowed (as in Docker): ${r.stderr}`);
      assert.match(r.stderr, /\/tmp\/disk: Operation not permitted/, 'opening the node it made is not');
      assert.match(r.stdout, /null-ok/);
      assert.equal(existsSync(`/sys/fs/cgroup/devices/${d.prefix}/${priv}`), true, '--privileged: its own');
      assert.equal(readFileSync(`/sys/fs/cgroup/devices/${d.prefix}/${priv}/devices.list`, 'utf8').trim(), 'a *:* rwm');
    } finally {
      d.gantry(['rm', '-f', id, priv]);
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
