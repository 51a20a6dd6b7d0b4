// Network benchmarks (root): kernel plumbing latency and port-proxy throughput.
//   node bench/network.mjs            (after `node scripts/build.mjs`)
// `run()` returns { name, results: [{ name, value, unit, note? }] } and removes everything it made.
// Traffic stays on this machine: loopback and the address of a network namespace made here.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = (p) => import(pathToFileURL(join(root, 'dist', 'src', p)).href);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export async function startNetns() {
  const child = spawn('unshare', ['--net', 'sleep', '600'], { stdio: 'ignore' });
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${child.pid}/ns/net`) !== self) return child;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  throw new Error('unshare --net did not start');
}

/** A TCP sink inside the netns: reads everything, answers the byte count when the client half-closes. */
async function startSink(ns, port) {
  const code = `require('net').createServer({ allowHalfOpen: true }, (s) => { let n = 0; s.on('data', (d) => { n += d.length; });
    s.on('end', () => s.end(String(n))); }).listen(${port}, '0.0.0.0', () => console.log('ready'));
    setTimeout(() => process.exit(0), 600000);`;
  const p = spawn('nsenter', [`--net=/proc/${ns.pid}/ns/net`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    p.on('exit', () => reject(new Error('sink exited')));
  });
  return p;
}

/** Send `bytes` to host:port; MB/s (MiB per second). Used by network-engine.mjs too. */
export function push(host, port, bytes) {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(256 * 1024, 1);
    const s = connect({ host, port, allowHalfOpen: true });
    let sent = 0;
    let answer = '';
    const t0 = process.hrtime.bigint();
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!s.write(chunk)) return s.once('drain', pump);
      }
      s.end();
    };
    s.on('connect', pump);
    s.on('data', (d) => (answer += d));
    s.on('end', () => {
      if (Number(answer) !== sent) reject(new Error(`sink got ${answer} of ${sent} bytes`));
      else resolve(sent / 1048576 / (ms(t0) / 1000));
    });
    s.on('error', reject);
  });
}

export async function run({ iterations = 20, megabytes = 256 } = {}) {
  if (process.getuid?.() !== 0) return { name: 'network', results: [], skipped: 'needs root' };
  const bridge = await lib('engine/network/bridge.js');
  const ipam = await lib('engine/network/ipam.js');
  const proxyLib = await lib('engine/network/port-proxy.js');
  const bypassLib = await lib('engine/network/bridge-bypass.js');
  const prefix = `gk${randomBytes(2).toString('hex')}`;
  const routes = bridge.hostRouteSubnets();
  const pool = Array.from({ length: 50 }, (_, i) => `10.215.${100 + i}.0/24`);
  const net = ipam.planNetworkAddressing({}, { networks: [], hostRoutes: routes, pool });
  const children = [];
  const results = [];
  try {
    // createBridge + deleteBridge
    const brTimes = [];
    const brCreate = [];
    for (let i = 0; i < iterations; i++) {
      const name = bridge.bridgeIfName(prefix, `b${i}`);
      const t0 = process.hrtime.bigint();
      bridge.createBridge({ name, subnet: net.subnet, gateway: net.gateway });
      brCreate.push(ms(t0));
      bridge.deleteBridge(name);
      brTimes.push(ms(t0));
    }
    results.push({ name: 'createBridge+deleteBridge median', value: +median(brTimes).toFixed(3), unit: 'ms', note: 'deletion is the kernel waiting for RCU, as with ip link del' });
    results.push({ name: 'createBridge alone median', value: +median(brCreate).toFixed(3), unit: 'ms' });

    // attach + detach a veth to a netns
    const br = bridge.bridgeIfName(prefix, 'main');
    bridge.createBridge({ name: br, subnet: net.subnet, gateway: net.gateway });
    const ns = await startNetns();
    children.push(ns);
    const attTimes = [];
    const attOnly = [];
    const ip = ipam.allocateAddress(net.subnet, { gateway: net.gateway, inUse: [] });
    for (let i = 0; i < iterations; i++) {
      const host = bridge.vethIfName(prefix, `c${i}`);
      const t0 = process.hrtime.bigint();
      bridge.attachContainer({ bridge: br, netns: ns.pid, ifName: 'eth0', hostIfName: host, address: ip, prefixLen: net.prefixLen, gateway: net.gateway, defaultRoute: true });
      attOnly.push(ms(t0));
      bridge.detachContainer(host);
      attTimes.push(ms(t0));
    }
    results.push({ name: 'attachContainer+detachContainer median', value: +median(attTimes).toFixed(3), unit: 'ms' });
    results.push({ name: 'attachContainer alone median', value: +median(attOnly).toFixed(3), unit: 'ms' });

    // The bridge bypass a start adds (an ingress qdisc + one map update), with every earlier container still attached:
    // the cost per join must not grow with the number of containers on the network.
    const bypass = new bypassLib.BridgeBypass();
    const joins = [];
    const joined = [];
    try {
      for (let i = 0; i < iterations * 5; i++) {
        const host = bridge.vethIfName(prefix, `j${i}`);
        const addr = ipam.allocateAddress(net.subnet, { gateway: net.gateway, inUse: joined.map((j) => j.addr) });
        const att = bridge.attachContainer({ bridge: br, netns: ns.pid, ifName: `eth${i + 1}`, hostIfName: host, address: addr, prefixLen: net.prefixLen, defaultRoute: false });
        const t0 = process.hrtime.bigint();
        bypass.join(br, 4096, { hostIfIndex: att.hostIfIndex, mac: att.mac });
        joins.push(ms(t0));
        joined.push({ host, addr, mac: att.mac });
      }
      const tail = joins.slice(-iterations);
      results.push({ name: 'bridge bypass join (qdisc + map update) median, first containers', value: +median(joins.slice(0, iterations)).toFixed(3), unit: 'ms' });
      results.push({ name: `bridge bypass join median, containers ${joins.length - iterations + 1}-${joins.length}`, value: +median(tail).toFixed(3), unit: 'ms' });
      const leaves = [];
      for (const j of joined) {
        const t0 = process.hrtime.bigint();
        bypass.leave(br, j.mac);
        leaves.push(ms(t0));
        bridge.detachContainer(j.host);
      }
      results.push({ name: 'bridge bypass leave (map delete) median', value: +median(leaves).toFixed(3), unit: 'ms' });
    } finally {
      bypass.close();
    }

    // TCP throughput: direct to the netns address vs through the proxy on loopback
    bridge.attachContainer({ bridge: br, netns: ns.pid, ifName: 'eth0', hostIfName: bridge.vethIfName(prefix, 'sink'), address: ip, prefixLen: net.prefixLen, gateway: net.gateway, defaultRoute: true });
    children.push(await startSink(ns, 7100));
    const proxy = await proxyLib.startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip, port: 7100 } });
    try {
      const bytes = megabytes * 1048576;
      await push(ip, 7100, 8 * 1048576); // warm up
      await push('127.0.0.1', proxy.hostPort, 8 * 1048576);
      const direct = [];
      const proxied = [];
      for (let i = 0; i < 3; i++) {
        direct.push(await push(ip, 7100, bytes));
        proxied.push(await push('127.0.0.1', proxy.hostPort, bytes));
      }
      const d = median(direct);
      const p = median(proxied);
      results.push({ name: 'TCP direct to netns', value: Math.round(d), unit: 'MiB/s' });
      results.push({ name: 'TCP through port proxy (loopback)', value: Math.round(p), unit: 'MiB/s' });
      results.push({ name: 'proxy/direct throughput ratio', value: +(p / d).toFixed(3), unit: 'ratio' });
    } finally {
      await proxy.close();
    }
  } finally {
    await Promise.all(children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }));
    bridge.removeStaleLinks(prefix, new Set());
  }
  return { name: 'network', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  for (const x of r.results) console.log(`${x.name}: ${x.value} ${x.unit}`);
  if (r.skipped) console.log(`skipped: ${r.skipped}`);
}
