import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CAPABILITIES, DEFAULT_CAPABILITIES, capabilityMask, validateCapabilities } from '../../../src/engine/runtime/capabilities.js';
import { isCode } from './helpers.js';

// A container never holds more than the daemon's bounding set; expectations are cut down to it the same way.
const hostBounding = ((): bigint => {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : (1n << 41n) - 1n;
})();
const bit = (n: number): bigint => 1n << BigInt(n);
const onHost = (mask: bigint): bigint => mask & hostBounding;
const ALL = (1n << BigInt(CAPABILITIES.length)) - 1n;
/** Docker's well-known default effective set (CapEff of a default container). */
const DOCKER_DEFAULT = 0xa80425fbn;

describe('capability numbers', () => {
  const known: Array<[string, number]> = [
    ['CHOWN', 0], ['DAC_OVERRIDE', 1], ['KILL', 5], ['SETUID', 7], ['NET_BIND_SERVICE', 10], ['NET_ADMIN', 12],
    ['NET_RAW', 13], ['SYS_CHROOT', 18], ['SYS_PTRACE', 19], ['SYS_ADMIN', 21], ['MKNOD', 27], ['AUDIT_WRITE', 29],
    ['SETFCAP', 31], ['SYSLOG', 34], ['BPF', 39], ['CHECKPOINT_RESTORE', 40],
  ];
  for (const [name, n] of known) test(`CAP_${name} is bit ${n}`, () => assert.equal(CAPABILITIES.indexOf(name as typeof CAPABILITIES[number]), n));
});

describe('capabilityMask', () => {
  test('no flags: docker\'s default set (0xa80425fb)', () => {
    let expected = 0n;
    for (const c of DEFAULT_CAPABILITIES) expected |= bit(CAPABILITIES.indexOf(c as typeof CAPABILITIES[number]));
    assert.equal(expected, DOCKER_DEFAULT);
    assert.equal(capabilityMask([], []), onHost(DOCKER_DEFAULT));
  });

  test('--cap-add NET_ADMIN adds bit 12 to the defaults; CAP_ prefix and lower case are accepted', () => {
    assert.equal(capabilityMask(['NET_ADMIN'], []), onHost(DOCKER_DEFAULT | bit(12)));
    assert.equal(capabilityMask(['cap_net_admin'], []), onHost(DOCKER_DEFAULT | bit(12)));
  });

  test('--cap-drop NET_RAW removes bit 13 from the defaults', () => {
    assert.equal(capabilityMask([], ['NET_RAW']), onHost(DOCKER_DEFAULT & ~bit(13)));
  });

  test('--cap-drop ALL leaves nothing', () => {
    assert.equal(capabilityMask([], ['ALL']), 0n);
    assert.equal(capabilityMask([], ['all']), 0n);
  });

  test('--cap-add ALL gives every capability the host has', () => {
    assert.equal(capabilityMask(['ALL'], []), onHost(ALL));
  });

  test('--cap-add ALL --cap-drop SYS_ADMIN: everything but SYS_ADMIN', () => {
    assert.equal(capabilityMask(['ALL'], ['SYS_ADMIN']), onHost(ALL & ~bit(21)));
  });

  test('--cap-drop ALL --cap-add NET_BIND_SERVICE keeps only NET_BIND_SERVICE (docker\'s least-privilege idiom)', () => {
    // Docker: "drop all, then add what is listed" — the added capability survives the ALL drop.
    assert.equal(capabilityMask(['NET_BIND_SERVICE'], ['ALL']), onHost(bit(10)));
  });

  test('a capability both dropped and added is kept: docker drops from the defaults first, then adds', () => {
    assert.equal(capabilityMask(['NET_ADMIN'], ['NET_ADMIN']), onHost(DOCKER_DEFAULT | bit(12)));
  });

  test('--privileged: every capability the host has', () => {
    assert.equal(capabilityMask([], [], true), onHost(ALL));
  });

  test('--privileged ignores --cap-drop, as docker does', () => {
    assert.equal(capabilityMask([], ['NET_RAW'], true), onHost(ALL));
  });

  test('never more than the daemon\'s own bounding set', () => {
    const m = capabilityMask(['ALL'], []);
    assert.equal(m & ~hostBounding, 0n);
  });

  test('an unknown capability is a usage error naming it', () => {
    assert.throws(() => capabilityMask(['NET_FOO'], []), isCode('USAGE', /unknown capability "NET_FOO"/));
    assert.throws(() => capabilityMask([], ['BOGUS']), isCode('USAGE', /unknown capability "BOGUS"/));
  });
});

describe('validateCapabilities', () => {
  test('accepts known names (any case, CAP_ prefix) and ALL; rejects unknown ones', () => {
    validateCapabilities(['ALL', 'all', 'net_admin', 'CAP_SYS_TIME', 'CHECKPOINT_RESTORE']);
    assert.throws(() => validateCapabilities(['SYS_ADMIN', 'SUPERPOWER']), isCode('USAGE', /SUPERPOWER/));
  });
});
