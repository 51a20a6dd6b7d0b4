import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { GantryError } from '../../../src/common/errors.js';
import { DEFAULT_DEVICE_RULES, parseDeviceRule } from '../../../src/engine/cgroups/index.js';
import { SHARED_DEVICES } from '../../../src/engine/cgroups/v1.js';
import { DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, THIS_MACHINE, THIS_MACHINE_MOUNTS, withHost } from './hosts.js';

const CG = '/sys/fs/cgroup';
const M32 = 32 << 20;

test('v1 create makes the cgroup in every hierarchy and writes each limit into its controller', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    const result = driver.create('gantry-t/c1', {
      memoryBytes: M32, cpuQuotaMicros: 50000, cpuPeriodMicros: 100000, cpuShares: 512, pidsLimit: 10,
    });
    assert.deepEqual(result.warnings, []);
    for (const h of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids']) {
      assert.ok(driver.procsFiles('gantry-t/c1').includes(fake.abs(`${CG}/${h}/gantry-t/c1/cgroup.procs`)));
      assert.ok(driver.joinFiles('gantry-t/c1').self.includes(fake.abs(`${CG}/${h}/gantry-t/c1/tasks`)), `${h}: the init joins by its tasks file`);
      assert.equal(fake.read(`${CG}/${h}/gantry-t/c1/cgroup.procs`), '', `${h} dir exists`);
    }
    // on v1 the init moves itself ("0" into each tasks file: no RCU wait); nothing is written by pid
    assert.deepEqual(driver.joinFiles('gantry-t/c1').byPid, []);
    assert.equal(driver.joinFiles('gantry-t/c1').self.length, driver.procsFiles('gantry-t/c1').length, 'one tasks file per hierarchy');
    assert.equal(fake.read(`${CG}/memory/gantry-t/c1/memory.limit_in_bytes`), String(M32));
    assert.equal(fake.read(`${CG}/memory/gantry-t/c1/memory.memsw.limit_in_bytes`), String(2 * M32));
    assert.equal(fake.read(`${CG}/cpu/gantry-t/c1/cpu.cfs_period_us`), '100000');
    assert.equal(fake.read(`${CG}/cpu/gantry-t/c1/cpu.cfs_quota_us`), '50000');
    assert.equal(fake.read(`${CG}/cpu/gantry-t/c1/cpu.shares`), '512');
    assert.equal(fake.read(`${CG}/pids/gantry-t/c1/pids.max`), '10');
    // Nothing was written outside the container's own dirs except the cpuset copies into the new parent.
    assert.deepEqual(fake.writes.filter((w) => !w.file.includes('/gantry-t/c1/') && !w.file.includes('/cpuset/')), []);
  });
});

test('v1 cpuset cpus and mems are copied from the parent into each new level', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('gantry-t/c1', {});
    assert.deepEqual(fake.writesUnder(`${CG}/cpuset`), [
      { file: 'gantry-t/cpuset.cpus', value: '0-3' },
      { file: 'gantry-t/cpuset.mems', value: '0' },
      { file: 'gantry-t/c1/cpuset.cpus', value: '0-3' },
      { file: 'gantry-t/c1/cpuset.mems', value: '0' },
    ]);
    // A second container under the same parent copies only into its own dir.
    driver.create('gantry-t/c2', {});
    assert.deepEqual(fake.writesUnder(`${CG}/cpuset`).slice(4).map((w) => w.file), ['gantry-t/c2/cpuset.cpus', 'gantry-t/c2/cpuset.mems']);
  });
});

