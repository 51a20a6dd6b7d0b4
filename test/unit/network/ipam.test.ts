import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_POOL, allocateAddress, defaultGateway, formatSubnet, macForAddress, parseSubnet, planNetworkAddressing,
  subnetsOverlap,
} from '../../../src/engine/network/ipam.js';
import { GantryError } from '../../../src/common/errors.js';

const code = (c: string) => (e: unknown): boolean => e instanceof GantryError && e.code === c;

describe('subnet parsing', () => {
  test('parses CIDR and formats it back', () => {
    assert.equal(formatSubnet(parseSubnet('172.20.0.0/16')), '172.20.0.0/16');
    assert.equal(defaultGateway(parseSubnet('10.9.8.0/24')), '10.9.8.1');
  });
  test('rejects malformed subnets as INVALID_ARGUMENT', () => {
    for (const bad of ['172.20.0.0', '172.20.0.0/33', '300.1.1.0/24', 'abc/8', '172.20.0.0/4', '172.20.0.0/31', '']) {
      assert.throws(() => parseSubnet(bad), code('INVALID_ARGUMENT'), bad);
    }
  });
  test('host bits set: says which network was meant', () => {
    assert.throws(() => parseSubnet('172.20.1.5/16'), (e: unknown) => e instanceof GantryError && /172\.20\.0\.0\/16/.test(e.hint ?? ''));
  });
  test('overlap', () => {
    assert.equal(subnetsOverlap(parseSubnet('10.0.0.0/8'), parseSubnet('10.1.2.0/24')), true);
    assert.equal(subnetsOverlap(parseSubnet('10.1.2.0/24'), parseSubnet('10.1.3.0/24')), false);
    assert.equal(subnetsOverlap(parseSubnet('192.168.0.0/20'), parseSubnet('192.168.15.0/24')), true);
    assert.equal(subnetsOverlap(parseSubnet('192.168.0.0/20'), parseSubnet('192.168.16.0/24')), false);
  });
});

describe('network addressing', () => {
  test('default pool: 172.17/16 first, then the next free one', () => {
    assert.deepEqual(planNetworkAddressing({}, { networks: [], hostRoutes: [] }), { subnet: '172.17.0.0/16', prefixLen: 16, gateway: '172.17.0.1' });
    const a = planNetworkAddressing({}, { networks: [{ name: 'bridge', subnet: '172.17.0.0/16' }], hostRoutes: [] });
    assert.equal(a.subnet, '172.18.0.0/16');
  });
  test('default pool skips ranges routed on the host, ignoring the default route', () => {
    const a = planNetworkAddressing({}, { networks: [], hostRoutes: ['0.0.0.0/0', '172.16.0.0/12'] });
    assert.equal(a.subnet, '192.168.0.0/20');
    const b = planNetworkAddressing({}, { networks: [], hostRoutes: ['172.17.5.0/24', '172.18.0.0/16'] });
    assert.equal(b.subnet, '172.19.0.0/16');
  });
  test('pool exhausted is a clear error', () => {
    assert.throws(() => planNetworkAddressing({}, { networks: [], hostRoutes: ['172.16.0.0/12', '192.168.0.0/16'] }), code('SUBNET_OVERLAP'));
  });
  test('DEFAULT_POOL ends with 192.168.240.0/20', () => {
    assert.equal(DEFAULT_POOL[0], '172.17.0.0/16');
    assert.equal(DEFAULT_POOL.at(-1), '192.168.240.0/20');
    assert.equal(DEFAULT_POOL.length, 31);
  });
  test('explicit subnet overlapping a network names it', () => {
    assert.throws(
      () => planNetworkAddressing({ subnet: '10.5.0.0/24' }, { networks: [{ name: 'backend', subnet: '10.5.0.0/16' }], hostRoutes: [] }),
      (e: unknown) => e instanceof GantryError && e.code === 'SUBNET_OVERLAP' && e.message.includes('"backend"'),
    );
  });
  test('explicit subnet colliding with a host route names the route', () => {
    assert.throws(
      () => planNetworkAddressing({ subnet: '192.0.2.0/25' }, { networks: [], hostRoutes: ['192.0.2.0/24'] }),
      (e: unknown) => e instanceof GantryError && e.code === 'SUBNET_OVERLAP' && e.message.includes('host route 192.0.2.0/24'),
    );
  });
  test('gateway: default .1, explicit inside the subnet, outside rejected', () => {
    const ctx = { networks: [], hostRoutes: [] };
    assert.equal(planNetworkAddressing({ subnet: '10.7.0.0/24' }, ctx).gateway, '10.7.0.1');
    assert.equal(planNetworkAddressing({ subnet: '10.7.0.0/24', gateway: '10.7.0.254' }, ctx).gateway, '10.7.0.254');
    assert.throws(() => planNetworkAddressing({ subnet: '10.7.0.0/24', gateway: '10.8.0.1' }, ctx), code('INVALID_ARGUMENT'));
    assert.throws(() => planNetworkAddressing({ subnet: '10.7.0.0/24', gateway: '10.7.0.255' }, ctx), code('INVALID_ARGUMENT'));
    assert.throws(() => planNetworkAddressing({ gateway: '10.7.0.1' }, ctx), code('INVALID_ARGUMENT'));
  });
});

