// `--init` through the CLI, as a user runs it (root, real kernel): pid 1 is /sbin/gantry-init, a clean init that
// shows nothing of the host (no daemon environment, no host paths), forwards signals and reaps orphans.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

/** In the daemon's environment (inherited from this process): it must reach no container and no shim. */
const SECRET = 'GANTRY_TEST_SECRET=init-test-7f3a';

interface Inspect { State: { ExitCode: number; Pid: number; Status: string } }

describe('--init', { skip }, () => {
  const d = new TestDaemon('init');
  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['inspect', ref])) as Inspect[])[0]!;
  const nulList = (s: string): string[] => s.split('\0').filter((e) => e !== '');

  before(async () => {
    process.env['GANTRY_TEST_SECRET'] = SECRET.split('=')[1]!;
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d.dispose();
    delete process.env['GANTRY_TEST_SECRET'];
  });

  test("pid 1's environment is the container's, nothing of the daemon's", () => {
    const withInit = nulList(d.ok(['run', '--rm', '--init', '-h', 'box', '-e', 'FOO=bar', 'busybox', 'cat', '/proc/1/environ']));
    assert.ok(withInit.includes('FOO=bar'), withInit.join(' '));
    assert.ok(withInit.some((e) => e.startsWith('PATH=')), 'PATH is set');
    for (const name of ['GANTRY_TEST_SECRET', 'GANTRY_ROOT', 'GANTRY_HOST', 'GANTRY_PREFIX'])
      assert.ok(!withInit.some((e) => e.startsWith(`${name}=`)), `${name} is not in /proc/1/environ`);
    // exactly what the command gets without an init (where pid 1 is the command itself)
    const without = nulList(d.ok(['run', '--rm', '-h', 'box', '-e', 'FOO=bar', 'busybox', 'cat', '/proc/1/environ']));
    assert.deepEqual([...withInit].sort(), [...without].sort());
  });

  test('cmdline and exe are /sbin/gantry-init inside the container: no host path', () => {
    const cmdline = nulList(d.ok(['run', '--rm', '--init', 'busybox', 'cat', '/proc/1/cmdline']));
    assert.deepEqual(cmdline, ['/sbin/gantry-init', '--', 'cat', '/proc/1/cmdline']);
    assert.equal(d.ok(['run', '--rm', '--init', 'busybox', 'readlink', '/proc/1/exe']), '/sbin/gantry-init\n');
    // also as an unprivileged user, and under a read-only root
    assert.equal(d.ok(['run', '--rm', '--init', '--user', '65534', '--read-only', 'busybox', 'sh', '-c', 'id -u; readlink /proc/1/exe']),
      '65534\n/sbin/gantry-init\n');
  });

  test('seen from the host: the shim and the init carry no daemon environment', () => {
    d.ok(['run', '-d', '--init', '--name', 'hostview', '-e', 'FOO=bar', 'busybox', 'sleep', '1000']);
    try {
      const init = inspect('hostview').State.Pid;
      const shim = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${init}/status`, 'utf8'))?.[1]);
      assert.ok(shim > 1, 'the init has the shim as parent');
      assert.match(readFileSync(`/proc/${shim}/cmdline`, 'utf8'), /gantry-shim\0run\0/);
      assert.deepEqual(nulList(readFileSync(`/proc/${shim}/environ`, 'utf8')), [], 'the shim runs with an empty environment');
      const initEnv = nulList(readFileSync(`/proc/${init}/environ`, 'utf8'));
      assert.ok(initEnv.includes('FOO=bar') && !initEnv.includes(SECRET), initEnv.join(' '));
    } finally {
      d.ok(['rm', '-f', 'hostview']);
    }
  });

  test('stop: SIGTERM reaches the command through the init (143, not a SIGKILL after the grace period)', () => {
    d.ok(['run', '-d', '--init', '--name', 'sleeper', 'busybox', 'sleep', '1000']);
    d.ok(['stop', '-t', '5', 'sleeper']);
    const info = inspect('sleeper');
    assert.equal(info.State.Status, 'exited');
    assert.equal(info.State.ExitCode, 143, '128 + SIGTERM');
    d.ok(['rm', 'sleeper']);
  });

  test("the command's exit status is the container's; a missing command is 127 with the usual message", () => {
    assert.equal(d.gantry(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'exit 7']).status, 7);
    const plain = d.gantry(['run', '--rm', 'busybox', 'no-such-command']);
    const init = d.gantry(['run', '--rm', '--init', 'busybox', 'no-such-command']);
    assert.equal(init.status, 127);
    assert.match(init.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
    assert.equal(init.stderr, plain.stderr, 'the same message as without --init');
  });

  test('orphans are re-parented to the init and reaped', () => {
    // The inner shell exits at once, so its sleep becomes a child of pid 1, which must reap it when it ends.
    // Polled, not timed: the orphan shows as `sleep` once it has exec'd, and is gone once pid 1 has reaped it.
    const out = d.ok(['run', '--rm', '--init', 'busybox', 'sh', '-c',
      'sh -c "sleep 1 &"; for i in $(seq 100); do ps -o pid,ppid,comm | grep -w sleep && break; sleep 0.05; done; '
      + 'for i in $(seq 100); do ps -o pid,comm | grep -qw sleep || break; sleep 0.1; done; echo after; ps -o pid,stat,comm']);
    const [before, after] = out.split('after\n');
    assert.match(before ?? '', /^\s*\d+\s+1\s+sleep$/m, `the orphan's parent is pid 1:\n${out}`);
    assert.match(after ?? '', /^\s*1 \S+\s+gantry-init$/m, 'pid 1 is the init');
    assert.doesNotMatch(after ?? '', /^\s*\d+ Z/m, `no zombie, no orphan left:\n${out}`);
    assert.doesNotMatch(after ?? '', /^\s*\d+ \S+\s+sleep$/m, `the orphan was reaped:\n${out}`);
  });

  test('with a tty the terminal is the command\'s controlling terminal', () => {
    d.ok(['run', '-d', '-t', '--init', '--name', 'ttyinit', 'busybox', 'sh', '-c', 'tty; echo via-dev-tty >/dev/tty']);
    try {
      assert.equal(d.ok(['wait', 'ttyinit']).trim(), '0');
      const out = d.ok(['logs', 'ttyinit']);
      assert.match(out, /^\/dev\/(console|pts\/\d+)\r?$/m, out);
      assert.match(out, /^via-dev-tty\r?$/m, `/dev/tty opens: the command has a controlling terminal\n${out}`);
    } finally {
      d.ok(['rm', '-f', 'ttyinit']);
    }
  });
});