test('v1 memory and memsw are written in the order the kernel accepts, lowering and raising', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    // From unlimited down to 32m: limit first, then memsw (the fake kernel refuses the other order with EINVAL).
    driver.create('g/c', { memoryBytes: M32 });
    // Then up to 128m (memsw 256m): memsw first.
    driver.create('g/c', { memoryBytes: 4 * M32 });
    // Then down again with an explicit, equal memory+swap (no swap at all).
    driver.create('g/c', { memoryBytes: M32, memorySwapBytes: M32 });
    assert.deepEqual(fake.writesUnder(`${CG}/memory/g/c`), [
      { file: 'memory.limit_in_bytes', value: String(M32) },
      { file: 'memory.memsw.limit_in_bytes', value: String(2 * M32) },
      { file: 'memory.memsw.limit_in_bytes', value: String(8 * M32) },
      { file: 'memory.limit_in_bytes', value: String(4 * M32) },
      { file: 'memory.limit_in_bytes', value: String(M32) },
      { file: 'memory.memsw.limit_in_bytes', value: String(M32) },
    ]);
    driver.create('g/c', { memoryBytes: M32, memorySwapBytes: -1 });
    assert.equal(fake.read(`${CG}/memory/g/c/memory.memsw.limit_in_bytes`), '9223372036854771712');
  });
});

test('v1 without swap accounting sets the memory limit and warns only when a swap limit was asked for', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    assert.deepEqual(driver.create('g/a', { memoryBytes: M32 }).warnings, []);
    const r = driver.create('g/b', { memoryBytes: M32, memorySwapBytes: 2 * M32 });
    assert.match(r.warnings.join('\n'), /does not account swap/);
    assert.equal(fake.read(`${CG}/memory/g/b/memory.limit_in_bytes`), String(M32));
  }, { swapAccounting: false });
});

test('v1 device rules deny everything, then allow the listed devices', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('g/c', { devicesAllowed: ['c 1:3 rwm', 'c 136:* rwm', 'c 5:1 rwm'].map(parseDeviceRule) });
    assert.deepEqual(fake.writesUnder(`${CG}/devices/g/c`), [
      { file: 'devices.deny', value: 'a' },
      { file: 'devices.allow', value: 'c 1:3 rwm' },
      { file: 'devices.allow', value: 'c 136:* rwm' },
      { file: 'devices.allow', value: 'c 5:1 rwm' },
    ]);
  });
});

test('a refused write names the file and the errno, crun style', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    fake.failWrites.set('memory.limit_in_bytes', 'EINVAL');
    assert.throws(() => driver.create('gantry/x', { memoryBytes: M32 }), (e) => {
      assert.ok(e instanceof GantryError);
      assert.equal(e.code, 'SYSCALL_FAILED');
      assert.equal(e.message, `write \`${fake.root}/sys/fs/cgroup/memory/gantry/x/memory.limit_in_bytes\`: EINVAL`);
      return true;
    });
  });
});

test('v1 create is idempotent and co-mounted cpu,cpuacct gets one dir with both sets of files', async () => {
  await withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, ({ fake, driver }) => {
    const limits = { memoryBytes: M32, cpuQuotaMicros: 50000, pidsLimit: 10 };
    driver.create('g/c', limits);
    driver.create('g/c', limits);
    assert.equal(fake.read(`${CG}/cpu,cpuacct/g/c/cpu.cfs_quota_us`), '50000');
    assert.equal(driver.stats('g/c').cpuUsageNanos, 0);
    assert.equal(fake.read(`${CG}/memory/g/c/memory.limit_in_bytes`), String(M32));
  });
});

test('v1 freeze waits through FREEZING until the freezer reports FROZEN; thaw undoes it', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    assert.equal(driver.isFrozen('g/c'), false);
    const freezing = driver.freeze('g/c');
    assert.equal(fake.read(`${CG}/freezer/g/c/freezer.state`), 'FREEZING');
    await freezing;
    assert.equal(driver.isFrozen('g/c'), true);
    await driver.thaw('g/c');
    assert.equal(driver.isFrozen('g/c'), false);
  });
});

test('v1 freeze that never completes gives up after the timeout and leaves the cgroup thawed', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    await assert.rejects(driver.freeze('g/c'), (e) => e instanceof GantryError && /freezer\.state`: still FREEZING/.test(e.message));
    assert.equal(fake.read(`${CG}/freezer/g/c/freezer.state`), 'THAWED');
  }, { freezeAfterReads: Infinity });
});

test('v1 OOM kills are read from memory.oom_control', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('g/c', { memoryBytes: M32 });
    assert.equal(driver.oomKillCount('g/c'), 0);
    fake.set(`${CG}/memory/g/c/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
    assert.equal(driver.oomKillCount('g/c'), 3);
    assert.equal(driver.oomKillCount('g/missing'), 0);
  });
});

