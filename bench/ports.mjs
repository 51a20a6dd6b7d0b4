// Published ports (root): a TCP stream, short connections per second and round-trip latency, each measured
// direct (host → container address, the baseline) and through the published port (127.0.0.1:PORT) in the same
// run: gantry-portproxy (splice, its own process; what the daemon uses) and the proxy inside the daemon (Node
// streams; GANTRY_PORT_PROXY=node, and what UDP uses). Also what the container sees as the client address.
// When `nft` is installed, the DNAT path the daemon adds for local clients (port-dnat.ts: the daemon's table
// code, under the bench's own link prefix; route_localnet=1 on the bench bridge only; all removed after).
//   node bench/ports.mjs [--mib 512] [--conns 3000] [--pings 3000]     (after `node scripts/build.mjs`)
// `run()` returns { name, results: [{ name, value, unit, note? }] } and removes everything it made (the netns
// server, links, proxies and their control directory), failure or not.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { push, startNetns } from './network.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = (p) => import(pathToFileURL(join(root, 'dist', 'src', p)).href);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const PORTS = { sink: 7100, short: 7101, echo: 7102, peer: 7103 };

/** Four servers in the netns: sink (counts bytes), short (answers "ok" and closes), echo, peer (says who called). */
async function startServers(ns) {
  const code = `const net = require('net');
    net.createServer({ allowHalfOpen: true }, (s) => { let n = 0; s.on('data', (d) => { n += d.length; }); s.on('end', () => s.end(String(n))); }).listen(${PORTS.sink});
    net.createServer((s) => { s.once('data', () => s.end('ok')); s.on('error', () => {}); }).listen(${PORTS.short}, 4096);
    net.createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); }).listen(${PORTS.echo});
    net.createServer((s) => s.end(s.remoteAddress)).listen(${PORTS.peer}, () => console.log('ready'));
    setTimeout(() => process.exit(0), 600000);`;
  const p = spawn('nsenter', [`--net=/proc/${ns.pid}/ns/net`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    p.stdout.on('data', (d) => d.toString().includes('ready') && resolve());
    p.on('exit', () => reject(new Error('the netns servers exited')));
  });
  return p;
}

function hasNft() {
  return spawnSync('nft', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A port nothing listens on now (the kernel's pick, released). */
function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** A non-loopback IPv4 address of this host (not on the bench bridge), or undefined. */
function hostAddress(bridgeName) {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name === bridgeName) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** The daemon's DNAT path for the bench's ports, under the bench's link prefix. */
async function startDnat(dnatLib, prefix, bridgeName, ip) {
  const ports = {};
  const entries = [];
  for (const [k, port] of Object.entries(PORTS)) {
    ports[k] = await freePort();
    entries.push({ hostIp: '127.0.0.1', hostPort: ports[k], ip, port });
  }
  const opened = dnatLib.PortDnat.open(prefix, entries);
  if (typeof opened === 'string') throw new Error(`DNAT: ${opened}`);
  dnatLib.PortDnat.allowLoopbackOut(bridgeName);
  return ports;
}

function shortOne(host, port) {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.on('connect', () => s.write('x'));
    s.on('data', () => undefined);
    s.on('end', () => resolve());
    s.on('error', reject);
  });
}

/** `total` connections (connect, 1 byte, "ok", close), `parallel` at a time: connections per second. */
async function connRate(host, port, total, parallel = 16) {
  let started = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (started < total) {
      started++;
      await shortOne(host, port);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return total / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Median round trip of one byte on one open connection, in microseconds. */
function pingPong(host, port, n) {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.setNoDelay(true);
    const times = [];
    let t0 = 0n;
    const one = () => {
      t0 = process.hrtime.bigint();
      s.write('p');
    };
    s.on('connect', one);
    s.on('data', () => {
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (times.length < n) one();
      else {
        s.destroy();
        resolve(median(times));
      }
    });
    s.on('error', reject);
  });
}

function peerOf(host, port) {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host, port });
    s.setEncoding('utf8');
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

