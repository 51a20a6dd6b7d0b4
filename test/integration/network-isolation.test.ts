// What a container can do to the host's network and what the host's firewall can do to containers:
// - IPv6 is off (issue 9 item 10): no IPv6 address in a container, and our bridges and veth host ends neither
//   take router advertisements nor have a link-local address; the host's own all/default settings stay as they were.
// - On a host where Docker runs (br_netfilter on, FORWARD policy DROP), two containers on one user network still
//   talk TCP (item 11): the bridge bypass (tc at each host-side veth) carries it around the bridge. That proof runs
//   a daemon inside a private network namespace of the test's own, with the DROP policy set there only (never on
//   the host); the same harness with the bypass off shows the drop is real.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../helpers/privileged.js';
import { TestDaemon, eventually } from '../helpers/daemon.js';
import { listLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { bypassBlockIndex } from '../../src/engine/network/bridge-bypass.js';
import { withRtnl } from '../../src/sys/netlink.js';
import { listBlockFilters } from '../../src/sys/tc.js';
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
      assert.ok(bridge !== undefined && links.filter((l) => l.kind === 'veth').length >= 2, `our links: ${links.map((l) => l.name).join(', ')}`);
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

  test(`${forwardDrop}, in a netns of the test: the bridge bypass carries it, other networks stay apart`, async (t) => {
    await dockerLikeNetns(t, {}, async ({ d, inNs, ns }) => {
      assert.doesNotMatch(d.logText, /DOCKER-USER/, 'no workaround rule is asked for while the bridge bypass is in effect');
      d.ok(['network', 'create', 'app']);
      d.ok(['network', 'create', 'other']);
      d.ok(['network', 'create', '--internal', 'inner']);
      const webId = d.ok(['run', '-d', '--name', 'web', '--network', 'app', '-p', '8080', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc']).trim();
      const webVeth = hostVethOf(d, webId);
      const txBefore = Number(inNs(['cat', `/sys/class/net/${webVeth}/statistics/tx_bytes`]));
      const rxBefore = Number(d.ok(['exec', 'web', 'cat', '/sys/class/net/eth0/statistics/rx_bytes']));
      await eventually(() => assert.match(fetchFrom(d, 'app', 'http://web:8080/passwd'), /^root:/m, 'TCP (and DNS) between two containers of app'), 10_000, 'web answering over TCP');
      assert.ok(Number(inNs(['cat', `/sys/class/net/${webVeth}/statistics/tx_bytes`])) > txBefore, 'the host-side veth of web counts what was sent to it');
      assert.ok(Number(d.ok(['exec', 'web', 'cat', '/sys/class/net/eth0/statistics/rx_bytes'])) > rxBefore, "web's eth0 counts what it received");

      const filters = inNs(['tc', 'filter', 'show', 'block', String(bypassBlockIndex(bridgeOf(d, 'app')))]);
      assert.match(filters, /bpf .*gantry_bypass.* direct-action/, `one bpf filter in the network's block:\n${filters}`);
      const parsed = withRtnl((nl) => listBlockFilters(nl, bypassBlockIndex(bridgeOf(d, 'app'))), `/run/netns/${ns}`);
      assert.deepEqual(parsed.map((f) => [f.kind, f.prio, f.bpfName]), [['bpf', 1, `gantry_bypass_${bridgeOf(d, 'app')}`]], 'the dump parses back');

      // The published port (the proxy on the daemon's side of the netns) still answers.
      const port = (JSON.parse(d.ok(['inspect', 'web'])) as { NetworkSettings: { Ports: Record<string, { HostPort: string }[]> } }[])[0]!.NetworkSettings.Ports['8080/tcp']![0]!.HostPort;
      assert.match(inNs(['timeout', '5', 'busybox', 'wget', '-qO-', `http://127.0.0.1:${port}/passwd`]), /^root:/m, 'published port through the proxy');

      // Another network: neither by name nor by address, even with the FORWARD policy back at ACCEPT.
      const webIp = ipOn(d, 'web', 'app');
      assert.doesNotMatch(fetchFrom(d, 'other', `http://${webIp}:8080/passwd`), /root:/, 'a container on another network cannot reach web (DROP)');
      inNs(['iptables', '-P', 'FORWARD', 'ACCEPT']);
      assert.doesNotMatch(fetchFrom(d, 'other', `http://${webIp}:8080/passwd`), /root:/, 'a container on another network cannot reach web (ACCEPT)');
      inNs(['iptables', '-P', 'FORWARD', 'DROP']);

      // --internal: its containers still reach each other (and nothing else).
      d.ok(['run', '-d', '--name', 'iweb', '--network', 'inner', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc']);
      await eventually(() => assert.match(fetchFrom(d, 'inner', 'http://iweb:8080/passwd'), /^root:/m, 'TCP on an internal network'), 10_000, 'iweb answering');
      assert.doesNotMatch(fetchFrom(d, 'inner', `http://${webIp}:8080/passwd`), /root:/, 'an internal network does not reach app');

      // Through a daemon crash and restart: old peers keep talking, the network's bypass is rebuilt for new ones.
      d.ok(['run', '-d', '--name', 'client', '--network', 'app', 'busybox', 'sleep', '300']);
      const clientPid = (JSON.parse(d.ok(['inspect', 'client'])) as { State: { Pid: number } }[])[0]!.State.Pid;
      const fromClient = (): string => sh('nsenter', [`--net=/proc/${clientPid}/ns/net`, 'timeout', '3', 'busybox', 'wget', '-qO-', `http://${webIp}:8080/passwd`]);
      assert.match(fromClient(), /^root:/m, 'client reaches web');
      await d.crash();
      assert.match(fromClient(), /^root:/m, 'while no daemon runs, client still reaches web');
      await d.start();
      assert.match(fromClient(), /^root:/m, 'after the restart, client still reaches web');
      assert.match(fetchFrom(d, 'app', 'http://web:8080/passwd'), /^root:/m, 'a container started after a daemon restart reaches web');
      const after = inNs(['tc', 'filter', 'show', 'block', String(bypassBlockIndex(bridgeOf(d, 'app')))]);
      assert.equal(after.match(/ handle 0x[0-9a-f]+ gantry_bypass/g)?.length, 1, `still one filter in the block after the restart:\n${after}`);
    });
  });

  test(`${forwardDrop}: with the bypass off, the drop is real and the rule the daemon logs (DOCKER-USER) lifts it; a restart with the bypass adopts the veths`, async (t) => {
    await dockerLikeNetns(t, { GANTRY_BRIDGE_BYPASS: '0' }, async ({ d, inNs }) => {
      const hint = /`(iptables -I DOCKER-USER [^`]+)`/.exec(d.logText);
      assert.ok(hint !== null, `the daemon says what to allow where bridged traffic meets iptables:\n${d.logText}`);
      d.ok(['network', 'create', 'app']);
      d.ok(['run', '-d', '--name', 'web', '--network', 'app', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc']);
      const resolved = d.ok(['run', '--rm', '--network', 'app', 'busybox', 'nslookup', 'web']);
      assert.match(resolved, new RegExp(ipOn(d, 'web', 'app').replaceAll('.', '\\.')), 'DNS on the gateway answers');
      assert.doesNotMatch(fetchFrom(d, 'app', 'http://web:8080/passwd'), /root:/, 'TCP between containers is dropped (the condition of issue 9 item 11 holds)');
      const rule = hint[1]!.split(' ');
      inNs(rule);
      await eventually(() => assert.match(fetchFrom(d, 'app', 'http://web:8080/passwd'), /^root:/m, 'TCP once the rule is added'), 10_000, 'web answering over TCP');
      inNs(rule.map((w) => (w === '-I' ? '-D' : w)));
      assert.doesNotMatch(fetchFrom(d, 'app', 'http://web:8080/passwd'), /root:/, 'dropped again once the rule is gone');

      // A daemon with the bypass restarted over veths made without it (as by an older build): they are adopted.
      await d.crash();
      d.daemonEnv = {};
      const from = d.logText.length;
      await d.start();
      assert.match(d.logText.slice(from), /listening on/);
      assert.doesNotMatch(d.logText.slice(from), /DOCKER-USER/, 'no workaround rule asked for once the bypass is on');
      assert.match(fetchFrom(d, 'app', 'http://web:8080/passwd'), /^root:/m, 'TCP through the bypass to a container started before it was on');
    });
  });
});

/** What a client container on `network` gets from `url` (empty on failure; the timeout keeps a dropped SYN short). */
function fetchFrom(d: TestDaemon, network: string, url: string): string {
  // busybox timeout execs its command in place and pid 1 of a container ignores SIGTERM: keep sh as pid 1
  // (a second command stops it from exec'ing the first).
  return d.gantry(['run', '--rm', '--network', network, 'busybox', 'sh', '-c', `timeout 3 wget -qO- ${url}; exit $?`]).stdout;
}

function ipOn(d: TestDaemon, container: string, network: string): string {
  const info = JSON.parse(d.ok(['inspect', container])) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }[];
  return info[0]!.NetworkSettings.Networks[network]!.IPAddress;
}

function bridgeOf(d: TestDaemon, network: string): string {
  const rec = (JSON.parse(d.ok(['network', 'inspect', network])) as { Id: string }[])[0]!;
  return (JSON.parse(readFileSync(join(d.root, 'networks', `${rec.Id}.json`), 'utf8')) as { bridge: string }).bridge;
}

function hostVethOf(d: TestDaemon, containerId: string): string {
  const state = JSON.parse(readFileSync(join(d.root, 'networks', 'endpoints', `${containerId}.json`), 'utf8')) as { endpoints: { hostIfName: string }[] };
  return state.endpoints[0]!.hostIfName;
}

interface DockerLikeHost {
  d: TestDaemon;
  /** The netns's name (under /run/netns). */
  ns: string;
  inNs: (cmd: string[]) => string;
}

/**
 * Docker's host inside a netns of the test's own (never the host's rules): br_netfilter handing bridged IPv4 to
 * iptables (bridge-nf-call-iptables=1, per netns on this kernel), FORWARD policy DROP with a DOCKER-USER chain jumped
 * to first, and a daemon started in it with `daemonEnv`. Fails (never skips) when br_netfilter is missing: the proof
 * would be vacuous. The netns and everything in it are removed, failure or not.
 */
async function dockerLikeNetns(t: TestContext, daemonEnv: Record<string, string>, body: (h: DockerLikeHost) => Promise<void>): Promise<void> {
  if (!requires(t, 'root', 'busybox', 'iptables')) return;
  const ns = `gantry-t-iso-${randomBytes(3).toString('hex')}`;
  sh('ip', ['netns', 'add', ns]);
  const inNs = (cmd: string[]): string => sh('ip', ['netns', 'exec', ns, ...cmd]);
  try {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const brnf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    if (spawnSync('ip', ['netns', 'exec', ns, 'test', '-e', brnf]).status !== 0) spawnSync('modprobe', ['br_netfilter']);
    const loaded = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', `echo 1 > ${brnf} && cat ${brnf}`], { encoding: 'utf8' });
    assert.equal(loaded.stdout.trim(), '1', `br_netfilter is not loaded and \`modprobe br_netfilter\` did not load it (${loaded.stderr.trim()}): without it this test proves nothing`);
    inNs(['iptables', '-P', 'FORWARD', 'DROP']);
    inNs(['iptables', '-N', 'DOCKER-USER']);
    inNs(['iptables', '-A', 'FORWARD', '-j', 'DOCKER-USER']);
    assert.match(inNs(['iptables', '-S', 'FORWARD']), /-P FORWARD DROP/);
    const d = new TestDaemon('iso', ['nsenter', `--net=/run/netns/${ns}`], daemonEnv);
    try {
      await d.start();
      d.importBusybox();
      await body({ d, inNs, ns });
    } finally {
      await d.dispose();
    }
    const left = inNs(['ip', '-o', 'link']).split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim());
    assert.deepEqual(left, ['lo'], 'no link of the daemon is left in the netns');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}