test('v1 stats come from memory.usage_in_bytes, memory.limit_in_bytes, cpuacct.usage and pids.current', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('g/c', { memoryBytes: M32 });
    fake.set(`${CG}/memory/g/c/memory.usage_in_bytes`, '1234567\n');
    fake.set(`${CG}/cpuacct/g/c/cpuacct.usage`, '987654321\n');
    fake.set(`${CG}/pids/g/c/pids.current`, '3\n');
    assert.deepEqual(driver.stats('g/c'), { memoryUsageBytes: 1234567, memoryLimitBytes: M32, cpuUsageNanos: 987654321, pids: 3 });
    driver.create('g/unlimited', {});
    assert.equal(driver.stats('g/unlimited').memoryLimitBytes, totalmem());
    assert.throws(() => driver.stats('g/missing'), (e) => e instanceof GantryError && e.code === 'NOT_FOUND');
  });
});

test('v1 killAll signals every process, including those in child cgroups, and thaws a frozen cgroup', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    driver.create('g/c/sub', {});
    fake.addProcess(fake.abs(`${CG}/pids/g/c`), 101);
    fake.addProcess(fake.abs(`${CG}/pids/g/c/sub`), 102);
    assert.deepEqual(driver.pids('g/c'), [101, 102]);
    await driver.freeze('g/c');
    driver.killAll('g/c', 'SIGTERM');
    assert.deepEqual(fake.signals, [{ pid: 101, signal: 'SIGTERM' }, { pid: 102, signal: 'SIGTERM' }]);
    assert.equal(driver.isFrozen('g/c'), false);
    driver.killAll('g/c');
    assert.deepEqual(fake.signals.slice(2).map((s) => s.signal), ['SIGKILL', 'SIGKILL']);
  });
});

test('v1 GANTRY_MEMCG=limited: only a container with a memory limit gets a memory cgroup; the others share one that is never listed as a container', async () => {
  process.env['GANTRY_MEMCG'] = 'limited';
  try {
    await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
      driver.create('gantry-t/c1', {});
      const files = driver.procsFiles('gantry-t/c1');
      assert.ok(files.includes(fake.abs(`${CG}/memory/gantry-t/_unlimited/cgroup.procs`)), files.join('\n'));
      assert.ok(files.includes(fake.abs(`${CG}/freezer/gantry-t/c1/cgroup.procs`)), 'the freezer: always its own');
      assert.ok(driver.joinFiles('gantry-t/c1').self.includes(fake.abs(`${CG}/memory/gantry-t/_unlimited/tasks`)), 'the init joins the shared memory cgroup');
      assert.equal(fake.exists(fake.abs(`${CG}/memory/gantry-t/c1`)), false, 'no memory cgroup of its own');
      driver.create('gantry-t/c2', { memoryBytes: M32 });
      assert.equal(fake.read(`${CG}/memory/gantry-t/c2/memory.limit_in_bytes`), String(M32));
      assert.ok(driver.procsFiles('gantry-t/c2').includes(fake.abs(`${CG}/memory/gantry-t/c2/cgroup.procs`)));
      assert.deepEqual(driver.list('gantry-t'), ['gantry-t/c1', 'gantry-t/c2'], 'the shared one is no container to clean up');
      // the shared cgroup's counters are nobody's: no OOM kill, no limit; a later limit moves the processes to its own
      fake.set(`${CG}/memory/gantry-t/_unlimited/memory.oom_control`, 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n');
      assert.equal(driver.oomKillCount('gantry-t/c1'), 0);
      assert.equal(driver.stats('gantry-t/c1').memoryLimitBytes, totalmem());
      fake.addProcess(fake.abs(`${CG}/freezer/gantry-t/c1`), 4242);
      driver.create('gantry-t/c1', { memoryBytes: M32 });
      assert.equal(fake.read(`${CG}/memory/gantry-t/c1/memory.limit_in_bytes`), String(M32));
      assert.ok(fake.writesUnder(`${CG}/memory/gantry-t/c1`).some((w) => w.file === 'cgroup.procs' && w.value === '4242'), 'moved into its own');
      // a container removed while another one is between create() and its init's join leaves the shared group there
      driver.create('gantry-t/c3', {});
      await driver.remove('gantry-t/c2');
      assert.equal(fake.exists(fake.abs(`${CG}/memory/gantry-t/_unlimited`)), true, 'the shared memory cgroup stays');
      // removed on request once nothing is in it (the runtime asks when no start is between create and join)
      fake.addProcess(fake.abs(`${CG}/memory/gantry-t/_unlimited`), 4343);
      driver.removeSharedIfUnused!('gantry-t');
      assert.equal(fake.exists(fake.abs(`${CG}/memory/gantry-t/_unlimited`)), true, 'in use: kept');
      await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async (other) => {
        other.driver.create('gantry-t/c9', {});
        await other.driver.remove('gantry-t/c9');
        other.driver.removeSharedIfUnused!('gantry-t');
        for (const h of ['memory', 'cpuset', 'cpu', 'cpuacct', 'blkio', 'pids']) {
          assert.equal(other.fake.exists(other.fake.abs(`${CG}/${h}/gantry-t/_unlimited`)), false, `${h}: removed once unused`);
        }
      });
    });
  } finally {
    delete process.env['GANTRY_MEMCG'];
  }
});

