// The cgroup driver against this host's real cgroupfs: limits the kernel enforces, freeze, kill, OOM, cleanup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroupDriver } from '../../src/engine/cgroups/index.js';
import type { CgroupDriver } from '../../src/engine/cgroups/index.js';
import { parseCgroupMounts } from '../../src/engine/cgroups/mountinfo.js';
import { missingRequirement, skipReason } from '../helpers/privileged.js';

const parent = `gantry-cgtest-${randomBytes(4).toString('hex')}`;
const skip = skipReason('root');
const MiB = 1 << 20;

/** Waits for a child to exit; resolves with its exit code or signal. */
function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads a control file from whichever of the cgroup's directories has it. */
function control(driver: CgroupDriver, path: string, file: string): string {
  for (const procs of driver.procsFiles(path)) {
    const f = join(procs, '..', file);
    if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  }
  throw new Error(`no ${file} in any directory of ${path}`);
}

/** Joins a process to the cgroup the way the shim does: its pid into every procs file. */
function joinCgroup(driver: CgroupDriver, path: string, pid: number): void {
  for (const f of driver.procsFiles(path)) writeFileSync(f, String(pid));
}

describe('cgroups on this host', { skip }, () => {
  let driver: CgroupDriver;
  const children: ChildProcess[] = [];

  before(() => {
    driver = detectCgroupDriver();
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (driver === undefined) return;
    for (const p of [...driver.list(parent).reverse(), parent]) if (driver.exists(p)) driver.killAll(p);
    await driver.remove(parent);
    // Nothing of this run remains in any cgroup hierarchy, whatever the driver thinks it uses.
    const mounts = parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
    const left = mounts.map((m) => join(m.mountPoint, parent)).filter((d) => existsSync(d));
    assert.deepEqual(left, []);
  });

  test('detects the version the host runs', () => {
    assert.equal(driver.version, missingRequirement('cgroup-v2') === undefined ? 2 : 1);
  });

  test('limits, pids, stats, freeze/thaw, killAll and remove on a sleeping process', async () => {
    const path = `${parent}/c1`;
    driver.create(path, { memoryBytes: 32 * MiB, pidsLimit: 10, cpuQuotaMicros: 50000, cpuPeriodMicros: 100000 });
    if (driver.version === 1) {
      assert.equal(control(driver, path, 'memory.limit_in_bytes'), String(32 * MiB));
      assert.equal(control(driver, path, 'cpu.cfs_quota_us'), '50000');
    } else {
      assert.equal(control(driver, path, 'memory.max'), String(32 * MiB));
      assert.equal(control(driver, path, 'cpu.max'), '50000 100000');
    }
    assert.equal(control(driver, path, 'pids.max'), '10');

    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(sleeper);
    const pid = sleeper.pid!;
    joinCgroup(driver, path, pid);
    assert.deepEqual(driver.pids(path), [pid]);
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`:/${path}\\n`));

    const stats = driver.stats(path);
    assert.equal(stats.pids, 1);
    assert.equal(stats.memoryLimitBytes, 32 * MiB);
    assert.ok(stats.memoryUsageBytes >= 0 && stats.cpuUsageNanos >= 0);

    await driver.freeze(path);
    assert.equal(driver.isFrozen(path), true);
    await driver.thaw(path);
    assert.equal(driver.isFrozen(path), false);
    assert.equal(readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2], 'S', 'sleeping again once thawed');

    await driver.freeze(path);
    driver.killAll(path);
    assert.deepEqual(await exited(sleeper), { code: null, signal: 'SIGKILL' });
    assert.equal(driver.isFrozen(path), false);
    await driver.remove(path);
    assert.equal(driver.exists(path), false);
  });

  test('the pids limit stops a fork bomb at 10 processes', async () => {
    const path = `${parent}/forks`;
    driver.create(path, { pidsLimit: 10 });
    const loop = Array.from({ length: 20 }, (_, i) => i).join(' ');
    const sh = spawn('/bin/busybox', ['sh', '-c', `read go; for i in ${loop}; do sleep 30 & done; wait`], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    children.push(sh);
    let stderr = '';
    sh.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    joinCgroup(driver, path, sh.pid!);
    sh.stdin!.write('go\n');
    // busybox sh gives up at the first fork the kernel refuses; the sleeps it did start stay within the limit.
    const status = await exited(sh);
    assert.notEqual(status.code, 0);
    assert.match(stderr, /can't fork/);
    const left = driver.pids(path).length;
    assert.ok(left >= 1 && left <= 10, `${left} processes in the cgroup`);
    driver.killAll(path);
    await driver.remove(path);
    assert.equal(driver.exists(path), false);
  });

  test('a process allocating 64 MiB in a 16 MiB cgroup is OOM-killed and counted', async () => {
    const path = `${parent}/oom`;
    driver.create(path, { memoryBytes: 16 * MiB });
    assert.equal(driver.oomKillCount(path), 0);
    // Joins first, allocates once told to: the memory it touched before joining is not charged to the cgroup.
    const hog = spawn(process.execPath, ['-e', "process.stdin.once('data', () => { const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1)); })"], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    children.push(hog);
    joinCgroup(driver, path, hog.pid!);
    hog.stdin!.write('go\n');
    assert.deepEqual(await exited(hog), { code: null, signal: 'SIGKILL' });
    await eventually(() => driver.oomKillCount(path) >= 1);
    await driver.remove(path);
  });

  test('list finds what is under the parent, and remove of a missing cgroup succeeds', async () => {
    driver.create(`${parent}/a`, {});
    driver.create(`${parent}/b`, {});
    assert.deepEqual(driver.list(parent), [`${parent}/a`, `${parent}/b`]);
    await driver.remove(`${parent}/a`);
    await driver.remove(`${parent}/a`);
    assert.deepEqual(driver.list(parent), [`${parent}/b`]);
  });
});
