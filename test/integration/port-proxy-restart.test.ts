// Published TCP ports through gantry-portproxy outlive the daemon: with the daemon killed (-9) or stopped, the
// port still answers; a restarted daemon adopts the same proxy process; `rm -f` closes the port and ends the
// process; a container that died while no daemon ran has its proxy stopped at the next start (that test turns DNAT
// off, so every connection goes through the proxy). Local clients go through DNAT (port-dnat.ts): one on a host
// address is seen by the container with that address, with or without a daemon.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { dnatTableName } from '../../src/engine/network/port-dnat.js';
import { eventually, portProxyPids, type TestDaemon } from '../helpers/daemon.js';
import { withDaemon } from './networking-daemon.js';

const ECHO = `require('net').createServer((s) => s.once('data', (d) => s.end('tcp:' + d))).listen(7000);`;
const echoArgs = (): string[] => ['-v', '/:/host:ro', 'busybox', 'chroot', '/host', process.execPath, '-e', ECHO];

const PEER = `require('net').createServer((s) => s.end(s.remoteAddress.replace('::ffff:', ''))).listen(7000);`;

function tcpAsk(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let out = '';
    s.setTimeout(3000, () => s.destroy(new Error('TCP timeout')));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(text);
  });
}

function refused(port: number): Promise<boolean> {
  return tcpAsk(port, 'x').then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
}