test('v1 GANTRY_MEMCG=limited: cpu, cpuacct, blkio and pids are shared until a limit needs them; the freezer and other than default device rules stay per container; the shared counters are summed from its processes', async () => {
  process.env['GANTRY_MEMCG'] = 'limited';
  try {
    await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
      const own = (h: string, c: string): boolean => fake.exists(fake.abs(`${CG}/${h}/gantry-t/${c}`));
      driver.create('gantry-t/c1', { devicesAllowed: [{ type: 'c', major: 1, minor: 3, access: 'rwm' }] });
      for (const h of ['cpu', 'cpuacct', 'blkio', 'pids', 'memory', 'cpuset']) assert.equal(own(h, 'c1'), false, `${h}: shared`);
      for (const h of ['freezer', 'devices']) assert.equal(own(h, 'c1'), true, `${h}: its own`);
      assert.deepEqual(fake.writesUnder(`${CG}/devices/gantry-t/c1`), [{ file: 'devices.deny', value: 'a' }, { file: 'devices.allow', value: 'c 1:3 rwm' }], 'its device rules, in its own cgroup');
      assert.ok(driver.procsFiles('gantry-t/c1').includes(fake.abs(`${CG}/cpu/gantry-t/_unlimited/cgroup.procs`)));
      // counters of the shared hierarchies: from the container's processes (here this test's own process)
      fake.addProcess(fake.abs(`${CG}/freezer/gantry-t/c1`), process.pid);
      assert.deepEqual(driver.pids('gantry-t/c1'), [process.pid], 'its processes: listed from its own freezer cgroup');
      const stats = driver.stats('gantry-t/c1');
      assert.ok(stats.cpuUsageNanos > 0, 'cpu time of its processes');
      assert.equal(stats.pids, 1);
      assert.deepEqual(stats.blockIo?.map((e) => e.op), ['Read', 'Write']);
      assert.ok(!fake.writes.some((w) => w.file.includes('/_unlimited/') && w.file.endsWith('pids.max')), 'nothing written in a shared cgroup');
      // a limit: a cgroup of its own in that hierarchy, written there, and (running) its processes moved in
      driver.create('gantry-t/c1', { cpuQuotaMicros: 50_000, pidsLimit: 64 });
      assert.equal(fake.read(`${CG}/cpu/gantry-t/c1/cpu.cfs_quota_us`), '50000');
      assert.equal(fake.read(`${CG}/pids/gantry-t/c1/pids.max`), '64');
      for (const h of ['cpu', 'pids']) {
        assert.ok(fake.writesUnder(`${CG}/${h}/gantry-t/c1`).some((w) => w.file === 'cgroup.procs' && w.value === String(process.pid)), `${h}: moved in`);
      }
      assert.equal(own('cpuacct', 'c1'), false, 'cpuacct: only read, still shared');
      fake.set(`${CG}/pids/gantry-t/c1/pids.current`, '3\n');
      assert.equal(driver.stats('gantry-t/c1').pids, 3, 'its own pids cgroup: its counter');
      // limited from its create: no move, the cgroups made at once
      driver.create('gantry-t/c2', { cpuShares: 512 });
      assert.equal(fake.read(`${CG}/cpu/gantry-t/c2/cpu.shares`), '512');
      assert.equal(own('pids', 'c2'), false);
      assert.deepEqual(driver.ownDirs('gantry-t/c2').filter((d) => fake.exists(d)).map((d) => d.split('/').slice(-3)[0]).sort(), ['cpu', 'devices', 'freezer']);
    });
  } finally {
    delete process.env['GANTRY_MEMCG'];
  }
});

