// A force-removed container's address on a bridge network, as a user on that network sees it: once `rm -f` has
// answered, nothing answers for it (neither ARP nor ping) — its namespace may outlive the answer a moment (its shim
// holds it in the teardown gate), its veth must not — the same address can be given to a new container at once and
// that one is reachable, and `network rm` right after works; a daemon killed with a removed container's veth still
// there (its namespace held by another process) leaves it to the next start's sweep. withDaemon asserts that no
// link is left.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { listLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { eventually } from '../helpers/daemon.js';
import { withDaemon } from './networking-daemon.js';

const SUBNET = '10.242.7';
const TARGETS = [10, 11, 12, 13, 14, 15].map((n) => `${SUBNET}.${n}`);

/** A shell line run in `peer`: prints `IP ping` / `IP arp` for every address that answered, nothing otherwise. */
const probe = (ips: readonly string[]): string =>
  ips.map((ip) => `(ping -c 1 -W 1 ${ip} >/dev/null 2>&1 && echo "${ip} ping") & (arping -c 1 -w 1 -I eth0 ${ip} >/dev/null 2>&1 && echo "${ip} arp") &`)
    .join(' ') + ' wait';

describe('removal on a bridge network (root)', () => {
  test('a removed address answers nothing; given again at once, it is reachable; network rm right after works', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      network('rmnet', '--subnet', `${SUBNET}.0/24`);
      d.ok(['run', '-d', '--network', 'rmnet', '--name', 'peer', 'busybox', 'sleep', '300']);
      const old = TARGETS.map((ip, i) => d.ok(['run', '-d', '--network', 'rmnet', '--ip', ip, '--name', `old${i}`, 'busybox', 'sleep', '300']).trim());
      // the peer has talked to each (its ARP cache, the bridge's fdb and the bypass know them)
      const before = d.ok(['exec', 'peer', 'sh', '-c', probe(TARGETS)]).trim().split('\n').sort();
      assert.deepEqual(before, TARGETS.flatMap((ip) => [`${ip} arp`, `${ip} ping`]).sort(), 'every target answers before the removal');

      // one command for all of them: the first ones' namespaces may still be held while the last are removed
      d.ok(['rm', '-f', ...old]);
      assert.equal(d.ok(['exec', 'peer', 'sh', '-c', probe(TARGETS)]).trim(), '', 'a removed container\'s address answers nothing');

      // the same addresses at once, reachable from the peer
      for (const [i, ip] of TARGETS.entries()) d.ok(['run', '-d', '--network', 'rmnet', '--ip', ip, '--name', `new${i}`, 'busybox', 'sleep', '300']);
      const after = d.ok(['exec', 'peer', 'sh', '-c', probe(TARGETS)]).trim().split('\n').sort();
      assert.deepEqual(after, TARGETS.flatMap((ip) => [`${ip} arp`, `${ip} ping`]).sort(), 'the new containers answer at the same addresses');

      // network rm right after rm -f: no endpoint left in the way
      d.ok(['rm', '-f', 'peer', ...TARGETS.map((_, i) => `new${i}`)]);
      d.ok(['network', 'rm', 'rmnet']);
      assert.doesNotMatch(d.ok(['network', 'ls']), /rmnet/);
    });
  });

  test('a daemon killed right after rm -f: a veth whose namespace another process holds goes with the next start', async (t) => {
    // without the netns pool: its idle veth would come and go beside the ones counted here
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('rmcrash', '--subnet', `${SUBNET.replace(/\.7$/, '.8')}.0/24`);
      d.ok(['run', '-d', '--network', 'rmcrash', '--name', 'keep', 'busybox', 'sleep', '300']);
      const id = d.ok(['run', '-d', '--network', 'rmcrash', '--name', 'gone', 'busybox', 'sleep', '300']).trim();
      const veths = (): string[] => listLinks(linkPrefixFor(d.prefix)).filter((l) => l.kind === 'veth').map((l) => l.name).sort();
      const before = veths();
      assert.equal(before.length, 2, `two containers, two veths: ${before.join(', ')}`);
      // another process holds the namespace: the veth outlives the container until it is deleted
      const ns = openSync(`/proc/${inspect(id).State.Pid}/ns/net`, 'r');
      try {
        d.ok(['rm', '-f', id]);
        await d.crash(); // at once: the removal's veth may still wait in the teardown gate, or be gone already
        await d.start();
        await eventually(() => assert.equal(veths().length, 1, `only the kept container's veth: ${veths().join(', ')}`), 10_000, 'the removed container\'s veth swept');
        assert.match(d.ok(['exec', 'keep', 'ping', '-c', '1', '-W', '2', `${SUBNET.replace(/\.7$/, '.8')}.1`]), /1 packets received/, 'the kept container still reaches its gateway');
      } finally {
        closeSync(ns);
      }
    }, { daemonEnv: { GANTRY_NETNS_POOL: '0' } });
  });
});
