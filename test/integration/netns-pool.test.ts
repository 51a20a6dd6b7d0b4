// Network namespaces made ahead of starts (src/engine/network/netns-pool.ts): a container started on one sees
// exactly what one started on its own namespace sees, and the pool's idle veths go with `network rm` and with the
// daemon, killed or not (withDaemon asserts that no link of the daemon's prefix is left).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { listLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { eventually } from '../helpers/daemon.js';
import { withDaemon } from './networking-daemon.js';

const SHOW = 'ip -4 addr show eth0 | grep -o "inet [0-9./]*"; ip route | grep -c "^default via"; '
  + 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr | wc -l; ls /sys/class/net | tr "\\n" " "';

describe('netns pool (root)', () => {
  test('a start on a namespace made ahead looks like one on its own; idle veths go with network rm', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      const pooled = (): string[] => listLinks(`${linkPrefixFor(d.prefix)}p`).map((l) => l.name);
      // pooled links plugged into a user network's bridge (`<prefix>br-…`; the default one is `<prefix>0`)
      const onUserNetwork = (): string[] => {
        const links = listLinks(linkPrefixFor(d.prefix));
        const names = new Map(links.map((l) => [l.index, l.name]));
        return links.filter((l) => l.name.startsWith(`${linkPrefixFor(d.prefix)}p`) && (names.get(l.master ?? -1) ?? '').includes('br-')).map((l) => l.name);
      };

      // the default bridge: the first start makes the bridge, the second asks the pool, which fills once idle
      const first = d.ok(['run', '--rm', 'busybox', 'sh', '-c', SHOW]);
      d.ok(['run', '--rm', 'busybox', 'true']);
      const idle = await eventually(() => { const p = pooled(); assert.equal(p.length, 1, `pooled links: ${p.join(', ')}`); return p[0]!; }, 10_000, 'a veth made ahead');
      const taken = d.ok(['run', '--rm', 'busybox', 'sh', '-c', SHOW]);
      const shape = (out: string): string => out.replace(/inet [0-9.]+/, 'inet ADDR');
      assert.equal(shape(taken), shape(first), 'the same view as a start on its own namespace');
      assert.match(taken, /^inet 172\.\d+\.\d+\.\d+\/16\n1\n1\n0\neth0 lo $/, 'an address, a default route, IPv6 off (no ::1) and eth0 + lo');
      await eventually(() => assert.ok(!pooled().includes(idle), `${idle} was taken, and went with its container`), 10_000, 'the taken veth gone');

      // --network none: only lo, IPv6 off
      for (let i = 0; i < 3; i++) {
        assert.equal(d.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr | wc -l; ls /sys/class/net']), '1\n0\nlo\n');
      }

      // a user network: its idle veth is plugged into its own bridge, and goes with it
      network('pooled', '--subnet', '10.241.0.0/24');
      d.ok(['run', '--rm', '--network', 'pooled', 'busybox', 'true']);
      d.ok(['run', '--rm', '--network', 'pooled', 'busybox', 'true']);
      const onNet = await eventually(() => {
        const p = onUserNetwork();
        assert.equal(p.length, 1, `pooled links on the user network: ${pooled().join(', ')}`);
        return p[0]!;
      }, 10_000, 'a veth made ahead on the user network');
      const out = d.ok(['run', '--rm', '--network', 'pooled', 'busybox', 'sh', '-c', SHOW]);
      assert.match(out, /^inet 10\.241\.0\.\d+\/24\n1\n1\n0\neth0 lo $/);
      const refilled = await eventually(() => { const p = onUserNetwork(); assert.ok(p.length === 1 && p[0] !== onNet, `refilled: ${p.join(', ')}`); return p[0]!; }, 10_000, 'refilled');
      d.ok(['network', 'rm', 'pooled']);
      await eventually(() => assert.ok(!pooled().includes(refilled), 'the user network\'s idle veth gone with it'), 10_000, 'idle veth gone');

      // a daemon killed with -9: its idle veth goes (with its namespace, or with the next daemon's sweep)
      d.ok(['run', '--rm', 'busybox', 'true']);
      const before = await eventually(() => { const p = pooled(); assert.equal(p.length, 1, `pooled: ${p.join(', ')}`); return p[0]!; }, 10_000, 'an idle veth');
      await d.crash();
      await d.start();
      await eventually(() => assert.ok(!pooled().includes(before), `${before} left by the killed daemon`), 10_000, 'the killed daemon\'s idle veth gone');
      assert.match(d.ok(['run', '--rm', 'busybox', 'sh', '-c', SHOW]), /^inet 172\.\d+\.\d+\.\d+\/16\n1\n1\n0\neth0 lo $/);
    });
  });
});
