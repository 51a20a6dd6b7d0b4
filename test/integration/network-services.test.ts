// Published ports and DNS by name, against servers and clients inside network namespaces the test makes.
// Traffic stays on this machine: loopback, and addresses of the namespaces created here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { skipReason } from '../helpers/privileged.js';
import {
  attachContainer, bridgeIfName, createBridge, hostRouteSubnets, listLinks, removeStaleLinks, vethIfName,
} from '../../src/engine/network/bridge.js';
import { allocateAddress, planNetworkAddressing, type NetworkAddressing } from '../../src/engine/network/ipam.js';
import { startPortProxies, startPortProxy, type PortProxy } from '../../src/engine/network/port-proxy.js';
import { parsePortSpecs } from '../../src/engine/network/ports.js';
import { DnsTable, startDnsServer, type DnsServer } from '../../src/engine/network/dns.js';
import { aRecord, decodeDnsMessage, encodeDnsMessage, responseTo } from '../../src/engine/network/dns-message.js';

const skip = skipReason('root', 'busybox');
const prefix = `gs${randomBytes(2).toString('hex')}`;
type Netns = ChildProcess & { pid: number };
const children: ChildProcess[] = [];

async function startNetns(): Promise<Netns> {
  const child = spawn('unshare', ['--net', 'sleep', '300'], { stdio: 'ignore' });
  children.push(child);
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (child.pid !== undefined && readlinkSync(`/proc/${child.pid}/ns/net`) !== self) return child as Netns;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unshare --net did not start');
}

/** Echo servers inside the netns: TCP 7000 and UDP 7001 (node, so no tool differences matter). */
async function startEchoServers(ns: Netns): Promise<void> {
  const code = `
    const net = require('net'), dgram = require('dgram');
    let ready = 0; const up = () => { if (++ready === 2) console.log('ready'); };
    net.createServer({ allowHalfOpen: true }, (s) => { s.write('tcp:'); s.pipe(s); }).listen(7000, '0.0.0.0', up);
    const u = dgram.createSocket('udp4');
    u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('udp:'), m]), r.port, r.address));
    u.bind(7001, '0.0.0.0', up);
    setTimeout(() => process.exit(0), 120000);`;
  const p = spawn('nsenter', [`--net=/proc/${ns.pid}/ns/net`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  await new Promise<void>((resolve, reject) => {
    p.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    p.on('exit', () => reject(new Error('echo servers exited')));
  });
}

function tcpAsk(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true });
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('end', () => {
      s.end();
      resolve(out);
    });
    s.on('error', reject);
    s.end(text);
  });
}

function udpAsk(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no UDP reply'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send(text, port, host);
  });
}

/** Run a command in the netns without blocking the event loop (the servers under test live in this process). */
function inNs(ns: Netns, input: string, ...cmd: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('nsenter', [`--net=/proc/${ns.pid}/ns/net`, ...cmd], { timeout: 10_000 });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, out }));
    p.stdin.end(input);
  });
}