/** An IPv4 address of this host that is not loopback and not on a link of the daemon. */
function hostAddress(linkPrefix: string): string | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (name.startsWith(linkPrefix)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function nftHasTable(table: string): boolean {
  return spawnSync('nft', ['list', 'table', 'ip', table], { stdio: 'ignore' }).status === 0;
}

function hostPort(d: TestDaemon, container: string): number {
  const line = d.ok(['port', container, '7000']).trim().split('\n')[0] ?? '';
  return Number(line.slice(line.lastIndexOf(':') + 1));
}

describe('published ports outlive the daemon (root)', () => {
  test('kill -9 and SIGTERM of the daemon: the port answers; the restarted daemon adopts the proxy; rm -f closes it', async (t) => {
    await withDaemon(t, async ({ d, inspect }) => {
      d.ok(['run', '-d', '--name', 'api', '-p', '127.0.0.1::7000', ...echoArgs()]);
      // from here every connection goes through the proxies (local clients would otherwise take the DNAT path);
      // the bridge the first start opened to loopback-sourced packets is closed again
      const routeLocalnet = `/proc/sys/net/ipv4/conf/${linkPrefixFor(d.prefix)}0/route_localnet`;
      const nft = spawnSync('nft', ['--version'], { stdio: 'ignore' }).status === 0;
      if (nft) assert.equal(readFileSync(routeLocalnet, 'utf8').trim(), '1');
      await d.stop();
      d.daemonEnv = { GANTRY_PORT_DNAT: '0' };
      await d.start();
      assert.equal(readFileSync(routeLocalnet, 'utf8').trim(), '0');
      const port = hostPort(d, 'api');
      assert.equal(await eventually(() => tcpAsk(port, 'a'), 10_000, 'api port'), 'tcp:a');
      const proxies = portProxyPids(d.root);
      assert.equal(proxies.length, 1, 'one proxy process for the one TCP binding');

      await d.crash();
      assert.equal(await tcpAsk(port, 'b'), 'tcp:b', 'the port answers while no daemon runs');
      await d.start();
      assert.equal(await tcpAsk(port, 'c'), 'tcp:c');
      assert.equal(hostPort(d, 'api'), port);
      assert.deepEqual(portProxyPids(d.root), proxies, 'the same process, adopted');

      await d.stop();
      assert.equal(await tcpAsk(port, 'd'), 'tcp:d', 'a daemon stopped with SIGTERM leaves the port up');
      await d.start();
      assert.deepEqual(portProxyPids(d.root), proxies);

      // a container that dies while no daemon runs: its proxy goes at the next start
      d.ok(['run', '-d', '--name', 'doomed', '-p', '127.0.0.1::7000', ...echoArgs()]);
      const doomedPort = hostPort(d, 'doomed');
      assert.equal(await eventually(() => tcpAsk(doomedPort, 'e'), 10_000, 'doomed port'), 'tcp:e');
      const doomedPid = inspect('doomed').State.Pid;
      await d.crash();
      process.kill(doomedPid, 'SIGKILL');
      await d.start();
      await eventually(() => assert.equal(inspect('doomed').State.Status, 'exited'), 10_000, 'doomed seen as exited');
      assert.equal(await refused(doomedPort), true, 'the dead container\'s port is closed');
      assert.deepEqual(portProxyPids(d.root), proxies, 'only api\'s proxy is left');

      d.ok(['rm', '-f', 'api']);
      assert.equal(await refused(port), true, 'rm -f closes the port');
      assert.deepEqual(portProxyPids(d.root), [], 'no proxy process is left');
    });
  });

  test('a local client on a host address is seen by the container with its own address (DNAT); the rules go with the container', async (t) => {
    if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) {
      t.skip('nft is not installed (scripts/setup.sh installs nftables)');
      return;
    }
    let table = '';
    await withDaemon(t, async ({ d, inspect }) => {
      table = dnatTableName(linkPrefixFor(d.prefix));
      const own = hostAddress(linkPrefixFor(d.prefix));
      if (own === undefined) {
        t.skip('this host has no non-loopback IPv4 address');
        return;
      }
      d.ok(['run', '-d', '--name', 'peer', '-p', '7000', '-v', '/:/host:ro', 'busybox', 'chroot', '/host', process.execPath, '-e', PEER]);
      const port = hostPort(d, 'peer');
      const gateway = inspect('peer').NetworkSettings.Networks['bridge']!.Gateway;
      assert.equal(await eventually(() => tcpAsk(port, '', own), 10_000, 'peer on the host address'), own, 'the real client address');
      assert.equal(await tcpAsk(port, '', '127.0.0.1'), gateway, 'loopback clients are masqueraded to the bridge address');
      await d.crash();
      assert.equal(await tcpAsk(port, '', own), own, 'the DNAT path works while no daemon runs');
      await d.start();
      assert.equal(await tcpAsk(port, '', own), own, 'and after the restart (the table rewritten from the records)');
      const list = (): string => spawnSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' }).stdout;
      assert.match(list(), new RegExp(`${port} : ${inspect('peer').NetworkSettings.Networks['bridge']!.IPAddress.replace(/\./g, '\\.')} \\. 7000`));
      d.ok(['rm', '-f', 'peer']);
      assert.doesNotMatch(list(), new RegExp(`\\b${port} :`), 'rm -f removes the DNAT element');
      assert.equal(await refused(port), true);
      // a daemon that stops with no published port and no bridge left takes its table with it; a start makes it again
      await d.stop();
      assert.equal(nftHasTable(table), false, 'nothing needs the table once the daemon stopped with nothing left');
      await d.start();
      assert.equal(nftHasTable(table), true, 'a start makes the table again');
    });
    if (table !== '') assert.equal(nftHasTable(table), false, 'the test daemon\'s table is gone');
  });

  test('route_localnet on our bridges does not let a container reach the host\'s loopback services', async (t) => {
    if (spawnSync('nft', ['--version'], { stdio: 'ignore' }).status !== 0) {
      t.skip('nft is not installed (scripts/setup.sh installs nftables)');
      return;
    }
    // a UDP service on the host's loopback: one datagram from a container would be a breach (no answer needed)
    const secret = createSocket('udp4');
    let received = 0;
    secret.on('message', () => { received++; });
    await new Promise<void>((r) => secret.bind(0, '127.0.0.1', r));
    const port = secret.address().port;
    try {
      await withDaemon(t, async ({ d }) => {
        // a published port puts route_localnet on the bridge
        d.ok(['run', '-d', '--name', 'pub', '-p', '127.0.0.1::7000', ...echoArgs()]);
        const bridge = `${linkPrefixFor(d.prefix)}0`;
        assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim(), '1');
        // a container that may change its routes sends to 127.0.0.1 through its gateway instead of its own lo
        const r = d.gantry(['run', '--rm', '--cap-add', 'NET_ADMIN', 'busybox', 'sh', '-c',
          'gw=$(ip route | awk \'/default/ {print $3}\'); ip route del 127.0.0.0/8 table local; ip route del 127.0.0.1 table local; '
          + `ip route add 127.0.0.1/32 via $gw dev eth0 && echo routed && for i in 1 2 3 4 5; do echo x | nc -u -w 1 127.0.0.1 ${port}; done`]);
        assert.match(r.stdout, /routed/, `the container's route change must have worked: ${r.stdout}${r.stderr}`);
        // the datagrams went out (or were dropped) before nc returned; a last one from the host itself shows the
        // service was listening all along
        const probe = createSocket('udp4');
        await new Promise<void>((res) => probe.send('host', port, '127.0.0.1', () => res()));
        probe.close();
        await eventually(() => assert.ok(received >= 1), 5_000, 'the host\'s own datagram');
        assert.equal(received, 1, 'no datagram of the container reached the host\'s 127.0.0.1 service');
      });
    } finally {
      secret.close();
    }
  });
});
