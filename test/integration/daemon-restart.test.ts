// Containers outlive the daemon; restart policies follow Docker's rules (root, real kernel).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

interface Inspect { Id: string; RestartCount: number; State: { Status: string; ExitCode: number; Pid: number } }

describe('daemon restarts and restart policies', { skip }, () => {
  const d = new TestDaemon('restart');
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.dispose());

  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['inspect', ref])) as Inspect[])[0]!;

  test('kill -9 of the daemon: containers keep running and logging, exits are recorded, stop works', async () => {
    d.ok(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done']);
    d.ok(['run', '-d', '--name', 'quitter', 'busybox', 'sh', '-c', 'sleep 0.5; exit 7']);
    const pid = inspect('survivor').State.Pid;
    await d.crash();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    process.kill(pid, 0); // still alive without a daemon
    await d.start();
    assert.match(d.ok(['ps']), /survivor/);
    assert.equal(inspect('survivor').State.Status, 'running');
    const ticks = d.ok(['logs', 'survivor']).trim().split('\n').length;
    assert.ok(ticks >= 10, `logs kept flowing while the daemon was down (${ticks} lines)`);
    const quitter = inspect('quitter');
    assert.equal(quitter.State.Status, 'exited');
    assert.equal(quitter.State.ExitCode, 7);
    d.ok(['stop', '-t', '1', 'survivor']);
    assert.equal(inspect('survivor').State.Status, 'exited');
    d.ok(['rm', 'survivor', 'quitter']);
  });

  test('on-failure:N restarts a failing container N times, then gives up', async () => {
    d.ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'echo run; exit 3']);
    await eventually(() => {
      const i = inspect('flaky');
      assert.equal(i.RestartCount, 2);
      assert.equal(i.State.Status, 'exited');
    }, 10_000, 'two restarts');
    assert.equal(d.ok(['logs', 'flaky']), 'run\nrun\nrun\n');
    d.ok(['rm', 'flaky']);
  });

  test('always restarts after a clean exit too; a manual stop holds', async () => {
    d.ok(['run', '-d', '--name', 'loop', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.2']);
    await eventually(() => assert.ok(inspect('loop').RestartCount >= 2), 10_000, 'restarts');
    d.ok(['stop', '-t', '1', 'loop']);
    const count = inspect('loop').RestartCount;
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(inspect('loop').State.Status, 'exited');
    assert.equal(inspect('loop').RestartCount, count);
    d.ok(['rm', 'loop']);
  });

  test('unless-stopped remembers a manual stop across daemon restarts; always does not', async () => {
    d.ok(['run', '-d', '--name', 'us', '--restart', 'unless-stopped', 'busybox', 'sleep', '60']);
    d.ok(['run', '-d', '--name', 'al', '--restart', 'always', 'busybox', 'sleep', '60']);
    d.ok(['stop', '-t', '0', 'us', 'al']);
    await d.stop();
    await d.start();
    // docker: `always` comes back when the daemon restarts, `unless-stopped` stays stopped.
    assert.equal(inspect('us').State.Status, 'exited');
    await eventually(() => assert.equal(inspect('al').State.Status, 'running'), 10_000, '`always` to come back');
    d.ok(['rm', '-f', 'us', 'al']);
  });

  test('a container running under a restart policy comes back after the daemon was killed and it died meanwhile', async () => {
    d.ok(['run', '-d', '--name', 'phoenix', '--restart', 'always', 'busybox', 'sleep', '60']);
    const pid = inspect('phoenix').State.Pid;
    await d.crash();
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await d.start();
    await eventually(() => {
      const i = inspect('phoenix');
      assert.equal(i.State.Status, 'running');
      assert.notEqual(i.State.Pid, pid);
    }, 10_000, 'phoenix to be restarted');
    d.ok(['rm', '-f', 'phoenix']);
  });
});
