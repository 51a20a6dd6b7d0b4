// The shim spawner (native/spawner): the daemon never forks a shim itself (the shim, detached, is re-parented to
// the daemon, its subreaper). What a user would notice: containers
// start, exec works, both outlive the daemon as before; the spawner goes with the daemon and answers nobody else;
// GANTRY_SHIM_SPAWNER=0 gives the old way, which still works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

/** Parent pid of a process, from /proc (undefined when it is gone). */
function ppidOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  } catch {
    return undefined;
  }
}
function commOf(pid: number): string | undefined {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return undefined; }
}

interface Inspect { State: { Pid: number; Running: boolean } }

/** The daemon's gantry-spawner child, if it has one. */
function spawnerOf(daemonPid: number): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if (commOf(Number(name)) === 'gantry-spawner' && ppidOf(Number(name)) === daemonPid) return Number(name);
  }
  return undefined;
}

describe('shim spawner', { skip }, () => {
  const d = new TestDaemon('spawner');
  const spawnerSocket = (): string => join(d.dir, 'run', 'shims', 'spawner.sock');
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.dispose());

  test('shims are children of the spawner, not of the daemon; the spawner goes with the daemon, containers stay', async () => {
    d.ok(['run', '-d', '--name', 'kept', '--network', 'none', 'busybox', 'sleep', '300']);
    const info = (JSON.parse(d.ok(['inspect', 'kept'])) as Inspect[])[0]!;
    const shim = ppidOf(info.State.Pid)!;
    assert.equal(commOf(shim), 'gantry-shim');
    // forked by the spawner, detached (`detach 1`), re-parented to the daemon, its subreaper
    assert.equal(ppidOf(shim), d.pid);
    const spawner = spawnerOf(d.pid!);
    assert.ok(spawner !== undefined, 'the daemon runs a spawner');
    assert.equal(statSync(spawnerSocket()).mode & 0o777, 0o600);
    assert.equal(statSync(join(d.dir, 'run', 'shims')).mode & 0o777, 0o700);
    assert.equal(d.ok(['exec', 'kept', 'echo', 'through the spawner']).trim(), 'through the spawner');

    await d.stop();
    await eventually(() => assert.equal(commOf(spawner), undefined), 5_000, 'the spawner to exit with the daemon');
    assert.equal(commOf(info.State.Pid), 'sleep', 'the container outlives the daemon');
    await d.start();
    assert.equal(d.ok(['exec', 'kept', 'echo', 'again']).trim(), 'again', 'a new spawner serves the new daemon');
    d.ok(['rm', '-f', 'kept']);
  });

  test('a request it does not know gets an error line, and starts nothing', async () => {
    d.ok(['run', '--rm', '--network', 'none', 'busybox', 'true']); // the spawner runs
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(spawnerSocket());
      let out = '';
      s.on('data', (c: Buffer) => { out += c.toString(); });
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.write('run relative/spec\n');
    });
    assert.equal(answer, 'error the spec path must be absolute\n');
  });
});

describe('GANTRY_SHIM_SPAWNER=0', { skip }, () => {
  const d = new TestDaemon('nospawner', [], { GANTRY_SHIM_SPAWNER: '0' });
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.dispose());

  test('the daemon forks the shims itself, and containers run as before', () => {
    assert.equal(d.ok(['run', '--rm', '--network', 'none', 'busybox', 'echo', 'forked by the daemon']).trim(), 'forked by the daemon');
    d.ok(['run', '-d', '--name', 'direct', '--network', 'none', 'busybox', 'sleep', '300']);
    const info = (JSON.parse(d.ok(['inspect', 'direct'])) as Inspect[])[0]!;
    assert.equal(ppidOf(ppidOf(info.State.Pid)!), d.pid);
    assert.equal(spawnerOf(d.pid!), undefined, 'no spawner');
    assert.equal(d.ok(['exec', 'direct', 'echo', 'exec too']).trim(), 'exec too');
    d.ok(['rm', '-f', 'direct']);
  });
});
