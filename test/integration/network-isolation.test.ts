// What a container can do to the host's network and what the host's firewall can do to containers:
// - IPv6 is off (issue 9 item 10): no IPv6 address in a container, and our bridges and veth host ends neither
//   take router advertisements nor have a link-local address; the host's own all/default settings stay as they were.
// - On a host where Docker runs (br_netfilter on, FORWARD policy DROP), two containers on one user network still
//   talk TCP (item 11). That proof runs a daemon inside a private network namespace of the test's own, with the
//   DROP policy set there only (never on the host).
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { requires } from '../helpers/privileged.js';
import { TestDaemon, eventually } from '../helpers/daemon.js';
import { listLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { withDaemon } from './networking-daemon.js';

const ipv6Conf = (ifName: string, key: string): string => readFileSync(`/proc/sys/net/ipv6/conf/${ifName}/${key}`, 'utf8').trim();
const hostIPv6 = (): string[] => ['all', 'default'].flatMap((n) => ['disable_ipv6', 'accept_ra'].map((k) => `${n}.${k}=${ipv6Conf(n, k)}`));

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('network isolation (root)', () => {
  test('IPv6 is off: no IPv6 address in containers, no router advertisements taken on our bridge and veths', async (t) => {
    if (!existsSync('/proc/sys/net/ipv6')) {
      if (!requires(t, 'root')) return;
      t.skip('the kernel has no IPv6: nothing to turn off');
      return;
    }
    const hostBefore = hostIPv6();
    await withDaemon(t, async ({ d, network }) => {
      network('v4only');
      d.ok(['run', '-d', '--name', 'v6a', '--network', 'v4only', 'busybox', 'sleep', '300']);
      assert.equal(d.ok(['exec', 'v6a', 'cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6']).trim(), '1');
      assert.equal(d.ok(['exec', 'v6a', 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6']).trim(), '1');
      assert.equal(d.ok(['exec', 'v6a', 'ip', '-6', 'addr']).trim(), '', 'a container has no IPv6 address (not even ::1 or fe80::)');
      assert.match(d.ok(['exec', 'v6a', 'ip', '-4', 'addr', 'show', 'eth0']), /inet \d+\.\d+\.\d+\.\d+\/\d+/, 'IPv4 still works');

      network('v4other');
      d.ok(['network', 'connect', 'v4other', 'v6a']);
      assert.equal(d.ok(['exec', 'v6a', 'cat', '/proc/sys/net/ipv6/conf/eth1/disable_ipv6']).trim(), '1', 'a link connected later is born with IPv6 off');
      assert.equal(d.ok(['exec', 'v6a', 'ip', '-6', 'addr']).trim(), '', 'still no IPv6 address after network connect');

      const links = listLinks(linkPrefixFor(d.prefix));
      const bridge = links.find((l) => l.kind === 'bridge');
      assert.ok(bridge !== undefined && links.filter((l) => l.kind === 'veth').length === 2, `our links: ${links.map((l) => l.name).join(', ')}`);
      for (const l of links) {
        assert.equal(ipv6Conf(l.name, 'accept_ra'), '0', `${l.kind} ${l.name} takes no router advertisements`);
        assert.equal(ipv6Conf(l.name, 'disable_ipv6'), '1', `${l.kind} ${l.name} has IPv6 off`);
      }
      const hostAddrs = sh('ip', ['-6', 'addr', 'show', 'dev', bridge.name]).trim();
      assert.equal(hostAddrs, '', `bridge ${bridge.name} has no IPv6 address`);

      const none = d.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr']);
      assert.equal(none.trim(), '1', '--network none: IPv6 off, no ::1');

      // Docker's override: the user's --sysctl is applied after ours.
      const back = d.ok(['run', '--rm', '--network', 'v4only', '--sysctl', 'net.ipv6.conf.all.disable_ipv6=0', 'busybox', 'sh', '-c',
        'cat /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/eth0/disable_ipv6']);
      assert.deepEqual(back.trim().split(/\s+/), ['0', '0'], '--sysctl net.ipv6.conf.all.disable_ipv6=0 turns IPv6 back on');
    });
    assert.deepEqual(hostIPv6(), hostBefore, "the host's own all/default IPv6 settings are untouched");
  });

  const forwardDrop = 'two containers on one user network talk TCP where FORWARD policy is DROP and br_netfilter is on (a Docker host)';

  test(`${forwardDrop}, in a netns of the test`, {
    todo: 'issue 9 item 11 is not fixed: the bridge attribute nf_call_iptables=0 cannot override net.bridge.bridge-nf-call-iptables=1 (the kernel ORs them); see docs/architecture.md',
  }, async (t) => {
    await dockerLikeNetns(t, () => undefined);
  });

  test(`${forwardDrop}, once the rule the daemon logs is added to DOCKER-USER, in a netns of the test`, async (t) => {
    await dockerLikeNetns(t, (d, inNs, brnf) => {
      const hint = /`(iptables -I DOCKER-USER [^`]+)`/.exec(d.logText);
      if (brnf !== '1') {
        // br_netfilter off: bridged traffic never meets iptables, nothing to allow, nothing said.
        assert.equal(hint, null, `bridge-nf-call-iptables=${brnf}, yet the daemon asks for a rule`);
        return;
      }
      assert.ok(hint !== null, `the daemon says what to allow where bridged traffic meets iptables:\n${d.logText}`);
      inNs(hint[1]!.split(' '));
    });
  });
});

/**
 * Docker's host inside a netns of the test's own (never the host's rules): a daemon started in it, FORWARD policy
 * DROP with a DOCKER-USER chain jumped to first, then `allow` (what a user would add), then two containers on one
 * user network must talk TCP. The netns and everything in it are removed, failure or not.
 */
async function dockerLikeNetns(t: TestContext, allow: (d: TestDaemon, inNs: (cmd: string[]) => string, brnf: string) => void): Promise<void> {
  if (!requires(t, 'root', 'busybox', 'iptables')) return;
  const ns = `gantry-t-iso-${randomBytes(3).toString('hex')}`;
  sh('ip', ['netns', 'add', ns]);
  const inNs = (cmd: string[]): string => sh('ip', ['netns', 'exec', ns, ...cmd]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const d = new TestDaemon('iso', ['nsenter', `--net=/run/netns/${ns}`]);
    try {
      await d.start();
      d.importBusybox();
      const brnf = inNs(['sh', '-c', 'cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent']).trim();
      inNs(['iptables', '-P', 'FORWARD', 'DROP']);
      inNs(['iptables', '-N', 'DOCKER-USER']);
      inNs(['iptables', '-A', 'FORWARD', '-j', 'DOCKER-USER']);
      assert.match(inNs(['iptables', '-S', 'FORWARD']), /-P FORWARD DROP/);
      allow(d, inNs, brnf);
      d.ok(['network', 'create', 'app']);
      d.ok(['run', '-d', '--name', 'web', '--network', 'app', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc']);
      await eventually(() => {
        // busybox timeout execs its command in place and pid 1 of a container ignores SIGTERM: keep sh as pid 1
        // (a second command stops it from exec'ing the first).
        const r = d.gantry(['run', '--rm', '--network', 'app', 'busybox', 'sh', '-c', 'timeout 3 wget -qO- http://web:8080/passwd; exit $?']);
        assert.match(r.stdout, /^root:/m, `wget web:8080 through a bridge with FORWARD DROP (bridge-nf-call-iptables=${brnf}): ${r.stderr}`);
      }, 10_000, 'web answering over TCP');
    } finally {
      await d.dispose();
    }
    const left = inNs(['ip', '-o', 'link']).split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim());
    assert.deepEqual(left, ['lo'], 'no link of the daemon is left in the netns');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}
