import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import {
  cpuMaxValue, cpuWeightFromShares, memorySwapLimit, parseDeviceRule, formatDeviceRule, pidsMaxValue, validateLimits,
} from '../../../src/engine/cgroups/limits.js';

test('memory+swap defaults to twice the memory (docker), honours an explicit value and -1', () => {
  assert.equal(memorySwapLimit({ memoryBytes: 64 << 20 }), 128 << 20);
  assert.equal(memorySwapLimit({ memoryBytes: 64 << 20, memorySwapBytes: 64 << 20 }), 64 << 20);
  assert.equal(memorySwapLimit({ memoryBytes: 64 << 20, memorySwapBytes: -1 }), -1);
  assert.equal(memorySwapLimit({}), undefined);
});

test('cpu shares convert to v2 weight like the OCI runtimes do', () => {
  assert.equal(cpuWeightFromShares(2), 1);
  assert.equal(cpuWeightFromShares(1024), 39);
  assert.equal(cpuWeightFromShares(262144), 10000);
});

test('cpu.max is "quota period", with the default period and "max" when only a period is given', () => {
  assert.equal(cpuMaxValue({ cpuQuotaMicros: 50000 }), '50000 100000');
  assert.equal(cpuMaxValue({ cpuQuotaMicros: 150000, cpuPeriodMicros: 100000 }), '150000 100000');
  assert.equal(cpuMaxValue({ cpuPeriodMicros: 50000 }), 'max 50000');
  assert.equal(cpuMaxValue({}), undefined);
});

test('a pids limit of 0 or less is unlimited', () => {
  assert.equal(pidsMaxValue(0), 'max');
  assert.equal(pidsMaxValue(-1), 'max');
  assert.equal(pidsMaxValue(10), '10');
});

test('device rules round-trip and bad ones are refused', () => {
  assert.deepEqual(parseDeviceRule('c 1:3 rwm'), { type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.equal(formatDeviceRule(parseDeviceRule('c 136:* rw')), 'c 136:* rw');
  assert.equal(formatDeviceRule(parseDeviceRule('a')), 'a');
  assert.throws(() => parseDeviceRule('x 1:3 rwm'), (e) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT');
  assert.throws(() => parseDeviceRule('c 1:3 rrw'), GantryError);
});

test('inconsistent limits are refused before anything is written', () => {
  const code = (f: () => void): string | undefined => {
    try { f(); return undefined; } catch (e) { return e instanceof GantryError ? e.code : 'not a GantryError'; }
  };
  assert.equal(code(() => validateLimits({ memorySwapBytes: 1 << 30 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => validateLimits({ memoryBytes: 64 << 20, memorySwapBytes: 32 << 20 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => validateLimits({ cpuQuotaMicros: 500 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => validateLimits({ cpuPeriodMicros: 2_000_000 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => validateLimits({ memoryBytes: 1.5 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => validateLimits({ memoryBytes: 64 << 20, memorySwapBytes: -1, cpuQuotaMicros: 50000, pidsLimit: -1 })), undefined);
});
