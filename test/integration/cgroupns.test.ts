// A container sees its own cgroup at /sys/fs/cgroup (cgroup namespace + cgroupfs mounted inside it), read-only,
// so runtimes that size themselves from their limits (JVM, Go, Node, postgres tuning scripts) find them.
// Through the CLI, as a user runs it (root, real kernel), on whichever cgroup version the host runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { detectCgroupDriver } from '../../src/engine/cgroups/index.js';
import { parseCgroupMounts } from '../../src/engine/cgroups/mountinfo.js';
import { DaemonClient } from '../../src/cli/client.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');
const version = skip === undefined ? detectCgroupDriver().version : 2;
const M64 = 64 * 1024 * 1024;

/** v1: the host's controller hierarchies by the name the container sees them under ("cpu,cpuacct"); named ones
 * (name=systemd) and cgroup2 left out. Read from the host's mountinfo here. */
function v1Hierarchies(): string[][] {
  const out = new Map<string, string[]>();
  for (const m of parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'))) {
    if (m.version === 1 && m.controllers.length > 0) out.set(m.controllers.join(','), m.controllers);
  }
  return [...out.values()];
}

/** v1: what /sys/fs/cgroup lists inside: each hierarchy, plus the co-mounted controllers' own names (symlinks). */
function v1Entries(): string[] {
  return [...new Set(v1Hierarchies().flatMap((cs) => cs.length > 1 ? [cs.join(','), ...cs] : [cs.join(',')]))].sort();
}

/** The host's mount lines that this feature could leave behind: cgroup filesystems, anything under /sys/fs/cgroup,
 * anything under the daemon's directory. */
function hostMounts(daemonDir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => {
    const f = l.split(' ');
    return / - cgroup2? /.test(l) || (f[4] ?? '').startsWith('/sys/fs/cgroup') || l.includes(daemonDir);
  }).map((l) => l.split(' ').slice(3).join(' ')).sort(); // without mount ids, which a remount could renumber
}

