import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { GantryError } from '../../../src/common/errors.js';
import { parseDeviceRule } from '../../../src/engine/cgroups/index.js';
import { UNIFIED, UNIFIED_MOUNTS, withHost } from './hosts.js';

const CG = '/sys/fs/cgroup';
const M32 = 32 << 20;

test('v2 create delegates cpu, memory and pids down the path and writes the limits in the leaf', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    const r = driver.create('gantry-t/c1', { memoryBytes: M32, cpuQuotaMicros: 50000, cpuPeriodMicros: 100000, cpuShares: 1024, pidsLimit: 10 });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(fake.writes.map((w) => [w.file.slice('sys/fs/cgroup/'.length), w.value]), [
      ['cgroup.subtree_control', '+cpu'],
      ['cgroup.subtree_control', '+memory'],
      ['cgroup.subtree_control', '+pids'],
      ['gantry-t/cgroup.subtree_control', '+cpu'],
      ['gantry-t/cgroup.subtree_control', '+memory'],
      ['gantry-t/cgroup.subtree_control', '+pids'],
      ['gantry-t/c1/memory.max', String(M32)],
      ['gantry-t/c1/memory.swap.max', String(M32)],
      ['gantry-t/c1/cpu.max', '50000 100000'],
      ['gantry-t/c1/cpu.weight', '39'],
      ['gantry-t/c1/pids.max', '10'],
    ]);
    assert.equal(fake.read(`${CG}/gantry-t/c1/cgroup.subtree_control`), '', 'the leaf holds processes, so delegates nothing');
    // a process cannot move alone between v2 domain cgroups: the init is cloned into the dir (its pid written only
    // where the kernel refuses that), an exec's process is moved by pid
    assert.deepEqual(driver.joinFiles('gantry-t/c1'), { self: [], byPid: [fake.abs(`${CG}/gantry-t/c1/cgroup.procs`)], into: fake.abs(`${CG}/gantry-t/c1`) });
    // A second container under the same parent finds the controllers already delegated.
    const before = fake.writes.length;
    driver.create('gantry-t/c2', { cpuQuotaMicros: 150000 });
    assert.deepEqual(fake.writes.slice(before).map((w) => [w.file.slice('sys/fs/cgroup/'.length), w.value]), [
      ['gantry-t/c2/cpu.max', '150000 100000'],
    ]);
  });
});

test('v2 swap: memory.swap.max is memory+swap minus memory, "max" for -1', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    driver.create('g/a', { memoryBytes: M32, memorySwapBytes: 3 * M32 });
    assert.equal(fake.read(`${CG}/g/a/memory.swap.max`), String(2 * M32));
    driver.create('g/b', { memoryBytes: M32, memorySwapBytes: -1 });
    assert.equal(fake.read(`${CG}/g/b/memory.swap.max`), 'max');
    driver.create('g/c', { pidsLimit: 0 });
    assert.equal(fake.read(`${CG}/g/c/pids.max`), 'max');
  });
});

test('v2 turns device rules into an eBPF program on the container cgroup, without warnings', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    const r = driver.create('g/c', { devicesAllowed: [parseDeviceRule('c 1:3 rwm')] });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual([...fake.devicePrograms.keys()], [fake.rel(fake.abs(`${CG}/g/c`))]);
    assert.ok(fake.devicePrograms.get(fake.rel(fake.abs(`${CG}/g/c`)))!.length > 0);
    driver.create('g/d', {});
    assert.equal(fake.devicePrograms.size, 1, 'no rules, no program');
  });
});

test('v2 freeze waits for "frozen 1" in cgroup.events; thaw for "frozen 0"', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    const freezing = driver.freeze('g/c');
    assert.equal(fake.read(`${CG}/g/c/cgroup.freeze`), '1');
    await freezing;
    assert.equal(driver.isFrozen('g/c'), true);
    await driver.thaw('g/c');
    assert.equal(driver.isFrozen('g/c'), false);
  });
});

