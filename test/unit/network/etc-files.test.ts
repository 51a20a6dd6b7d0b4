import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  containerResolvConf, parseAddHost, parseResolvConf, renderHostname, renderHosts, renderResolvConf,
} from '../../../src/engine/network/etc-files.js';
import { GantryError } from '../../../src/common/errors.js';

describe('container /etc files', () => {
  test('--add-host forms, host-gateway, bad input is a usage error', () => {
    assert.deepEqual(parseAddHost('db.local:10.0.0.5'), { ip: '10.0.0.5', names: ['db.local'] });
    assert.deepEqual(parseAddHost('db=10.0.0.5'), { ip: '10.0.0.5', names: ['db'] });
    assert.deepEqual(parseAddHost('v6:::1'), { ip: '::1', names: ['v6'] });
    assert.deepEqual(parseAddHost('v6:[fe80::1]'), { ip: 'fe80::1', names: ['v6'] });
    assert.deepEqual(parseAddHost('gw:host-gateway', '172.17.0.1'), { ip: '172.17.0.1', names: ['gw'] });
    for (const bad of ['nocolon', ':1.2.3.4', 'db:1.2.3', 'bad name:1.2.3.4', 'gw:host-gateway']) {
      assert.throws(() => parseAddHost(bad), (e: unknown) => e instanceof GantryError && e.code === 'USAGE', bad);
    }
  });

  test('hosts: localhost, extra hosts, own address with hostname and aliases', () => {
    const text = renderHosts({
      hostname: 'abc123',
      own: [{ ip: '172.18.0.2', names: ['web', 'proj-web-1'] }],
      extra: [{ ip: '10.0.0.5', names: ['db.local'] }],
    });
    const lines = text.trim().split('\n');
    assert.equal(lines[0], '127.0.0.1\tlocalhost');
    assert.ok(lines.includes('10.0.0.5\tdb.local'));
    assert.equal(lines.at(-1), '172.18.0.2\tabc123 web proj-web-1');
    assert.ok(text.endsWith('\n'));
    assert.match(renderHosts({ hostname: 'solo', own: [] }), /127\.0\.1\.1\tsolo\n$/);
    assert.equal(renderHostname('abc'), 'abc\n');
  });

  test('resolv.conf: embedded DNS first, else --dns, else the host minus loopback', () => {
    const host = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0 trust-ad\n');
    assert.deepEqual(host, { nameservers: ['127.0.0.53', '10.1.1.1'], search: ['corp.example'], options: ['edns0', 'trust-ad'] });
    assert.equal(renderResolvConf(containerResolvConf({ host, embeddedDns: '172.18.0.1' })),
      'nameserver 172.18.0.1\nsearch corp.example\noptions edns0 trust-ad\n');
    assert.deepEqual(containerResolvConf({ host, dns: ['9.9.9.9'], dnsSearch: ['x'] }).nameservers, ['9.9.9.9']);
    assert.deepEqual(containerResolvConf({ host, dns: ['9.9.9.9'], dnsSearch: ['x'] }).search, ['x']);
    assert.deepEqual(containerResolvConf({ host }).nameservers, ['10.1.1.1']);
  });
});
