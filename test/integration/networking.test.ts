// Bridge networking through the CLI, against a private daemon per test (TestDaemon): names resolve on a user
// network and not across networks, published TCP/UDP ports answer on loopback, connect/disconnect on a running
// container, a daemon killed with -9 keeps connectivity, bad input leaves nothing behind, and no link of the
// daemon's prefix survives a test. Traffic goes only to loopback and to addresses of containers made here.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { TestDaemon, eventually } from '../helpers/daemon.js';
import { hostRouteSubnets, listLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { withDaemon } from './networking-daemon.js';

/** A TCP (7000) and UDP (7001) echo server in the container: node from the host's root, chrooted into. */
const ECHO = `const net = require('net'), dgram = require('dgram');
net.createServer((s) => s.once('data', (d) => s.end('tcp:' + d))).listen(7000);
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('udp:'), m]), r.port, r.address)); u.bind(7001);`;
const echoArgs = (): string[] => ['-v', '/:/host:ro', 'busybox', 'chroot', '/host', process.execPath, '-e', ECHO];

function tcpAsk(host: string, port: number, text: string): Promise<string> {
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

function udpAsk(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no UDP reply'));
    }, 1000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.send(text, port, host);
  });
}

/** Host port of a published container port, read through `gantry port`. */
function hostPort(d: TestDaemon, container: string, port: string): number {
  const line = d.ok(['port', container, port]).trim().split('\n')[0] ?? '';
  const n = Number(line.slice(line.lastIndexOf(':') + 1));
  assert.ok(n > 0, `gantry port ${container} ${port} printed "${line}"`);
  return n;
}