describe('published ports and DNS (root)', { skip }, () => {
  let net: NetworkAddressing;
  let other: NetworkAddressing;
  const br = bridgeIfName(prefix, 'a00001');
  const brOther = bridgeIfName(prefix, 'b00002');
  let server: Netns; // "container" with the echo servers
  let client: Netns; // another container on the same network
  let stranger: Netns; // a container on another network
  let serverIp = '';
  let clientIp = '';

  before(async () => {
    const routes = hostRouteSubnets();
    const base = 100 + Math.floor(Math.random() * 100);
    const pool = Array.from({ length: 50 }, (_, i) => `10.214.${base + i}.0/24`);
    net = planNetworkAddressing({}, { networks: [], hostRoutes: routes, pool });
    other = planNetworkAddressing({}, { networks: [{ name: 'net', subnet: net.subnet }], hostRoutes: routes, pool });
    [server, client, stranger] = await Promise.all([startNetns(), startNetns(), startNetns()]);
    createBridge({ name: br, subnet: net.subnet, gateway: net.gateway });
    createBridge({ name: brOther, subnet: other.subnet, gateway: other.gateway });
    serverIp = allocateAddress(net.subnet, { gateway: net.gateway, inUse: [] });
    clientIp = allocateAddress(net.subnet, { gateway: net.gateway, inUse: [serverIp] });
    const strangerIp = allocateAddress(other.subnet, { gateway: other.gateway, inUse: [] });
    for (const [ns, ip, n, b, id] of [[server, serverIp, net, br, 's'], [client, clientIp, net, br, 'c'], [stranger, strangerIp, other, brOther, 'x']] as const) {
      attachContainer({ bridge: b, netns: ns.pid, ifName: 'eth0', hostIfName: vethIfName(prefix, id), address: ip, prefixLen: n.prefixLen, gateway: n.gateway, defaultRoute: true });
    }
    await startEchoServers(server);
  });

  after(async () => {
    await Promise.all(children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }));
    removeStaleLinks(prefix, new Set());
    assert.deepEqual(listLinks(prefix).map((l) => l.name), []);
    assert.ok(!execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).includes(prefix));
  });

  test('-p 127.0.0.1::7000 and 127.0.0.1::7001/udp: reachable from loopback, TCP and UDP', async () => {
    const proxies = await startPortProxies(parsePortSpecs(['127.0.0.1::7000', '127.0.0.1::7001/udp']), serverIp);
    try {
      const [tcp, udp] = proxies as [PortProxy, PortProxy];
      assert.equal(await tcpAsk('127.0.0.1', tcp.hostPort, 'hello'), 'tcp:hello');
      assert.equal(await udpAsk('127.0.0.1', udp.hostPort, 'ping'), 'udp:ping');
      assert.equal(await udpAsk('127.0.0.1', udp.hostPort, 'again'), 'udp:again');
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  test('a port published on all addresses is reachable from another container through the gateway', async () => {
    const proxy = await startPortProxy({ hostIp: '', hostPort: 0, protocol: 'tcp', target: { ip: serverIp, port: 7000 } });
    try {
      const r = await inNs(client, 'hi\n', '/bin/busybox', 'nc', '-w', '3', net.gateway, String(proxy.hostPort));
      assert.equal(r.out, 'tcp:hi\n');
    } finally {
      await proxy.close();
    }
  });

  test('a host port in use fails with a clear error and leaves nothing listening', async () => {
    const first = await startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip: serverIp, port: 7000 } });
    try {
      const specs = parsePortSpecs([`127.0.0.1::7001/udp`, `127.0.0.1:${first.hostPort}:7000`]);
      await assert.rejects(startPortProxies(specs, serverIp), (e: unknown) =>
        e instanceof Error && 'code' in e && e.code === 'PORT_IN_USE' && e.message.includes(`127.0.0.1:${first.hostPort}/tcp`));
    } finally {
      await first.close();
    }
  });

  describe('DNS on the gateway', () => {
    let dns: DnsServer;
    let upstream: UdpSocket;
    const table = new DnsTable();

    before(async () => {
      upstream = createSocket('udp4'); // stands in for the host's resolver, on loopback
      upstream.on('message', (m, r) => {
        const q = decodeDnsMessage(m);
        upstream.send(encodeDnsMessage(responseTo(q, 0, [aRecord(q.questions[0]?.name ?? '', '127.0.0.7')])), r.port, r.address);
      });
      await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', r));
      table.set('web', [serverIp]);
      table.add('db', serverIp);
      table.add('db', clientIp);
      dns = await startDnsServer({
        host: net.gateway, port: 53, table, allowFrom: net.subnet, timeoutMs: 500,
        upstreams: [{ host: '127.0.0.1', port: upstream.address().port }],
      });
    });

    after(async () => {
      await dns.close();
      upstream.close();
    });

    const lookup = (ns: Netns, name: string): Promise<{ status: number | null; out: string }> =>
      inNs(ns, '', '/bin/busybox', 'nslookup', '-type=a', name, net.gateway);

    test('containers on the network resolve names; an alias with two containers gives both', async () => {
      const web = await lookup(client, 'web');
      assert.equal(web.status, 0, web.out);
      assert.match(web.out, new RegExp(`Address: ${serverIp.replace(/\./g, '\\.')}`));
      const db = await lookup(client, 'DB');
      assert.equal(db.status, 0, db.out);
      assert.ok(db.out.includes(serverIp) && db.out.includes(clientIp), db.out);
    });

    test('unknown names: NXDOMAIN; dotted names are forwarded upstream', async () => {
      const nx = await lookup(client, 'nosuch');
      assert.notEqual(nx.status, 0);
      assert.match(nx.out, /NXDOMAIN|can't find/i);
      const fwd = await lookup(client, 'outside.example');
      assert.equal(fwd.status, 0, fwd.out);
      assert.match(fwd.out, /Address: 127\.0\.0\.7/);
    });

    test('a container on another network gets no answer for these names', async () => {
      const r = await lookup(stranger, 'web');
      assert.notEqual(r.status, 0);
      assert.ok(!r.out.includes(`Address: ${serverIp}`), r.out);
      assert.match(r.out, /REFUSED/, 'the gateway is reachable through the host, but the server refuses strangers');
    });
  });
});