test('v2 freeze that never completes fails after the timeout and unfreezes', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    await assert.rejects(driver.freeze('g/c'), (e) => e instanceof GantryError && /not frozen after 200 ms/.test(e.message));
    assert.equal(fake.read(`${CG}/g/c/cgroup.freeze`), '0');
  }, { freezeAfterReads: Infinity });
});

test('v2 OOM kills and stats are parsed from memory.events, memory.current, memory.max, cpu.stat, pids.current', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    driver.create('g/c', { memoryBytes: M32, pidsLimit: 10 });
    fake.set(`${CG}/g/c/memory.events`, 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n');
    assert.equal(driver.oomKillCount('g/c'), 2);
    fake.set(`${CG}/g/c/memory.current`, '4096000\n');
    fake.set(`${CG}/g/c/cpu.stat`, 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
    fake.set(`${CG}/g/c/pids.current`, '2\n');
    assert.deepEqual(driver.stats('g/c'), { memoryUsageBytes: 4096000, memoryLimitBytes: M32, cpuUsageNanos: 1_500_000, pids: 2 });
    driver.create('g/unlimited', {});
    assert.equal(driver.stats('g/unlimited').memoryLimitBytes, totalmem());
  });
});

test('v2 killAll uses cgroup.kill for SIGKILL and thaws a frozen cgroup', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, async ({ fake, driver }) => {
    driver.create('g/c', {});
    fake.addProcess(fake.abs(`${CG}/g/c`), 201);
    await driver.freeze('g/c');
    driver.killAll('g/c');
    assert.ok(fake.writes.some((w) => w.file === 'sys/fs/cgroup/g/c/cgroup.kill' && w.value === '1'));
    assert.deepEqual(fake.signals, [{ pid: 201, signal: 'SIGKILL' }]);
    assert.equal(driver.isFrozen('g/c'), false);
    assert.deepEqual(driver.pids('g/c'), []);
  });
});

test('v2 killAll signals each pid when cgroup.kill does not exist or the signal is not SIGKILL', async () => {
  await withHost(UNIFIED, UNIFIED_MOUNTS, ({ fake, driver }) => {
    driver.create('g/c', {});
    fake.addProcess(fake.abs(`${CG}/g/c`), 301);
    fake.addProcess(fake.abs(`${CG}/g/c`), 302);
    driver.killAll('g/c', 'SIGTERM');
    driver.killAll('g/c');
    assert.deepEqual(fake.signals, [
      { pid: 301, signal: 'SIGTERM' }, { pid: 302, signal: 'SIGTERM' },
      { pid: 301, signal: 'SIGKILL' }, { pid: 302, signal: 'SIGKILL' },
    ]);
  }, { cgroupKill: false });
});

