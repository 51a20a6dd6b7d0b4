// Bridges and veths against the real kernel: network namespaces stand in for containers. Everything made
// here carries a random test prefix and is removed in after(); the last check is that nothing is left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { skipReason } from '../helpers/privileged.js';
import {
  attachContainer, bridgeIfName, bringUpLoopback, createBridge, deleteBridge, detachContainer, hostRouteSubnets,
  isolatePort, listLinks, removeStaleLinks, vethIfName,
} from '../../src/engine/network/bridge.js';
import { allocateAddress, planNetworkAddressing, type NetworkAddressing } from '../../src/engine/network/ipam.js';
import { GantryError } from '../../src/common/errors.js';

const skip = skipReason('root', 'busybox');
const prefix = `gb${randomBytes(2).toString('hex')}`;

type Netns = ChildProcess & { pid: number };
const namespaces: Netns[] = [];

async function startNetns(): Promise<Netns> {
  const child = spawn('unshare', ['--net', 'sleep', '300'], { stdio: 'ignore' });
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (child.pid !== undefined && readlinkSync(`/proc/${child.pid}/ns/net`) !== self) {
        namespaces.push(child as Netns);
        return child as Netns;
      }
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  throw new Error('unshare --net did not start');
}

async function stopNetns(ns: Netns): Promise<void> {
  if (ns.exitCode !== null || ns.signalCode !== null) return;
  const gone = new Promise((r) => ns.once('exit', r));
  ns.kill('SIGKILL');
  await gone;
}

const inNs = (ns: Netns, ...cmd: string[]): string =>
  execFileSync('nsenter', [`--net=/proc/${ns.pid}/ns/net`, ...cmd], { encoding: 'utf8', timeout: 10_000 });
const canPing = (ns: Netns, ip: string): boolean =>
  spawnSync('nsenter', [`--net=/proc/${ns.pid}/ns/net`, '/bin/busybox', 'ping', '-c', '1', '-W', '1', ip], { timeout: 5000 }).status === 0;

/** Free /24s for the test, chosen like the daemon does: away from every host route. */
function testNetworks(n: number): NetworkAddressing[] {
  const base = 100 + Math.floor(Math.random() * 100);
  const pool = Array.from({ length: 50 }, (_, i) => `10.213.${base + i}.0/24`);
  const routes = hostRouteSubnets();
  const out: NetworkAddressing[] = [];
  for (let i = 0; i < n; i++) {
    out.push(planNetworkAddressing({}, { networks: out.map((a, k) => ({ name: `t${k}`, subnet: a.subnet })), hostRoutes: routes, pool }));
  }
  return out;
}