describe('address allocation', () => {
  test('first free after the gateway, never a live one', () => {
    assert.equal(allocateAddress('10.1.0.0/24', { gateway: '10.1.0.1', inUse: [] }), '10.1.0.2');
    assert.equal(allocateAddress('10.1.0.0/24', { gateway: '10.1.0.1', inUse: ['10.1.0.2', '10.1.0.3'] }), '10.1.0.4');
  });
  test('a non-.1 gateway is skipped wherever it is', () => {
    assert.equal(allocateAddress('10.1.0.0/24', { gateway: '10.1.0.254', inUse: [] }), '10.1.0.1');
  });
  test('continues after the last one handed out and wraps around', () => {
    assert.equal(allocateAddress('10.1.0.0/24', { gateway: '10.1.0.1', inUse: ['10.1.0.3'], after: '10.1.0.5' }), '10.1.0.6');
    assert.equal(allocateAddress('10.1.0.0/29', { gateway: '10.1.0.1', inUse: ['10.1.0.2'], after: '10.1.0.6' }), '10.1.0.3');
  });
  test('every address of a small subnet, then ADDRESS_IN_USE', () => {
    const inUse: string[] = [];
    for (let i = 0; i < 5; i++) inUse.push(allocateAddress('10.1.0.0/29', { gateway: '10.1.0.1', inUse }));
    assert.deepEqual(inUse, ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5', '10.1.0.6']);
    assert.throws(() => allocateAddress('10.1.0.0/29', { gateway: '10.1.0.1', inUse }), code('ADDRESS_IN_USE'));
  });
  test('requested address: outside → INVALID_ARGUMENT, taken or gateway → ADDRESS_IN_USE', () => {
    const o = { gateway: '10.1.0.1', inUse: ['10.1.0.9'] };
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, requested: '10.1.0.50' }), '10.1.0.50');
    assert.throws(() => allocateAddress('10.1.0.0/24', { ...o, requested: '10.2.0.50' }), code('INVALID_ARGUMENT'));
    assert.throws(() => allocateAddress('10.1.0.0/24', { ...o, requested: '10.1.0.255' }), code('INVALID_ARGUMENT'));
    assert.throws(() => allocateAddress('10.1.0.0/24', { ...o, requested: 'nope' }), code('INVALID_ARGUMENT'));
    assert.throws(() => allocateAddress('10.1.0.0/24', { ...o, requested: '10.1.0.9' }), code('ADDRESS_IN_USE'));
    assert.throws(() => allocateAddress('10.1.0.0/24', { ...o, requested: '10.1.0.1' }), code('ADDRESS_IN_USE'));
  });
  test('sticky: the preferred address (the one a restarting container had) while it is free, else the next one', () => {
    const o = { gateway: '10.1.0.1', after: '10.1.0.7' };
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: ['10.1.0.6'], preferred: '10.1.0.5' }), '10.1.0.5');
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: ['10.1.0.5'], preferred: '10.1.0.5' }), '10.1.0.8');
    // Only a preference: never the gateway, nor outside the subnet, nor the network/broadcast address.
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: [], preferred: '10.1.0.1' }), '10.1.0.8');
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: [], preferred: '10.2.0.5' }), '10.1.0.8');
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: [], preferred: '10.1.0.255' }), '10.1.0.8');
    // A requested address (ipv4_address) wins over the preference.
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: [], preferred: '10.1.0.5', requested: '10.1.0.9' }), '10.1.0.9');
  });
  test('a new address avoids those stopped containers want back, unless nothing else is free', () => {
    const o = { gateway: '10.1.0.1' };
    assert.equal(allocateAddress('10.1.0.0/24', { ...o, inUse: [], avoid: ['10.1.0.2', '10.1.0.3'] }), '10.1.0.4');
    assert.equal(allocateAddress('10.1.0.0/29', { ...o, inUse: ['10.1.0.2', '10.1.0.4', '10.1.0.5', '10.1.0.6'], avoid: ['10.1.0.3'] }), '10.1.0.3');
  });
  test('MAC derived from the address', () => {
    assert.equal(macForAddress('172.17.0.2'), '02:42:ac:11:00:02');
  });
});