describe(`cgroup namespace: /sys/fs/cgroup inside a container (host: cgroup v${version})`, { skip }, () => {
  const d = new TestDaemon('cgroupns');
  let mountsBefore: string[] = [];

  before(async () => {
    mountsBefore = hostMounts(d.dir);
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    try {
      assert.deepEqual(hostMounts(d.dir), mountsBefore, 'no mount is left on the host');
    } finally {
      await d.dispose();
    }
  });

  const memoryFile = version === 1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';
  const leftoverCgroups = (): string[] => readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => / - cgroup2? /.test(l)).map((l) => `${l.split(' ')[4]}/${d.prefix}`)
    .filter((dir) => existsSync(dir)).flatMap((dir) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${dir}/${e.name}`));

  test('-m 64m: the container reads its own memory limit; /proc/self/cgroup shows its cgroup as /', () => {
    assert.equal(d.ok(['run', '--rm', '-m', '64m', 'busybox', 'cat', memoryFile]), `${M64}\n`);
    const lines = d.ok(['run', '--rm', 'busybox', 'cat', '/proc/self/cgroup']).trim().split('\n');
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.match(l, /^\d+:[^:]*:\/$/, `every hierarchy shows the namespace root: ${l}`);
    assert.deepEqual(leftoverCgroups(), [], 'the --rm containers\' cgroups are gone');
  });

  // The cgroups are made at create (a start usually follows at once), the limits written again at start when they
  // changed since: what a user sets between create and start applies, and a container never started leaves none.
  test('create, a memory limit set before the start (update), start: the container reads the new limit', async () => {
    const id = d.ok(['create', '--name', 'later', '-m', '32m', 'busybox', 'cat', memoryFile]).trim();
    try {
      const client = new DaemonClient(`unix://${d.socket}`);
      await client.call('POST', `/containers/${id}/update`, { body: { Memory: M64, MemorySwap: 2 * M64 } });
      assert.equal(d.ok(['start', '-a', 'later']), `${M64}\n`);
    } finally {
      d.gantry(['rm', '-f', 'later']);
    }
    d.ok(['create', '--name', 'never', 'busybox', 'true']);
    d.ok(['rm', 'never']);
    assert.deepEqual(leftoverCgroups(), [], 'no cgroup of either is left');
  });

  test('--cpus 0.5: the quota is visible', () => {
    if (version === 1) {
      assert.equal(d.ok(['run', '--rm', '--cpus', '0.5', 'busybox', 'cat', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu/cpu.cfs_period_us']),
        '50000\n100000\n');
    } else {
      assert.equal(d.ok(['run', '--rm', '--cpus', '0.5', 'busybox', 'cat', '/sys/fs/cgroup/cpu.max']), '50000 100000\n');
    }
  });

  test('read-only: writes to the limits and new files fail, and the host-side limit is unchanged', () => {
    d.ok(['run', '-d', '--name', 'ro', '-m', '64m', 'busybox', 'sleep', '60']);
    try {
      const id = d.ok(['inspect', '--format', '{{.Id}}', 'ro']).trim();
      const write = d.gantry(['exec', 'ro', 'sh', '-c', `echo 4096 > ${memoryFile}`]);
      assert.notEqual(write.status, 0);
      assert.match(write.stderr, /Read-only file system/);
      const mkdir = d.gantry(['exec', 'ro', 'mkdir', version === 1 ? '/sys/fs/cgroup/memory/child' : '/sys/fs/cgroup/child']);
      assert.notEqual(mkdir.status, 0);
      assert.match(mkdir.stderr, /Read-only file system/);
      if (version === 1) {
        const touch = d.gantry(['exec', 'ro', 'touch', '/sys/fs/cgroup/new']);
        assert.match(touch.stderr, /Read-only file system/, 'the tmpfs holding the hierarchies is read-only too');
      }
      const hostFile = version === 1 ? `/sys/fs/cgroup/memory/${d.prefix}/${id}/memory.limit_in_bytes` : `/sys/fs/cgroup/${d.prefix}/${id}/memory.max`;
      assert.equal(readFileSync(hostFile, 'utf8').trim(), String(M64));
      assert.equal(d.ok(['exec', 'ro', 'cat', memoryFile]), `${M64}\n`, 'exec joins the same view');
    } finally {
      d.gantry(['rm', '-f', 'ro']);
    }
  });

  test('only the container\'s own cgroups are visible: the layout, and nothing of the host\'s tree', () => {
    const out = d.ok(['run', '--rm', 'busybox', 'sh', '-c', 'ls /sys/fs/cgroup; echo --; grep -E " - cgroup2? " /proc/self/mountinfo']);
    const [ls, mounts] = out.split('--\n') as [string, string];
    const mountLines = mounts.trim().split('\n');
    if (version === 1) {
      assert.deepEqual(ls.trim().split('\n').sort(), v1Entries());
      assert.equal(mountLines.length, v1Hierarchies().length, 'one cgroup mount per hierarchy, none of the host\'s underneath');
    } else {
      assert.ok(ls.includes('cgroup.procs') && !ls.includes(d.prefix), 'the host\'s cgroups (the daemon\'s prefix among them) are not visible');
      assert.equal(mountLines.length, 1);
    }
    for (const l of mountLines) {
      const f = l.split(' ');
      assert.equal(f[3], '/', `the mount shows the namespace root: ${l}`);
      assert.match(f[4]!, /^\/sys\/fs\/cgroup(\/[a-z_,]+)?$/);
      assert.match(f[5]!, /^ro,/, `read-only: ${l}`);
    }
  });

  test('--network host (the host\'s /sys bound): still the container\'s own view, none of the host\'s cgroup mounts', () => {
    const r = d.gantry(['run', '--rm', '--network', 'host', '-m', '32m', 'busybox', 'sh', '-c',
      `cat ${memoryFile}; grep -cE " - cgroup2? " /proc/self/mountinfo; (echo 1 > ${memoryFile}) 2>&1`]);
    assert.equal(r.status, 1, `the write fails, the rest works: ${r.stderr}`);
    const [limit, count, write] = r.stdout.trim().split('\n');
    assert.equal(limit, String(32 * 1024 * 1024));
    const hierarchies = version === 1 ? v1Hierarchies().length : 1;
    assert.equal(Number(count), hierarchies, 'the host\'s writable hierarchies are not carried in with /sys');
    assert.match(write ?? '', /Read-only file system/);
  });

  test('--privileged: writable, the container may make child cgroups', () => {
    const child = version === 1 ? '/sys/fs/cgroup/memory/child' : '/sys/fs/cgroup/child';
    assert.equal(d.ok(['run', '--rm', '--privileged', '-m', '32m', 'busybox', 'sh', '-c',
      `cat ${memoryFile}; mkdir ${child} && rmdir ${child} && echo made-and-removed`]), `${32 * 1024 * 1024}\nmade-and-removed\n`);
    assert.deepEqual(leftoverCgroups(), []);
  });
});
