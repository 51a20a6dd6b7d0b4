// The DNAT table as text (what `nft -f` is given) and the conntrack count a hand-over waits on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnatApplies, dnatConnectionsTo, dnatTableScript } from '../../../src/engine/network/port-dnat.js';

describe('port DNAT', () => {
  test('the table: replaced in one transaction, bindings on one address and on all addresses in their maps', () => {
    assert.equal(dnatTableScript('gantry_gtab12', 'gtab12', [
      { hostIp: '127.0.0.1', hostPort: 8080, ip: '10.1.0.2', port: 80 },
      { hostIp: '', hostPort: 8443, ip: '10.1.0.2', port: 443 },
      { hostIp: '0.0.0.0', hostPort: 9000, ip: '10.1.0.3', port: 9000 },
    ]), `table ip gantry_gtab12 {}
delete table ip gantry_gtab12
table ip gantry_gtab12 {
  map host_ports { type ipv4_addr . inet_service : ipv4_addr . inet_service; elements = { 127.0.0.1 . 8080 : 10.1.0.2 . 80 }; }
  map any_ports { type inet_service : ipv4_addr . inet_service; elements = { 8443 : 10.1.0.2 . 443, 9000 : 10.1.0.3 . 9000 }; }
  chain output { type nat hook output priority -100; policy accept;
    fib daddr type local dnat ip to ip daddr . tcp dport map @host_ports
    fib daddr type local dnat ip to tcp dport map @any_ports
  }
  chain postrouting { type nat hook postrouting priority 100; policy accept;
    oifname "gtab12*" ip saddr 127.0.0.0/8 masquerade
  }
  chain prerouting { type filter hook prerouting priority -300; policy accept;
    iifname "gtab12*" ip daddr 127.0.0.0/8 drop
  }
}
`);
    assert.match(dnatTableScript('t', 'gt', []), /map host_ports \{ type ipv4_addr \. inet_service : ipv4_addr \. inet_service; \}/);
  });

  test('only IPv4 TCP gets DNAT', () => {
    assert.equal(dnatApplies('tcp', '', '10.0.0.2'), true);
    assert.equal(dnatApplies('tcp', '127.0.0.1', '10.0.0.2'), true);
    assert.equal(dnatApplies('udp', '', '10.0.0.2'), false);
    assert.equal(dnatApplies('tcp', '::1', '10.0.0.2'), false);
  });

  test('open connections DNATed to a container, from the conntrack table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-ct-'));
    try {
      const f = join(dir, 'nf_conntrack');
      writeFileSync(f, [
        // DNATed, open
        'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=50000 dport=8080 src=10.1.0.2 dst=10.1.0.1 sport=80 dport=50000 [ASSURED] mark=0 zone=0 use=2',
        // DNATed, closed
        'ipv4     2 tcp      6 100 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=50001 dport=8080 src=10.1.0.2 dst=10.1.0.1 sport=80 dport=50001 [ASSURED] mark=0 zone=0 use=2',
        // direct to the container, not through the published port
        'ipv4     2 tcp      6 431999 ESTABLISHED src=10.1.0.1 dst=10.1.0.2 sport=50002 dport=80 src=10.1.0.2 dst=10.1.0.1 sport=80 dport=50002 [ASSURED] mark=0 zone=0 use=2',
        // another container port
        'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=50003 dport=8081 src=10.1.0.2 dst=10.1.0.1 sport=81 dport=50003 [ASSURED] mark=0 zone=0 use=2',
        // another container (10.1.0.20 must not count as 10.1.0.2)
        'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=50004 dport=8080 src=10.1.0.20 dst=10.1.0.1 sport=80 dport=50004 [ASSURED] mark=0 zone=0 use=2',
        '',
      ].join('\n'));
      assert.equal(dnatConnectionsTo('10.1.0.2', 80, f), 1);
      assert.equal(dnatConnectionsTo('10.1.0.2', 81, f), 1);
      assert.equal(dnatConnectionsTo('10.1.0.9', 80, join(dir, 'missing')), 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
