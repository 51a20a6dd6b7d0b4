// Interactive shells on a pseudo-TTY through the API, as `gantry run -it` and `gantry exec -it` use it (root).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { DaemonClient } from '../../src/cli/client.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

function collect(sock: Socket): { text: () => string } {
  let out = '';
  sock.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  sock.resume();
  return { text: () => out };
}

describe('interactive tty', { skip }, () => {
  const d = new TestDaemon('tty');
  let client: DaemonClient;
  before(async () => {
    await d.start();
    d.importBusybox();
    client = new DaemonClient(`unix://${d.socket}`);
  });
  after(async () => {
    client?.close();
    await d.dispose();
  });

  test('run -it: a shell answers on the tty, resize changes its size, exit code comes back', async () => {
    const { Id } = await client.call<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sh'], Tty: true, OpenStdin: true, StdinOnce: true } });
    const sock = await client.hijack(`/containers/${Id}/attach`, { query: { stream: true, stdin: true, stdout: true, stderr: true } });
    const out = collect(sock);
    await client.call('POST', `/containers/${Id}/start`);
    await client.call('POST', `/containers/${Id}/resize`, { query: { h: 33, w: 111 } });
    sock.write('tty; stty size; echo marker-$((6*7))\n');
    await eventually(() => assert.match(out.text(), /marker-42/), 5000, 'the shell to answer');
    assert.match(out.text(), /\/dev\/(console|pts\/\d+)/, 'stdin is a terminal');
    assert.match(out.text(), /33 111/);
    sock.write('exit 5\n');
    const res = await client.call<{ StatusCode: number }>('POST', `/containers/${Id}/wait`);
    assert.equal(res.StatusCode, 5);
    sock.destroy();
    await client.call('DELETE', `/containers/${Id}`);
  });

  test('exec -it: a second shell on its own tty in a running container', async () => {
    const { Id } = await client.call<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '60'] } });
    await client.call('POST', `/containers/${Id}/start`);
    const exec = await client.call<{ Id: string }>('POST', `/containers/${Id}/exec`, { body: { Cmd: ['sh'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true } });
    const sock = await client.hijack(`/exec/${exec.Id}/start`, { body: { Detach: false, Tty: true } });
    const out = collect(sock);
    sock.write('tty; ps -o comm | grep -c sleep; exit 3\n');
    await new Promise((r) => sock.on('close', r));
    assert.match(out.text(), /\/dev\/pts\/\d/);
    assert.match(out.text(), /\n1\r?\n/);
    const info = await client.call<{ ExitCode: number; Running: boolean }>('GET', `/exec/${exec.Id}/json`);
    assert.equal(info.ExitCode, 3);
    await client.call('DELETE', `/containers/${Id}`, { query: { force: true } });
  });

  test('ConsoleSize gives the pty its size from the start (run and exec), as docker -it sends it', async () => {
    const { Id } = await client.call<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['stty', 'size'], Tty: true, HostConfig: { ConsoleSize: [31, 107] } } });
    const sock = await client.hijack(`/containers/${Id}/attach`, { query: { stream: true, stdout: true, stderr: true } });
    const out = collect(sock);
    await client.call('POST', `/containers/${Id}/start`);
    await client.call('POST', `/containers/${Id}/wait`);
    await eventually(() => assert.match(out.text(), /^31 107\r?\n/), 5000, 'stty size with no resize sent');
    const inspected = await client.call<{ HostConfig: { ConsoleSize: number[] } }>('GET', `/containers/${Id}/json`);
    assert.deepEqual(inspected.HostConfig.ConsoleSize, [31, 107]);
    await client.call('DELETE', `/containers/${Id}`);

    const bad = await client.call('POST', '/containers/create', { body: { Image: 'busybox', Tty: true, HostConfig: { ConsoleSize: [24.5, 80] } } }).catch((e: unknown) => e);
    assert.ok(bad instanceof Error && /ConsoleSize must be \[height, width\]/.test(bad.message), String(bad));

    const host = await client.call<{ Id: string }>('POST', '/containers/create', { body: { Image: 'busybox', Cmd: ['sleep', '60'] } });
    await client.call('POST', `/containers/${host.Id}/start`);
    const exec = await client.call<{ Id: string }>('POST', `/containers/${host.Id}/exec`, { body: { Cmd: ['stty', 'size'], Tty: true, AttachStdout: true, ConsoleSize: [42, 123] } });
    const xs = await client.hijack(`/exec/${exec.Id}/start`, { body: { Detach: false, Tty: true } });
    const xout = collect(xs);
    await new Promise((r) => xs.on('close', r));
    assert.match(xout.text(), /^42 123\r?\n/);
    await client.call('DELETE', `/containers/${host.Id}`, { query: { force: true } });
  });
});