test('v1 GANTRY_MEMCG=limited: containers with Docker\'s default device rules share one devices cgroup, its rules written once before anyone joins; other rules get their own; one left allowing everything is fixed', async () => {
  process.env['GANTRY_MEMCG'] = 'limited';
  try {
    await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, async ({ fake, driver }) => {
      const shared = `${CG}/devices/gantry-t/${SHARED_DEVICES}`;
      const defaults = [...DEFAULT_DEVICE_RULES];
      const expected = defaults.map((r) => (r.type === 'a' ? 'a' : `${r.type} ${r.major}:${r.minor} ${r.access}`));
      // a daemon killed between the shared dir's mkdir and its rules left it allowing everything (the fake's new dir)
      fake.mkdir(fake.abs(`${CG}/devices/gantry-t`));
      fake.mkdir(fake.abs(shared));
      assert.equal(fake.read(`${shared}/devices.list`), 'a *:* rwm');
      driver.create('gantry-t/c1', { devicesAllowed: defaults });
      assert.deepEqual(fake.read(`${shared}/devices.list`).split('\n'), expected, 'fixed before c1 joins');
      assert.equal(fake.exists(fake.abs(`${CG}/devices/gantry-t/c1`)), false);
      assert.ok(driver.procsFiles('gantry-t/c1').includes(fake.abs(`${shared}/cgroup.procs`)));
      const writes = fake.writesUnder(shared).length;
      driver.create('gantry-t/c2', { devicesAllowed: defaults });
      driver.create('gantry-t/c1', { pidsLimit: 10 }); // an update: no rules given, nothing changes
      assert.equal(fake.writesUnder(shared).length, writes, 'never rewritten while containers are in it');
      assert.equal(fake.exists(fake.abs(`${CG}/devices/gantry-t/c1`)), false, 'no devices cgroup of its own without rules');
      // other rules (a --device, --privileged): a cgroup of its own with them
      driver.create('gantry-t/c3', { devicesAllowed: [...defaults, { type: 'c', major: 10, minor: 229, access: 'rwm' }] });
      assert.ok(fake.read(`${CG}/devices/gantry-t/c3/devices.list`).split('\n').includes('c 10:229 rwm'));
      assert.ok(driver.procsFiles('gantry-t/c3').includes(fake.abs(`${CG}/devices/gantry-t/c3/cgroup.procs`)));
      assert.deepEqual(driver.list('gantry-t'), ['gantry-t/c1', 'gantry-t/c2', 'gantry-t/c3'], 'the shared one is no container');
      // removed once unused, with the memory one; made (and written) again by the next container
      for (const c of ['c1', 'c2', 'c3']) await driver.remove(`gantry-t/${c}`);
      driver.removeSharedIfUnused!('gantry-t');
      assert.equal(fake.exists(fake.abs(shared)), false);
      driver.create('gantry-t/c4', { devicesAllowed: defaults });
      assert.deepEqual(fake.read(`${shared}/devices.list`).split('\n'), expected);
    });
  } finally {
    delete process.env['GANTRY_MEMCG'];
  }
});
