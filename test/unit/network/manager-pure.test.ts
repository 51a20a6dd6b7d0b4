// The pure parts of the engine's networking: per-client DNS scope, link prefixes, Docker shapes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTable } from '../../../src/engine/network/dns.js';
import { ScopedDnsTable } from '../../../src/engine/network/dns-scope.js';
import { containerNetworkSettings, inspectNetwork, networkEntry } from '../../../src/engine/network/inspect.js';
import { linkPrefixFor } from '../../../src/engine/network/manager.js';
import { bridgeIfName, vethIfName, MAX_IFNAME } from '../../../src/engine/network/bridge.js';
import type { EndpointRecord, NetworkRecord } from '../../../src/engine/network/store.js';

describe('ScopedDnsTable', () => {
  test('answers the names of every network of the client, and nothing else', () => {
    const front = new DnsTable();
    const back = new DnsTable();
    const other = new DnsTable();
    front.add('web', '10.0.0.2');
    back.add('db', '10.1.0.2');
    other.add('secret', '10.2.0.2');
    const scope = new ScopedDnsTable([front, back]);
    assert.deepEqual(scope.lookup('web'), ['10.0.0.2']);
    assert.deepEqual(scope.lookup('DB.'), ['10.1.0.2']);
    assert.equal(scope.has('secret'), false);
    assert.equal(scope.lookup('secret'), undefined);
    assert.equal(scope.reverse('10.1.0.2'), 'db');
    assert.deepEqual(scope.names(), ['db', 'web']);
  });

  test('a name on two networks answers the addresses of both, once each', () => {
    const a = new DnsTable();
    const b = new DnsTable();
    a.add('svc', '10.0.0.2');
    b.add('svc', '10.1.0.2');
    b.add('svc', '10.0.0.2');
    assert.deepEqual(new Set(new ScopedDnsTable([a, b]).lookup('svc')), new Set(['10.0.0.2', '10.1.0.2']));
  });
});

describe('link names', () => {
  test('a daemon prefix gives a short, stable link prefix; every link name fits in 15 characters', () => {
    const p = linkPrefixFor('gantry-t1a2b3c');
    assert.match(p, /^gt[0-9a-f]{4}$/);
    assert.equal(linkPrefixFor('gantry-t1a2b3c'), p);
    assert.notEqual(linkPrefixFor('gantry-t1a2b3d'), p);
    for (const name of [`${p}0`, bridgeIfName(p, 'f'.repeat(64)), vethIfName(p, 'c'.repeat(64), 'f'.repeat(64))]) {
      assert.ok(name.length <= MAX_IFNAME && name.startsWith(p), name);
    }
  });
});

describe('Docker shapes', () => {
  const net: NetworkRecord = {
    id: 'a'.repeat(64), name: 'front', driver: 'bridge', created: '2026-01-01T00:00:00.000Z', subnet: '172.20.0.0/16',
    gateway: '172.20.0.1', internal: false, bridge: 'gt1234br-aaaaaa', labels: { app: 'x' }, options: {}, isDefault: false,
  };
  const ep: EndpointRecord = {
    networkId: net.id, endpointId: 'e'.repeat(64), ip: '172.20.0.2', prefixLen: 16, gateway: '172.20.0.1',
    mac: '02:42:ac:14:00:02', aliases: ['svc'], dnsNames: ['web', 'svc'], hostIfName: 'gt1234v00000000', ifName: 'eth0',
  };

  test('network inspect: IPAM config, only the options the user gave, containers with CIDR addresses', () => {
    const info = inspectNetwork({ id: net.id, name: net.name, driver: 'bridge', created: net.created, record: net },
      [{ containerId: 'c'.repeat(64), name: 'web', endpoint: ep }]);
    assert.deepEqual(info.IPAM?.Config, [{ Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' }]);
    assert.deepEqual(info.Options, { ...net.options }, 'the daemon\'s own bridge name is not an option the user gave');
    assert.deepEqual(info.Containers?.['c'.repeat(64)], { Name: 'web', EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: '172.20.0.2/16', IPv6Address: '' });
    assert.deepEqual(info.Labels, { app: 'x' });
  });

  test('container NetworkSettings: published ports as bound, exposed-only ports null, endpoint addresses', () => {
    const s = containerNetworkSettings({ front: networkEntry(net.id, ['svc'], undefined, ep) },
      { containerId: 'c'.repeat(64), pid: 42, endpoints: [ep], ports: [{ hostIp: '127.0.0.1', hostPort: 32768, containerPort: 80, protocol: 'tcp' }] },
      ['80/tcp', '53/udp'], undefined);
    assert.deepEqual(s.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '32768' }], '53/udp': null });
    assert.equal(s.Networks['front']?.IPAddress, '172.20.0.2');
    assert.deepEqual(s.Networks['front']?.Aliases, ['svc']);
    assert.equal(s.SandboxKey, '/proc/42/ns/net');
    assert.equal((s as unknown as { IPAddress: string }).IPAddress, '', 'the legacy top-level address is the default bridge\'s only');
  });

  test('a stopped container lists its networks without addresses', () => {
    const e = networkEntry(net.id, [], '172.20.0.9', undefined);
    assert.equal(e.IPAddress, '');
    assert.deepEqual(e.IPAMConfig, { IPv4Address: '172.20.0.9' });
  });
});