export async function run({ mib = 512, conns = 3000, pings = 3000 } = {}) {
  if (process.getuid?.() !== 0) return { name: 'ports', results: [], skipped: 'needs root' };
  const bridge = await lib('engine/network/bridge.js');
  const ipam = await lib('engine/network/ipam.js');
  const proxyLib = await lib('engine/network/port-proxy.js');
  const nativeLib = await lib('engine/network/native-port-proxy.js');
  const dnatLib = await lib('engine/network/port-dnat.js');
  const prefix = `gp${randomBytes(2).toString('hex')}`;
  const pool = Array.from({ length: 50 }, (_, i) => `10.216.${100 + i}.0/24`);
  const net = ipam.planNetworkAddressing({}, { networks: [], hostRoutes: bridge.hostRouteSubnets(), pool });
  const controlDir = mkdtempSync(join(tmpdir(), 'gantry-bench-ports-'));
  let tableMade = false;
  const children = [];
  const proxies = [];
  const results = [];
  try {
    const br = bridge.bridgeIfName(prefix, 'main');
    bridge.createBridge({ name: br, subnet: net.subnet, gateway: net.gateway });
    const ns = await startNetns();
    children.push(ns);
    const ip = ipam.allocateAddress(net.subnet, { gateway: net.gateway, inUse: [] });
    bridge.attachContainer({ bridge: br, netns: ns.pid, ifName: 'eth0', hostIfName: bridge.vethIfName(prefix, 'c'), address: ip, prefixLen: net.prefixLen, gateway: net.gateway, defaultRoute: true });
    children.push(await startServers(ns));

    const publish = async (controlDirOrNone) => {
      const out = {};
      for (const [k, port] of Object.entries(PORTS)) {
        const p = await proxyLib.startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip, port }, controlDir: controlDirOrNone });
        proxies.push(p);
        out[k] = p.hostPort;
      }
      return out;
    };
    const paths = [{ name: 'direct', host: ip, ports: PORTS }];
    if (nativeLib.portProxyBinary() !== undefined) paths.push({ name: 'gantry-portproxy', host: '127.0.0.1', ports: await publish(controlDir) });
    paths.push({ name: 'in-daemon proxy', host: '127.0.0.1', ports: await publish(undefined) });
    let dnatPorts;
    if (hasNft()) {
      tableMade = true;
      dnatPorts = await startDnat(dnatLib, prefix, br, ip);
      paths.push({ name: 'nftables DNAT', host: '127.0.0.1', ports: dnatPorts });
    }

    // stream: interleaved rounds, so load from other work on the machine hits every path alike
    const bytes = mib * 1048576;
    const stream = new Map(paths.map((p) => [p.name, []]));
    for (const p of paths) await push(p.host, p.ports.sink, 16 * 1048576); // warm up
    for (let round = 0; round < 5; round++) {
      for (const p of paths) stream.get(p.name).push(await push(p.host, p.ports.sink, bytes));
    }
    const d = median(stream.get('direct'));
    for (const p of paths) {
      const v = median(stream.get(p.name));
      results.push({ name: `TCP stream, ${p.name}`, value: Math.round(v), unit: 'MiB/s', note: p.name === 'direct' ? `host → ${ip}, median of 5 × ${mib} MiB` : `127.0.0.1:${p.ports.sink}, ${(v / d).toFixed(3)} of direct` });
    }
    for (const p of paths.slice(1)) results.push({ name: `stream ratio ${p.name}/direct`, value: +(median(stream.get(p.name)) / d).toFixed(3), unit: 'ratio' });

    const rate = new Map(paths.map((p) => [p.name, []]));
    for (let round = 0; round < 3; round++) {
      for (const p of paths) rate.get(p.name).push(await connRate(p.host, p.ports.short, conns));
    }
    const rd = median(rate.get('direct'));
    for (const p of paths) {
      const v = median(rate.get(p.name));
      results.push({ name: `short connections, ${p.name}`, value: Math.round(v), unit: 'conn/s', note: `${conns} × (connect, 1 byte, reply, close), 16 at a time; ${(v / rd).toFixed(3)} of direct` });
    }

    const lat = new Map(paths.map((p) => [p.name, []]));
    for (let round = 0; round < 3; round++) {
      for (const p of paths) lat.get(p.name).push(await pingPong(p.host, p.ports.echo, pings));
    }
    for (const p of paths) {
      results.push({ name: `round trip, ${p.name}`, value: +median(lat.get(p.name)).toFixed(1), unit: 'µs', note: `median of ${pings} one-byte ping-pongs on one connection` });
    }
    for (const p of paths) {
      results.push({ name: `client address the container sees, ${p.name}`, value: 0, unit: '', note: `${await peerOf(p.host, p.ports.peer)} (client on ${p.host})` });
    }
    const own = hostAddress(br);
    if (dnatPorts !== undefined && own !== undefined) {
      // the bench binds 127.0.0.1 only; a binding on all addresses matches any local address
      const opened = dnatLib.PortDnat.open(prefix, [{ hostIp: '', hostPort: dnatPorts.peer, ip, port: PORTS.peer }]);
      if (typeof opened !== 'string') {
        results.push({ name: 'client address the container sees, nftables DNAT, client on a host address', value: 0, unit: '', note: `${await peerOf(own, dnatPorts.peer)} (client on ${own})` });
      }
    }
    // memory of one proxy process (idle, after the runs above)
    const mem = [];
    for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (!argv[0]?.endsWith('gantry-portproxy') || argv[6] !== controlDir) continue;
        const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
        mem.push({ rss: Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1]), pss: Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1]) });
      } catch {
        // gone
      }
    }
    if (mem.length > 0) {
      results.push({ name: 'gantry-portproxy memory per process, RSS', value: median(mem.map((m) => m.rss)), unit: 'kB', note: `median of ${mem.length} idle proxies` });
      results.push({ name: 'gantry-portproxy memory per process, PSS', value: median(mem.map((m) => m.pss)), unit: 'kB' });
    }
    // what a publish costs (the start of a container with -p pays it once per binding)
    const costOf = async (fn) => {
      const times = [];
      for (let i = 0; i < 15; i++) {
        const t0 = process.hrtime.bigint();
        await fn();
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      return median(times);
    };
    const publishOnce = (dir) => async () => {
      const p = await proxyLib.startPortProxy({ hostIp: '127.0.0.1', hostPort: 0, protocol: 'tcp', target: { ip, port: PORTS.short }, controlDir: dir });
      await p.close();
    };
    if (nativeLib.portProxyBinary() !== undefined) {
      results.push({ name: 'publish + unpublish, gantry-portproxy', value: +(await costOf(publishOnce(controlDir))).toFixed(2), unit: 'ms', note: 'spawn, bind, `ok`; then `quit` (median of 15)' });
    }
    results.push({ name: 'publish + unpublish, in-daemon proxy', value: +(await costOf(publishOnce(undefined))).toFixed(2), unit: 'ms', note: 'median of 15' });
    if (dnatPorts !== undefined) {
      const opened = dnatLib.PortDnat.open(prefix, []);
      if (typeof opened !== 'string') {
        let n = 0;
        const cost = await costOf(async () => {
          const e = { hostIp: '127.0.0.1', hostPort: 40000 + n++, ip, port: 80 };
          await opened.set(e);
          await opened.remove(e);
        });
        results.push({ name: 'DNAT element add + delete', value: +cost.toFixed(2), unit: 'ms', note: 'two `nft -f` runs, off the event loop; a start does not wait for the add (median of 15)' });
      }
    }
    if (!hasNft()) results.push({ name: 'nftables DNAT', value: 0, unit: '', note: 'not measured: nft is not installed' });
  } finally {
    if (tableMade) dnatLib.PortDnat.drop(prefix);
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }));
    bridge.removeStaleLinks(prefix, new Set());
    rmSync(controlDir, { recursive: true, force: true });
  }
  return { name: 'ports', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { mib: { type: 'string' }, conns: { type: 'string' }, pings: { type: 'string' } } });
  const r = await run({ mib: Number(values.mib ?? 512), conns: Number(values.conns ?? 3000), pings: Number(values.pings ?? 3000) });
  for (const x of r.results) console.log(`${x.name}: ${x.unit === '' ? x.note : `${x.value} ${x.unit}${x.note ? `  (${x.note})` : ''}`}`);
  if (r.skipped) console.log(`skipped: ${r.skipped}`);
}