/** Tests that count the daemon's links: the netns pool (netns-pool.ts) adds an idle veth per network at moments of its own. */
const NO_POOL = { daemonEnv: { GANTRY_NETNS_POOL: '0' } };
describe('bridge networking through the CLI (root)', () => {
  test('containers on a user network find each other by name and alias; other networks cannot resolve or reach them', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('front');
      network('back');
      d.ok(['run', '-d', '--name', 'web', '--network', 'front', '--network-alias', 'svc', ...echoArgs()]);
      d.ok(['run', '-d', '--name', 'web2', '--network', 'front', '--network-alias', 'svc', 'busybox', 'sleep', '300']);
      const webIp = inspect('web').NetworkSettings.Networks['front']!.IPAddress;
      const web2Ip = inspect('web2').NetworkSettings.Networks['front']!.IPAddress;
      assert.notEqual(webIp, web2Ip);

      const look = d.ok(['run', '--rm', '--network', 'front', 'busybox', 'nslookup', 'web']);
      assert.match(look, new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}\\b`));
      const svc = d.ok(['run', '--rm', '--network', 'front', 'busybox', 'nslookup', 'svc']);
      assert.ok(svc.includes(webIp) && svc.includes(web2Ip), `alias svc answers both addresses:\n${svc}`);
      await eventually(() => {
        const r = d.gantry(['run', '--rm', '--network', 'front', 'busybox', 'sh', '-c', 'echo hi | nc -w 2 web 7000']);
        assert.equal(r.stdout.trim(), 'tcp:hi');
      }, 10_000, 'web answering by name');

      const other = d.gantry(['run', '--rm', '--network', 'back', 'busybox', 'nslookup', 'web']);
      assert.notEqual(other.status, 0, 'a container on another network must not resolve web');
      assert.match(other.stdout + other.stderr, /NXDOMAIN|can't find/);
      const reach = d.gantry(['run', '--rm', '--network', 'back', 'busybox', 'sh', '-c', `echo hi | nc -w 1 ${webIp} 7000`]);
      assert.notEqual(reach.stdout.trim(), 'tcp:hi', 'a container on another network must not reach web');
      assert.notEqual(reach.status, 0);

      const inUse = d.gantry(['network', 'rm', 'front']);
      assert.equal(inUse.status, 1);
      assert.match(inUse.stderr, /in use by containers? .*web/);
    });
  });

  test('the default bridge: an address, a default route, own /etc/hosts entry; --network none has only loopback', async (t) => {
    await withDaemon(t, async ({ d }) => {
      const out = d.ok(['run', '--rm', '--hostname', 'box', '--add-host', 'db.local:10.1.2.3', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route; cat /etc/hosts']);
      const ip = /inet (\d+\.\d+\.\d+\.\d+)\/\d+/.exec(out)?.[1];
      assert.ok(ip !== undefined, out);
      const gw = JSON.parse(d.ok(['network', 'inspect', 'bridge']))[0].IPAM.Config[0].Gateway as string;
      assert.match(out, new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));
      assert.match(out, new RegExp(`${ip.replace(/\./g, '\\.')}\\s+box`));
      assert.match(out, /10\.1\.2\.3\s+db\.local/);
      const none = d.ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
      assert.deepEqual(none.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
      const ls = d.ok(['network', 'ls']);
      for (const n of ['bridge', 'host', 'none']) assert.match(ls, new RegExp(`\\b${n}\\b`));
    });
  });

  test('published TCP and UDP ports answer on loopback and from another container via the gateway; a taken port fails naming it', async (t) => {
    await withDaemon(t, async ({ d, inspect }) => {
      const gw = JSON.parse(d.ok(['network', 'inspect', 'bridge']))[0].IPAM.Config[0].Gateway as string;
      d.ok(['run', '-d', '--name', 'echo', '-p', '127.0.0.1::7000', '-p', '127.0.0.1::7001/udp', '-p', `${gw}::7000`, ...echoArgs()]);
      const ports = d.ok(['port', 'echo']);
      assert.match(ports, /^7000\/tcp -> 127\.0\.0\.1:\d+$/m);
      assert.match(ports, /^7001\/udp -> 127\.0\.0\.1:\d+$/m);
      const tcp = hostPort(d, 'echo', '7000/tcp');
      const udp = hostPort(d, 'echo', '7001/udp');
      assert.equal(await eventually(() => tcpAsk('127.0.0.1', tcp, 'hello'), 10_000, 'TCP through the published port'), 'tcp:hello');
      assert.equal(await eventually(() => udpAsk('127.0.0.1', udp, 'ping'), 5_000, 'UDP through the published port'), 'udp:ping');
      const viaGw = inspect('echo').NetworkSettings.Ports['7000/tcp']!.find((b) => b.HostIp === gw)!.HostPort;
      const fromPeer = d.ok(['run', '--rm', 'busybox', 'sh', '-c', `echo peer | nc -w 2 ${gw} ${viaGw}`]);
      assert.equal(fromPeer.trim(), 'tcp:peer');

      const clash = d.gantry(['run', '-d', '--name', 'clash', '-p', `127.0.0.1:${tcp}:80`, 'busybox', 'sleep', '300']);
      assert.equal(clash.status, 1);
      assert.match(clash.stderr, new RegExp(`127\\.0\\.0\\.1:${tcp}/tcp is already in use`));
      assert.equal(inspect('clash').State.Status, 'created', 'the failed start leaves a stopped container, nothing running');
      assert.equal(await tcpAsk('127.0.0.1', tcp, 'still'), 'tcp:still', 'the first container keeps its port');

      d.ok(['rm', '-f', 'echo']);
      await assert.rejects(tcpAsk('127.0.0.1', tcp, 'gone'), 'the port is closed with its container');
    });
  });

  test('network connect and disconnect on a running container', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('left');
      network('right', '--subnet', '10.231.7.0/24');
      d.ok(['run', '-d', '--name', 'app', '--network', 'left', 'busybox', 'sleep', '300']);
      d.ok(['run', '-d', '--name', 'db', '--network', 'right', 'busybox', 'httpd', '-f', '-p', '7000', '-h', '/']);
      assert.notEqual(d.gantry(['exec', 'app', 'nslookup', 'db']).status, 0);

      d.ok(['network', 'connect', '--alias', 'appalias', '--ip', '10.231.7.50', 'right', 'app']);
      const nets = inspect('app').NetworkSettings.Networks;
      assert.deepEqual(Object.keys(nets).sort(), ['left', 'right']);
      assert.equal(nets['right']!.IPAddress, '10.231.7.50');
      assert.match(d.ok(['exec', 'app', 'ip', '-o', '-4', 'addr']), /eth1\s+inet 10\.231\.7\.50\/24/);
      assert.match(d.ok(['exec', 'db', 'nslookup', 'appalias']), /Address: 10\.231\.7\.50/);
      const dbIp = inspect('db').NetworkSettings.Networks['right']!.IPAddress;
      const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${dbIp} 7000`;
      await eventually(() => assert.match(d.ok(['exec', 'app', 'sh', '-c', get]), /^HTTP\/1\.[01] /), 10_000, 'db reachable after connect');
      const busy = d.gantry(['network', 'connect', 'right', 'app']);
      assert.equal(busy.status, 1);
      assert.match(busy.stderr, /already connected/);

      d.ok(['network', 'disconnect', 'right', 'app']);
      assert.deepEqual(Object.keys(inspect('app').NetworkSettings.Networks), ['left']);
      assert.doesNotMatch(d.ok(['exec', 'app', 'ip', '-o', 'link']), /eth1/);
      assert.notEqual(d.gantry(['exec', 'db', 'nslookup', 'appalias']).status, 0, 'the alias left with the endpoint');
      const again = d.gantry(['network', 'disconnect', 'right', 'app']);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /not connected/);
    });
  });

  test('a container on two networks resolves the names of both', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      network('left');
      network('right');
      d.ok(['run', '-d', '--name', 'db', '--network', 'right', 'busybox', 'sleep', '300']);
      d.ok(['run', '-d', '--name', 'app', '--network', 'left', 'busybox', 'sleep', '300']);
      d.ok(['network', 'connect', 'right', 'app']);
      assert.match(d.ok(['exec', 'app', 'nslookup', 'db']), /Address: \d+\.\d+\.\d+\.\d+/);
    });
  });

  test('a daemon killed with -9 and restarted keeps DNS, published ports and links; objects of containers that died meanwhile go', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('stack');
      d.ok(['run', '-d', '--name', 'api', '--network', 'stack', '-p', '127.0.0.1::7000', ...echoArgs()]);
      d.ok(['run', '-d', '--name', 'doomed', '--network', 'stack', 'busybox', 'sleep', '300']);
      const port = hostPort(d, 'api', '7000');
      assert.equal(await eventually(() => tcpAsk('127.0.0.1', port, 'a'), 10_000, 'api port'), 'tcp:a');
      const doomedPid = inspect('doomed').State.Pid;
      const linksBefore = listLinks(linkPrefixFor(d.prefix)).length;

      await d.crash();
      process.kill(doomedPid, 'SIGKILL'); // dies while nobody watches
      await d.start();

      assert.equal(await eventually(() => tcpAsk('127.0.0.1', port, 'b'), 10_000, 'api port after restart'), 'tcp:b');
      assert.equal(hostPort(d, 'api', '7000'), port);
      assert.match(d.ok(['run', '--rm', '--network', 'stack', 'busybox', 'nslookup', 'api']), /Address: \d+\.\d+\.\d+\.\d+/);
      await eventually(() => assert.equal(inspect('doomed').State.Status, 'exited'), 10_000, 'doomed seen as exited');
      assert.notEqual(d.gantry(['run', '--rm', '--network', 'stack', 'busybox', 'nslookup', 'doomed']).status, 0, 'a dead container has no DNS name');
      await eventually(() => assert.equal(listLinks(linkPrefixFor(d.prefix)).length, linksBefore - 1), 10_000, 'only the dead container\'s veth gone');
    }, NO_POOL);
  });

  test('a container keeps its address across restarts (policy, restart, stop + start, daemon restart) while it is free', async (t) => {
    await withDaemon(t, async ({ d, network, inspect }) => {
      network('sticky', '--subnet', '10.236.7.0/24');
      const ip = (c: string): string => inspect(c).NetworkSettings.Networks['sticky']!.IPAddress;
      const restartedFrom = (c: string, pid: number): Promise<void> => eventually(() => {
        const s = inspect(c).State;
        assert.equal(s.Status, 'running');
        assert.notEqual(s.Pid, pid);
      }, 15_000, `${c} to run again`);
      d.ok(['run', '-d', '--name', 'app', '--network', 'sticky', '--restart', 'unless-stopped', 'busybox', 'sleep', '300']);
      d.ok(['run', '-d', '--name', 'next', '--network', 'sticky', 'busybox', 'sleep', '300']);
      const first = ip('app');

      const pid = inspect('app').State.Pid;
      process.kill(pid, 'SIGKILL');
      await restartedFrom('app', pid);
      assert.equal(ip('app'), first, 'restart policy');
      d.ok(['restart', '-t', '0', 'app']);
      assert.equal(ip('app'), first, 'gantry restart');

      // Stopped, its address is free but wanted back: a container started meanwhile (after a daemon restart,
      // which forgets where allocation stopped) gets another one.
      d.ok(['stop', '-t', '0', 'app']);
      await d.crash();
      await d.start();
      d.ok(['run', '-d', '--name', 'newcomer', '--network', 'sticky', 'busybox', 'sleep', '300']);
      assert.notEqual(ip('newcomer'), first);
      d.ok(['start', 'app']);
      assert.equal(ip('app'), first, 'stop + start');

      // Dies while the daemon is down: recovery restarts it on the same address.
      const pid2 = inspect('app').State.Pid;
      await d.crash();
      process.kill(pid2, 'SIGKILL');
      await d.start();
      await restartedFrom('app', pid2);
      assert.equal(ip('app'), first, 'daemon recovery');

      // Only a preference: taken by someone else meanwhile, the container gets a new address.
      d.ok(['stop', '-t', '0', 'app']);
      d.ok(['run', '-d', '--name', 'squatter', '--network', 'sticky', '--ip', first, 'busybox', 'sleep', '300']);
      d.ok(['start', 'app']);
      assert.notEqual(ip('app'), first);
      assert.equal(ip('squatter'), first);
    });
  });

  test('bad input is refused with a clear error and leaves nothing half-made', async (t) => {
    await withDaemon(t, async ({ d, network }) => {
      const linkPrefix = linkPrefixFor(d.prefix);
      network('one', '--subnet', '10.232.0.0/24');
      const before = listLinks(linkPrefix).map((l) => l.name).sort();
      const fails = (args: string[], status: number, pattern: RegExp): void => {
        const r = d.gantry(args);
        assert.equal(r.status, status, `gantry ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, pattern);
      };
      fails(['network', 'create', '--subnet', '10.232.0.128/25', 'two'], 1, /overlaps network "one"/);
      const route = hostRouteSubnets(linkPrefix).find((r) => Number(r.split('/')[1]) >= 8 && Number(r.split('/')[1]) <= 30);
      if (route !== undefined) fails(['network', 'create', '--subnet', route, 'three'], 1, /overlaps host route/);
      fails(['network', 'create', '--subnet', '10.233.0.0/24', '--gateway', '10.9.9.9', 'four'], 2, /outside the subnet/);
      fails(['network', 'create', '--subnet', 'banana', 'five'], 2, /invalid subnet/);
      fails(['network', 'create', 'one'], 1, /already exists/);
      fails(['network', 'create', 'host'], 1, /reserved/);
      fails(['network', 'rm', 'bridge'], 1, /pre-defined/);
      fails(['network', 'rm', 'nosuch'], 1, /network nosuch not found/);
      fails(['run', '--rm', '--network', 'nosuch', 'busybox', 'true'], 1, /network nosuch not found/);
      fails(['run', '--rm', '--network', 'one', '--ip', '10.99.0.5', 'busybox', 'true'], 2, /outside the subnet/);
      fails(['run', '--rm', '--network', 'one', '--ip', 'x.y', 'busybox', 'true'], 2, /invalid IP address/);
      fails(['run', '--rm', '--ip', '172.17.0.9', '--network', 'bridge', 'busybox', 'true'], 2, /user-defined networks/);
      fails(['run', '--rm', '--network', 'container:nosuch', 'busybox', 'true'], 1, /no such container: nosuch/);
      fails(['run', '--rm', '-p', '80:99999', 'busybox', 'true'], 2, /invalid port spec/);
      fails(['run', '--rm', '-p', '1-3:4-5', 'busybox', 'true'], 2, /differ in size/);
      fails(['run', '--rm', '-p', '80/sctp', 'busybox', 'true'], 2, /unsupported protocol/);
      d.ok(['run', '-d', '--name', 'holder', '--network', 'one', '--ip', '10.232.0.10', 'busybox', 'sleep', '300']);
      fails(['run', '-d', '--network', 'one', '--ip', '10.232.0.10', 'busybox', 'true'], 1, /10\.232\.0\.10 is already in use/);
      d.ok(['rm', '-f', 'holder']);

      // the removed holder's veth goes in the background (the link reaper), a moment after `rm -f` answered
      await eventually(() => assert.deepEqual(listLinks(linkPrefix).map((l) => l.name).sort(), before, 'no link was left by a refused request'), 5_000, 'links back to before');
      const names = d.ok(['network', 'ls', '--format', 'json']).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { Name: string }).Name).sort();
      assert.deepEqual(names, ['bridge', 'host', 'none', 'one']);
      assert.deepEqual(d.ok(['ps', '-aq']).trim(), '', 'refused runs made no containers');
    }, NO_POOL);
  });
});