test('v2 GANTRY_MEMCG=limited: a container without a memory limit lives under one shared memory cgroup, found by its own path', async () => {
  process.env['GANTRY_MEMCG'] = 'limited';
  try {
    await withHost(UNIFIED, UNIFIED_MOUNTS, async ({ fake, driver }) => {
      driver.create('gantry-t/c1', { cpuShares: 512, pidsLimit: 50, devicesAllowed: [parseDeviceRule('c 1:3 rwm')] });
      const leaf = `${CG}/gantry-t/_unlimited/c1`;
      assert.deepEqual(driver.procsFiles('gantry-t/c1'), [fake.abs(`${leaf}/cgroup.procs`)]);
      assert.equal(fake.exists(fake.abs(`${CG}/gantry-t/c1`)), false, 'no cgroup at its own path');
      assert.deepEqual(fake.read(`${CG}/gantry-t/cgroup.subtree_control`).split(' ').sort(), ['cpu', 'memory', 'pids'], 'one memory cgroup for all of them');
      assert.deepEqual(fake.read(`${CG}/gantry-t/_unlimited/cgroup.subtree_control`).split(' ').sort(), ['cpu', 'pids'], 'and none below it');
      assert.equal(fake.exists(fake.abs(`${leaf}/memory.max`)), false);
      assert.equal(fake.read(`${leaf}/cpu.weight`), '20');
      assert.equal(fake.read(`${leaf}/pids.max`), '50');
      assert.deepEqual([...fake.devicePrograms.keys()], [fake.rel(fake.abs(leaf))], 'the device rules on its own leaf');
      // its processes, stats, freezing and killing go through the path the engine knows it by
      fake.addProcess(fake.abs(leaf), 501);
      assert.deepEqual(driver.pids('gantry-t/c1'), [501]);
      assert.equal(driver.oomKillCount('gantry-t/c1'), 0, 'the shared cgroup\'s kills are nobody\'s');
      assert.equal(driver.stats('gantry-t/c1').memoryLimitBytes, totalmem());
      await driver.freeze('gantry-t/c1');
      assert.equal(fake.read(`${leaf}/cgroup.freeze`), '1');
      await driver.thaw('gantry-t/c1');
      // a container with a memory limit gets its own memory cgroup, at its own path
      driver.create('gantry-t/c2', { memoryBytes: M32 });
      assert.equal(fake.read(`${CG}/gantry-t/c2/memory.max`), String(M32));
      assert.deepEqual(driver.list('gantry-t'), ['gantry-t/c1', 'gantry-t/c2'], 'the shared cgroup is no container to clean up');
      driver.killAll('gantry-t/c1');
      assert.deepEqual(fake.signals, [{ pid: 501, signal: 'SIGKILL' }]);
      await driver.remove('gantry-t/c1');
      assert.equal(driver.exists('gantry-t/c1'), false);
      assert.equal(fake.exists(fake.abs(`${CG}/gantry-t/_unlimited`)), true, 'the shared cgroup stays while starts may come');
      driver.removeSharedIfUnused!('gantry-t');
      assert.equal(fake.exists(fake.abs(`${CG}/gantry-t/_unlimited`)), false, 'removed once unused');
    });
  } finally {
    delete process.env['GANTRY_MEMCG'];
  }
});

test('v2 GANTRY_MEMCG=limited: a memory limit given later moves the container\'s processes into a cgroup of its own', async () => {
  process.env['GANTRY_MEMCG'] = 'limited';
  try {
    await withHost(UNIFIED, UNIFIED_MOUNTS, async ({ fake, driver }) => {
      const rules = [parseDeviceRule('c 1:3 rwm')];
      driver.create('gantry-t/c1', { devicesAllowed: rules });
      const leaf = `${CG}/gantry-t/_unlimited/c1`;
      fake.addProcess(fake.abs(leaf), 601);
      fake.addProcess(fake.abs(leaf), 602);
      driver.create('gantry-t/c1', { memoryBytes: M32, devicesAllowed: rules }); // `update -m 32m`
      const own = `${CG}/gantry-t/c1`;
      assert.equal(fake.read(`${own}/memory.max`), String(M32));
      assert.ok(fake.devicePrograms.has(fake.rel(fake.abs(own))), 'its device rules before any process moves');
      assert.deepEqual(fake.writesUnder(own).filter((w) => w.file === 'cgroup.procs').map((w) => w.value), ['601', '602']);
      assert.deepEqual(driver.procsFiles('gantry-t/c1'), [fake.abs(`${own}/cgroup.procs`)], 'found at its own path from now on');
      for (const dir of [leaf, own]) fake.exitAll(fake.abs(dir)); // (the fake kernel leaves a moved pid in both)
      await driver.remove('gantry-t/c1');
      assert.equal(fake.exists(fake.abs(leaf)), false);
      assert.equal(fake.exists(fake.abs(own)), false);
    });
  } finally {
    delete process.env['GANTRY_MEMCG'];
  }
});
