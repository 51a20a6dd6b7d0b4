import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOW_ALL_DEVICES, DEFAULT_DEVICE_RULES, devicesAllow, formatDeviceRule } from '../../../src/engine/cgroups/index.js';
import { splitDevNumber } from '../../../src/engine/runtime/host-devices.js';
import { THIS_MACHINE, THIS_MACHINE_MOUNTS, withHost } from './hosts.js';

const CG = '/sys/fs/cgroup';
const chr = (major: number, minor: number) => ({ type: 'c' as const, major, minor });

test("the default rules are Docker's: the standard nodes, ptys and tun, mknod of anything, nothing else", () => {
  assert.deepEqual(DEFAULT_DEVICE_RULES.map(formatDeviceRule), [
    'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
    'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm', 'c 136:* rwm', 'c 10:200 rwm',
  ]);
  for (const [major, minor] of [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 1], [5, 2], [136, 0], [136, 77], [10, 200]] as const) {
    for (const a of ['r', 'w', 'm'] as const) assert.ok(devicesAllow(DEFAULT_DEVICE_RULES, chr(major, minor), a), `c ${major}:${minor} ${a}`);
  }
  // The host's consoles, memory, kmsg, fuse, a disk: a node can be made, never opened.
  for (const dev of [chr(4, 0), chr(4, 63), chr(1, 1), chr(1, 11), chr(10, 229), { type: 'b' as const, major: 8, minor: 0 }]) {
    assert.ok(devicesAllow(DEFAULT_DEVICE_RULES, dev, 'm'));
    assert.ok(!devicesAllow(DEFAULT_DEVICE_RULES, dev, 'r'), `${dev.type} ${dev.major}:${dev.minor} r`);
    assert.ok(!devicesAllow(DEFAULT_DEVICE_RULES, dev, 'w'), `${dev.type} ${dev.major}:${dev.minor} w`);
  }
  assert.ok(devicesAllow(ALLOW_ALL_DEVICES, chr(4, 0), 'w'));
});

test('v1: the container cgroup lists exactly the default rules after create (the kernel shows deny-all plus exceptions)', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('gantry-t/c1', { devicesAllowed: [...DEFAULT_DEVICE_RULES] });
    assert.deepEqual(fake.read(`${CG}/devices/gantry-t/c1/devices.list`).split('\n'), DEFAULT_DEVICE_RULES.map(formatDeviceRule));
    assert.equal(fake.writesUnder(`${CG}/devices/gantry-t/c1`)[0]?.file, 'devices.deny');
    // The parent keeps allowing everything (other containers' rules are their own).
    assert.equal(fake.read(`${CG}/devices/gantry-t/devices.list`), 'a *:* rwm');
  });
});

test('v1: a privileged container allows every device, also when its cgroup had the default list before', async () => {
  await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ fake, driver }) => {
    driver.create('gantry-t/c1', { devicesAllowed: [...DEFAULT_DEVICE_RULES] });
    driver.create('gantry-t/c1', { devicesAllowed: [...ALLOW_ALL_DEVICES] });
    assert.equal(fake.read(`${CG}/devices/gantry-t/c1/devices.list`), 'a *:* rwm');
    driver.create('gantry-t/c1', { devicesAllowed: [...DEFAULT_DEVICE_RULES, { type: 'c', major: 10, minor: 229, access: 'rw' }] });
    assert.deepEqual(fake.read(`${CG}/devices/gantry-t/c1/devices.list`).split('\n').slice(-2), ['c 10:200 rwm', 'c 10:229 rw']);
  });
});

test("dev_t numbers split as glibc's major()/minor() do, large numbers included", () => {
  assert.deepEqual(splitDevNumber(0x103n), { major: 1, minor: 3 });
  assert.deepEqual(splitDevNumber(0x8800n), { major: 136, minor: 0 });
  // major 259 (blkext), minor 300: minor's high bits sit above the major's low 12.
  assert.deepEqual(splitDevNumber((259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n)), { major: 259, minor: 300 });
  // a major above 4095 uses the bits from 32 up.
  assert.deepEqual(splitDevNumber(((5000n & 0xfffn) << 8n) | ((5000n & ~0xfffn) << 32n) | 7n), { major: 5000, minor: 7 });
});
