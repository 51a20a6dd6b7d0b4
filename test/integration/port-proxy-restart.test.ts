// Published TCP ports through gantry-portproxy outlive the daemon: with the daemon killed (-9) or stopped, the
// port still answers; a restarted daemon adopts the same proxy process; `rm -f` closes the port and ends the
// process; a container that died while no daemon ran has its proxy stopped at the next start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { eventually, portProxyPids, type TestDaemon } from '../helpers/daemon.js';
import { withDaemon } from './networking-daemon.js';

const ECHO = `require('net').createServer((s) => s.once('data', (d) => s.end('tcp:' + d))).listen(7000);`;
const echoArgs = (): string[] => ['-v', '/:/host:ro', 'busybox', 'chroot', '/host', process.execPath, '-e', ECHO];

function tcpAsk(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
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

function hostPort(d: TestDaemon, container: string): number {
  const line = d.ok(['port', container, '7000']).trim().split('\n')[0] ?? '';
  return Number(line.slice(line.lastIndexOf(':') + 1));
}

describe('published ports outlive the daemon (root)', () => {
  test('kill -9 and SIGTERM of the daemon: the port answers; the restarted daemon adopts the proxy; rm -f closes it', async (t) => {
    await withDaemon(t, async ({ d, inspect }) => {
      d.ok(['run', '-d', '--name', 'api', '-p', '127.0.0.1::7000', ...echoArgs()]);
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
});