describe('bridge networks (root)', { skip }, () => {
  let netA: NetworkAddressing;
  let netB: NetworkAddressing;
  const brA = bridgeIfName(prefix, 'aaaaaa');
  const brB = bridgeIfName(prefix, 'bbbbbb');
  let c1: Netns;
  let c2: Netns;
  let c3: Netns;

  before(async () => {
    [netA, netB] = testNetworks(2) as [NetworkAddressing, NetworkAddressing];
    [c1, c2, c3] = await Promise.all([startNetns(), startNetns(), startNetns()]);
  });

  after(async () => {
    await Promise.all(namespaces.map(stopNetns));
    removeStaleLinks(prefix, new Set());
    assert.deepEqual(listLinks(prefix).map((l) => l.name), [], 'no link with the test prefix is left');
    assert.ok(!execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).includes(prefix));
  });

  test('interface names carry the prefix and fit in 15 characters', () => {
    assert.equal(brA, `${prefix}br-aaaaaa`);
    assert.ok(brA.length <= 15);
    const v = vethIfName(prefix, 'f'.repeat(64), 'net1');
    assert.match(v, new RegExp(`^${prefix}v[0-9a-f]{8}$`));
    assert.notEqual(v, vethIfName(prefix, 'f'.repeat(64), 'net2'));
    assert.throws(() => vethIfName('waytoolongprefix', 'x'), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT');
  });

  test('createBridge: up, with the gateway address, forwarding off, idempotent', () => {
    const made = createBridge({ name: brA, subnet: netA.subnet, gateway: netA.gateway });
    assert.equal(made.created, true);
    const addr = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', brA], { encoding: 'utf8' });
    assert.match(addr, new RegExp(`inet ${netA.gateway.replace(/\./g, '\\.')}/24`));
    assert.match(execFileSync('ip', ['-o', 'link', 'show', brA], { encoding: 'utf8' }), /[<,]UP[,>]/);
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${brA}/forwarding`, 'utf8').trim(), '0');
    const again = createBridge({ name: brA, subnet: netA.subnet, gateway: netA.gateway });
    assert.equal(again.created, false);
    assert.equal(again.index, made.index);
    assert.equal(execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', brA], { encoding: 'utf8' }).trim().split('\n').length, 1);
    createBridge({ name: brB, subnet: netB.subnet, gateway: netB.gateway, internal: true });
    assert.ok(hostRouteSubnets().includes(netA.subnet), 'the bridge subnet is now a host route');
    assert.ok(!hostRouteSubnets(prefix).includes(netA.subnet), 'unless our own bridges are excluded');
    assert.throws(() => planNetworkAddressing({ subnet: netA.subnet }, { networks: [], hostRoutes: hostRouteSubnets() }), { code: 'SUBNET_OVERLAP' });
  });

  test('attachContainer: eth0 with its address, default route, lo up; reaches the gateway', async () => {
    const ip1 = allocateAddress(netA.subnet, { gateway: netA.gateway, inUse: [] });
    const att = attachContainer({
      bridge: brA, netns: c1.pid, ifName: 'eth0', hostIfName: vethIfName(prefix, 'c1', 'a'),
      address: ip1, prefixLen: netA.prefixLen, gateway: netA.gateway, defaultRoute: true,
    });
    assert.equal(att.ifName, 'eth0');
    assert.match(inNs(c1, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'), new RegExp(`inet ${ip1}/24`));
    assert.match(inNs(c1, 'ip', 'route'), new RegExp(`default via ${netA.gateway} dev eth0`));
    assert.match(inNs(c1, 'ip', '-o', 'link', 'show', 'lo'), /[<,]UP[,>]/);
    assert.match(execFileSync('ip', ['-o', 'link', 'show', att.hostIfName], { encoding: 'utf8' }), new RegExp(`master ${brA}`));
    assert.ok(canPing(c1, netA.gateway), 'ping the gateway');
    assert.ok(canPing(c1, '127.0.0.1'), 'loopback works inside');

    // a TCP server on the gateway address answers a client inside the netns
    const server: Server = createServer((s) => {
      s.once('data', (d: Buffer) => s.end(`host got ${d.toString().trim()}`));
    });
    await new Promise<void>((r) => server.listen(0, netA.gateway, r));
    try {
      const port = String((server.address() as { port: number }).port);
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn('nsenter', [`--net=/proc/${c1.pid}/ns/net`, '/bin/busybox', 'nc', '-w', '3', netA.gateway, port]);
        let text = '';
        p.stdout.on('data', (d: Buffer) => (text += d.toString()));
        p.on('error', reject);
        p.on('exit', () => resolve(text));
        p.stdin.end('hello\n');
      });
      assert.equal(out, 'host got hello');
    } finally {
      server.close();
    }
  });

  test('two containers on one bridge reach each other; another network is unreachable', () => {
    const inUse = [inNs(c1, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0').match(/inet ([\d.]+)/)?.[1] ?? ''];
    const ip2 = allocateAddress(netA.subnet, { gateway: netA.gateway, inUse });
    assert.notEqual(ip2, inUse[0]);
    attachContainer({
      bridge: brA, netns: c2.pid, ifName: 'eth0', hostIfName: vethIfName(prefix, 'c2', 'a'),
      address: ip2, prefixLen: netA.prefixLen, gateway: netA.gateway, defaultRoute: true,
    });
    assert.ok(canPing(c2, inUse[0] ?? ''), 'c2 → c1 on the same bridge');

    // c3 on the internal network B: no default route, cannot reach network A; A cannot reach it either
    const ip3 = allocateAddress(netB.subnet, { gateway: netB.gateway, inUse: [] });
    attachContainer({
      bridge: brB, netns: c3.pid, ifName: 'eth0', hostIfName: vethIfName(prefix, 'c3', 'b'),
      address: ip3, prefixLen: netB.prefixLen, gateway: netB.gateway, defaultRoute: false,
    });
    assert.doesNotMatch(inNs(c3, 'ip', 'route'), /default/);
    assert.ok(canPing(c3, netB.gateway), 'internal network still reaches its gateway');
    assert.ok(!canPing(c3, ip2), 'internal container cannot reach network A');
    assert.ok(!canPing(c1, ip3), 'network A cannot reach the container on network B through the host');
  });

  test('an isolated port: its live namespace answers nothing; its address on a new veth answers at once', async () => {
    const c1ip = inNs(c1, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0').match(/inet ([\d.]+)/)?.[1] ?? '';
    const c2ip = inNs(c2, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0').match(/inet ([\d.]+)/)?.[1] ?? '';
    const held = await startNetns();
    const ip = allocateAddress(netA.subnet, { gateway: netA.gateway, inUse: [c1ip, c2ip] });
    const heldHost = vethIfName(prefix, 'held', 'a');
    attachContainer({ bridge: brA, netns: held.pid, ifName: 'eth0', hostIfName: heldHost, address: ip, prefixLen: netA.prefixLen, gateway: netA.gateway, defaultRoute: true });
    assert.ok(canPing(c1, ip), 'reachable before');
    assert.ok(canPing(held, netA.gateway), 'and reaches the gateway (the bridge has learned it)');
    assert.equal(isolatePort(heldHost), true);
    const brport = (attr: string): string => readFileSync(`/sys/class/net/${heldHost}/brport/${attr}`, 'utf8').trim();
    assert.deepEqual(['learning', 'unicast_flood', 'multicast_flood', 'broadcast_flood'].map(brport), ['0', '0', '0', '0']);
    // its namespace lives on, eth0 up with the address: neither another container nor the host gets an answer
    assert.ok(!canPing(c1, ip), 'no answer from another container on the bridge');
    assert.ok(!canPing(c2, ip), 'nor from a second one');
    assert.notEqual(spawnSync('ping', ['-c', '1', '-W', '1', ip], { timeout: 5000 }).status, 0, 'nor from the host');
    // the same address (and so the same MAC) on a new veth, the isolated one still there: reachable at once
    const again = await startNetns();
    const againHost = vethIfName(prefix, 'again', 'a');
    attachContainer({ bridge: brA, netns: again.pid, ifName: 'eth0', hostIfName: againHost, address: ip, prefixLen: netA.prefixLen, gateway: netA.gateway, defaultRoute: true });
    assert.ok(listLinks(prefix).some((l) => l.name === heldHost), 'the isolated veth is still there');
    assert.ok(canPing(c1, ip), 'the new holder of the address answers');
    assert.equal(detachContainer(againHost), true);
    assert.equal(detachContainer(heldHost), true);
    assert.equal(isolatePort(heldHost), false, 'a veth that is gone: nothing to isolate');
    await Promise.all([stopNetns(held), stopNetns(again)]);
  });

  test('a second network on a running container: eth1, no second default route', () => {
    const ip = allocateAddress(netB.subnet, { gateway: netB.gateway, inUse: [inNs(c3, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0').match(/inet ([\d.]+)/)?.[1] ?? ''] });
    const host = vethIfName(prefix, 'c1', 'b');
    attachContainer({ bridge: brB, netns: c1.pid, ifName: 'eth1', hostIfName: host, address: ip, prefixLen: 24, gateway: netB.gateway, defaultRoute: false });
    assert.match(inNs(c1, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth1'), new RegExp(`inet ${ip}/24`));
    assert.equal(inNs(c1, 'ip', 'route').split('\n').filter((l) => l.startsWith('default')).length, 1);
    // network disconnect
    assert.equal(detachContainer(host), true);
    assert.throws(() => inNs(c1, 'ip', 'link', 'show', 'eth1'));
    assert.equal(detachContainer(host), false, 'detaching twice is a no-op');
  });

  test('failures leave nothing half-made', () => {
    const before = listLinks(prefix).map((l) => l.name).sort();
    // eth0 already exists in c1
    const h1 = vethIfName(prefix, 'dup', 'a');
    assert.throws(() => attachContainer({ bridge: brA, netns: c1.pid, ifName: 'eth0', hostIfName: h1, address: '10.213.250.9', prefixLen: 24, defaultRoute: false }),
      (e: unknown) => e instanceof GantryError && e.message.includes('EEXIST'));
    // the bridge does not exist
    const h2 = vethIfName(prefix, 'nobr', 'a');
    assert.throws(() => attachContainer({ bridge: `${prefix}br-none00`, netns: c2.pid, ifName: 'eth5', hostIfName: h2, address: '10.213.250.9', prefixLen: 24, defaultRoute: false }),
      (e: unknown) => e instanceof GantryError && e.message.includes('ENODEV'));
    // the address step fails after the pair exists (a /33 is refused by the kernel)
    const h3 = vethIfName(prefix, 'badaddr', 'a');
    assert.throws(() => attachContainer({ bridge: brA, netns: c2.pid, ifName: 'eth6', hostIfName: h3, address: '10.213.250.9', prefixLen: 33, defaultRoute: false }));
    assert.throws(() => inNs(c2, 'ip', 'link', 'show', 'eth6'));
    // a netns that does not exist
    assert.throws(() => attachContainer({ bridge: brA, netns: 999_999_999, ifName: 'eth0', hostIfName: h2, address: '10.213.250.9', prefixLen: 24, defaultRoute: false }),
      (e: unknown) => e instanceof GantryError && e.message.includes('ENOENT'));
    assert.deepEqual(listLinks(prefix).map((l) => l.name).sort(), before);
    // a bridge whose address is refused is deleted again
    assert.throws(() => createBridge({ name: `${prefix}br-bad000`, subnet: '10.213.251.0/24', gateway: '10.213.251.300' }));
    assert.deepEqual(listLinks(prefix).map((l) => l.name).sort(), before);
  });

  test('--network none: loopback only', async () => {
    const ns = await startNetns();
    bringUpLoopback(ns.pid);
    assert.match(inNs(ns, 'ip', '-o', 'link'), /lo: <LOOPBACK,UP/);
    assert.ok(canPing(ns, '127.0.0.1'));
  });

  test('a container that dies takes its veth along; stale links are removed on restart', async () => {
    const host2 = vethIfName(prefix, 'c2', 'a');
    assert.ok(listLinks(prefix).some((l) => l.name === host2));
    await stopNetns(c2);
    for (let i = 0; i < 100 && listLinks(prefix).some((l) => l.name === host2); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!listLinks(prefix).some((l) => l.name === host2), 'the kernel removed the pair with the netns');
    assert.equal(detachContainer(host2), false);

    // "restart": network A and c1 are still wanted, everything else with the prefix goes
    const keep = new Set([brA, vethIfName(prefix, 'c1', 'a')]);
    const removed = removeStaleLinks(prefix, keep).sort();
    assert.deepEqual(removed, [brB, vethIfName(prefix, 'c3', 'b')].sort());
    assert.deepEqual(listLinks(prefix).map((l) => l.name).sort(), [...keep].sort());
    assert.ok(canPing(c1, netA.gateway), 'the kept container still works');
  });

  test('deleteBridge removes the bridge, and only once', () => {
    assert.equal(detachContainer(vethIfName(prefix, 'c1', 'a')), true);
    assert.equal(deleteBridge(brA), true);
    assert.equal(deleteBridge(brA), false);
    assert.deepEqual(listLinks(prefix), []);
  });
});
