// Stack scenarios beyond up/down: healthchecks with Docker's semantics, restart on unhealthy, attached up, the
// stack verbs, scaling, optional dependencies, --wait timeouts and an interrupted up. Each step is a command and
// the state a user can observe afterwards (ps, inspect, events, logs, exit codes).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason } from '../helpers/privileged.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { containersOf, scenarioFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

interface HealthLog { Start: string; End: string; ExitCode: number; Output: string }
interface Inspect {
  Id: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; ExitCode: number; StartedAt: string;
    Health?: { Status: string; FailingStreak: number; Log: HealthLog[] } };
  Config: { Healthcheck?: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; StartInterval: number; Retries: number } };
}

function inspect(d: TestDaemon, name: string): Inspect {
  return (JSON.parse(d.ok(['inspect', name])) as Inspect[])[0]!;
}

interface StackEventLine { time: string; type: string; action: string; id: string; service: string; attributes: Record<string, string> }

/**
 * `gantry stack events --json` running beside the test. Resolves once it is known to be connected: a throwaway
 * container named after the project is created until its event shows up.
 */
async function watchEvents(d: TestDaemon, file: string, project: string): Promise<{ events: () => StackEventLine[]; stop: () => Promise<void> }> {
  const w = d.gantryAsync(['stack', '-f', file, 'events', '--json']);
  let out = '';
  w.proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  const events = (): StackEventLine[] => out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as StackEventLine);
  const stop = async (): Promise<void> => { if (w.proc.exitCode === null) w.proc.kill('SIGTERM'); await w.done; };
  try {
    await eventually(() => {
      d.ok(['create', '--name', `${project}-ping`, '--label', `gantry.project=${project}`, 'busybox', 'true']);
      d.ok(['rm', `${project}-ping`]);
      assert.ok(events().some((e) => e.action === 'create' && e.attributes['name'] === `${project}-ping`), 'the watcher saw the ping');
    }, 10_000, 'the events watcher to connect');
  } catch (e) {
    await stop();
    throw e;
  }
  return { events, stop };
}

const healthEvents = (events: StackEventLine[], name: string): string[] =>
  events.filter((e) => e.type === 'container' && e.attributes['name'] === name && e.action.startsWith('health_status')).map((e) => e.action);

/** Failed probes since the last passing one (the streak the Log shows). */
const failuresSinceSuccess = (log: readonly HealthLog[]): number => {
  let n = 0;
  for (const l of [...log].reverse()) { if (l.ExitCode === 0) break; n += 1; }
  return n;
};

describe('healthchecks (test/e2e/Healthchecks)', { skip }, () => {
  const d = new TestDaemon('stack-health');
  const file = scenarioFile('Healthchecks');
  let watcher: Awaited<ReturnType<typeof watchEvents>> | undefined;
  before(async () => {
    await d.start();
    d.importBusybox();
    watcher = await watchEvents(d, file, 'health');
    d.ok(['up', '-f', file, '-d', '--progress', 'plain']);
  });
  after(async () => { await watcher?.stop(); await d.dispose(); });

  test('CMD and CMD-SHELL probes make services healthy; ps and inspect show the status and the last results', async () => {
    await eventually(() => {
      const cs = containersOf(d, file);
      assert.match(cs.get('health-exec-form-1')!.Status, /\(healthy\)/);
      assert.match(cs.get('health-shell-form-1')!.Status, /\(healthy\)/);
    }, 10_000, 'both probes to pass');
    assert.match(d.ok(['stack', '-f', file, 'ps']), /health-shell-form-1 .*Up .*\(healthy\)/);
    const shell = inspect(d, 'health-shell-form-1').State.Health!;
    assert.equal(shell.Status, 'healthy');
    assert.equal(shell.FailingStreak, 0);
    const last = shell.Log.at(-1)!;
    assert.equal(last.ExitCode, 0);
    assert.match(last.Output, /^probed by (\/bin\/)?sh\n$/, 'CMD-SHELL runs the string with /bin/sh -c');
    assert.ok(Date.parse(last.End) >= Date.parse(last.Start));
    const exec = await eventually(() => {
      const h = inspect(d, 'health-exec-form-1').State.Health!;
      assert.ok(h.Log.length >= 3, 'three probes so far');
      return h;
    }, 5000, 'three probes of exec-form');
    assert.equal(exec.Status, 'healthy');
    assert.equal(exec.Log.at(-1)!.ExitCode, 0);
    const starts = exec.Log.map((l) => Date.parse(l.Start));
    for (let i = 1; i < starts.length; i++) {
      const gap = starts[i]! - starts[i - 1]!;
      assert.ok(gap >= 250 && gap < 2000, `probes ${gap}ms apart, interval is 300ms`);
    }
    await eventually(() => assert.deepEqual(healthEvents(watcher!.events(), 'health-shell-form-1'), ['health_status: healthy']), 5000, 'the healthy event');
  });

  test('`retries` consecutive failures turn a service unhealthy, one pass makes it healthy again; each change is an event', async () => {
    d.ok(['stack', '-f', file, 'exec', '-T', 'shell-form', 'rm', '/tmp/healthy']);
    const seen = await eventually(() => {
      const h = inspect(d, 'health-shell-form-1').State.Health!;
      assert.equal(h.Status, 'unhealthy');
      return h;
    }, 10_000, 'shell-form to turn unhealthy');
    assert.ok(failuresSinceSuccess(seen.Log) >= 3, `unhealthy only after 3 failures (retries: 3), log: ${JSON.stringify(seen.Log)}`);
    assert.equal(seen.Log.at(-1)!.ExitCode, 1);
    assert.match(d.ok(['stack', '-f', file, 'ps', 'shell-form']), /\(unhealthy\)/);
    await eventually(() => assert.deepEqual(healthEvents(watcher!.events(), 'health-shell-form-1'), ['health_status: healthy', 'health_status: unhealthy']),
      5000, 'the unhealthy event');
    assert.equal(inspect(d, 'health-shell-form-1').State.Status, 'running', 'an unhealthy container keeps running');

    d.ok(['stack', '-f', file, 'exec', '-T', 'shell-form', 'touch', '/tmp/healthy']);
    await eventually(() => assert.equal(inspect(d, 'health-shell-form-1').State.Health!.Status, 'healthy'), 5000, 'shell-form to be healthy again');
    await eventually(() => assert.deepEqual(healthEvents(watcher!.events(), 'health-shell-form-1'),
      ['health_status: healthy', 'health_status: unhealthy', 'health_status: healthy']), 5000, 'the second healthy event');
  });

  test('a probe that hangs longer than `timeout` is killed and counts as a failure', async () => {
    const h = await eventually(() => {
      const x = inspect(d, 'health-hangs-1').State.Health!;
      assert.equal(x.Status, 'unhealthy');
      return x;
    }, 10_000, 'hangs to turn unhealthy');
    const last = h.Log.at(-1)!;
    assert.equal(last.ExitCode, -1);
    assert.match(last.Output, /exceeded timeout/);
    const took = Date.parse(last.End) - Date.parse(last.Start);
    assert.ok(took >= 250 && took < 3000, `the probe was stopped at its 300ms timeout, not after 30s (took ${took}ms)`);
    assert.equal(inspect(d, 'health-hangs-1').State.Status, 'running');
    await eventually(() => assert.deepEqual(healthEvents(watcher!.events(), 'health-hangs-1'), ['health_status: unhealthy']), 5000, 'the unhealthy event');
  });

  test('failures during `start_period` do not count, and meanwhile probes run every `start_interval`', async () => {
    const h = await eventually(() => {
      const x = inspect(d, 'health-slow-start-1').State.Health!;
      assert.equal(x.Status, 'healthy');
      return x;
    }, 10_000, 'slow-start to become healthy');
    // retries: 1, yet the failures while the service started did not make it unhealthy.
    const untilPass = h.Log.slice(0, h.Log.findIndex((l) => l.ExitCode === 0) + 1);
    assert.ok(untilPass.length >= 4, `failing probes before the first pass: ${JSON.stringify(h.Log)}`);
    const starts = untilPass.map((l) => Date.parse(l.Start));
    for (let i = 1; i < starts.length; i++) {
      assert.ok(starts[i]! - starts[i - 1]! < 2000, `probes ${starts[i]! - starts[i - 1]!}ms apart: start_interval (100ms) applies, not interval (30s)`);
    }
    await eventually(() => assert.deepEqual(healthEvents(watcher!.events(), 'health-slow-start-1'), ['health_status: healthy']), 5000, 'the healthy event');
    const hc = inspect(d, 'health-slow-start-1').Config.Healthcheck!;
    assert.deepEqual([hc.Test, hc.Interval, hc.StartPeriod, hc.StartInterval, hc.Retries], [['CMD', 'test', '-f', '/tmp/ready'], 30e9, 10e9, 100e6, 1]);
  });

  test('test: ["NONE"] and disable: true switch off the check a service inherits from its parent', async () => {
    await eventually(() => assert.equal(inspect(d, 'health-parent-1').State.Health?.Status, 'unhealthy'), 10_000, 'the parent check to fail');
    for (const name of ['health-none-1', 'health-disabled-1']) {
      const c = inspect(d, name);
      assert.equal(c.State.Status, 'running');
      assert.equal(c.State.Health, undefined, `${name} has no health state`);
      assert.doesNotMatch(containersOf(d, file).get(name)!.Status, /health/);
      assert.deepEqual(healthEvents(watcher!.events(), name), []);
    }
  });
});

describe('restart on unhealthy (test/e2e/RestartOnUnhealthy)', { skip }, () => {
  const d = new TestDaemon('stack-unhealthy');
  const file = scenarioFile('RestartOnUnhealthy');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  test('x-gantry restart-on-unhealthy restarts a container that turns unhealthy; without it, it is left running unhealthy', async () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    const before = { restarted: inspect(d, 'unhealthy-restarted-1'), left: inspect(d, 'unhealthy-left-1') };
    d.ok(['stack', '-f', file, 'exec', '-T', 'restarted', 'rm', '/tmp/alive']);
    d.ok(['stack', '-f', file, 'exec', '-T', 'left', 'rm', '/tmp/alive']);
    await eventually(() => {
      const c = inspect(d, 'unhealthy-restarted-1');
      assert.equal(c.Id, before.restarted.Id, 'the same container, restarted (not recreated)');
      assert.ok(c.RestartCount >= 1, `RestartCount ${c.RestartCount}`);
      assert.notEqual(c.State.StartedAt, before.restarted.State.StartedAt);
      assert.equal(c.State.Status, 'running');
      assert.equal(c.State.Health?.Status, 'healthy', 'its command recreated /tmp/alive');
    }, 10_000, 'restarted-1 to be restarted and healthy');
    const left = inspect(d, 'unhealthy-left-1');
    assert.equal(left.State.Health?.Status, 'unhealthy');
    assert.equal(left.State.Status, 'running');
    assert.equal(left.RestartCount, 0);
    assert.equal(left.State.StartedAt, before.left.State.StartedAt);
  });
});

describe('attached up (test/e2e/Attached)', { skip }, () => {
  const d = new TestDaemon('stack-attached');
  const file = scenarioFile('Attached');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  test('up without -d streams prefixed logs; SIGINT stops the stack and leaves the containers', async () => {
    const up = d.gantryAsync(['up', '-f', file, '--progress', 'plain', 'talker']);
    let out = '';
    up.proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    try {
      await eventually(() => assert.match(out, /^talker-1 +\| tick 2$/m), 15_000, 'prefixed log lines');
      up.proc.kill('SIGINT');
      const r = await up.done;
      assert.match(r.stderr, /Gracefully stopping/);
      assert.equal(r.status, 130);
      assert.match(r.stdout, /^talker-1 +\| stopping$/m, 'the container got SIGTERM and its last words were streamed');
    } finally {
      if (up.proc.exitCode === null) up.proc.kill('SIGKILL');
    }
    const talker = containersOf(d, file).get('attached-talker-1');
    assert.ok(talker, 'the container is not removed');
    assert.equal(talker.State, 'exited');
    assert.equal(inspect(d, 'attached-talker-1').State.ExitCode, 3);
  });

  test('--abort-on-container-exit stops everything when one container exits, with its exit code', () => {
    // A one-off of `stack run` is not a service container: its exit does not end the up.
    d.ok(['stack', '-f', file, 'run', '-d', 'talker', 'sh', '-c', 'exit 9']);
    const r = d.gantry(['up', '-f', file, '--progress', 'plain', '--abort-on-container-exit'], { timeoutMs: 30_000 });
    assert.equal(r.status, 7, r.stderr);
    assert.match(r.stdout, /^quitter-1 +\| bye$/m);
    assert.match(r.stdout, /attached-quitter-1 exited with code 7/);
    for (const c of containersOf(d, file).values()) assert.equal(c.State, 'exited');
  });

  test('--exit-code-from SERVICE exits with that service\'s code', () => {
    const r = d.gantry(['up', '-f', file, '--progress', 'plain', '--exit-code-from', 'talker'], { timeoutMs: 30_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout.match(/^quitter-1 +\| bye$/gm)?.length, 1, `only what this up's run printed, not the previous runs' output:\n${r.stdout}`);
    for (const c of containersOf(d, file).values()) assert.equal(c.State, 'exited');
  });
});

describe('stack verbs (test/e2e/Verbs)', { skip }, () => {
  const d = new TestDaemon('stack-verbs');
  const file = scenarioFile('Verbs');
  const stack = (...args: string[]): string => d.ok(['stack', '-f', file, ...args]);
  before(async () => {
    await d.start();
    d.importBusybox();
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
  });
  after(async () => { await d.dispose(); });

  test('logs --tail N -t: the last N lines, prefixed and timestamped', async () => {
    await eventually(() => assert.match(stack('logs', 'app'), /line 5/), 5000, 'the app output');
    const lines = stack('logs', '--tail', '2', '-t', 'app').split('\n').filter(Boolean);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^app-1 +\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line 4$/);
    assert.match(lines[1]!, /^app-1 +\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line 5$/);
  });

  test('config --services lists the services; config -q only validates', () => {
    assert.deepEqual(stack('config', '--services').split('\n').filter(Boolean).sort(), ['app', 'web']);
    assert.equal(stack('config', '-q'), '');
    const bad = d.gantry(['stack', '-f', scenarioFile('Invalid'), 'config', '-q']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /compose\.yaml:\d+:\d+/);
  });

  test('ls lists the project with its status', () => {
    assert.match(d.ok(['stack', 'ls']), /^verbs +running\(2\) +\S*Verbs\/compose\.yaml$/m);
  });

  test('run --rm: a one-off container, its exit code propagated, removed afterwards', async () => {
    const r = d.gantry(['stack', '-f', file, 'run', '--rm', 'app', 'sh', '-c', 'echo one-off says $GREETING; exit 5']);
    assert.equal(r.status, 5, r.stderr);
    assert.equal(r.stdout, 'one-off says hello\n');
    await eventually(() => assert.doesNotMatch(d.ok(['ps', '-a', '--format', 'json']), /verbs-app-run-/), 5000, 'the one-off to be removed');
    assert.deepEqual([...containersOf(d, file).keys()].sort(), ['verbs-app-1', 'verbs-web-1']);
  });

  test('exec runs in the service container and propagates the exit code', () => {
    const r = d.gantry(['stack', '-f', file, 'exec', '-T', 'app', 'sh', '-c', 'echo $GREETING from $(hostname); exit 4']);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stdout, /^hello from \S+\n$/);
  });

  test('top shows the processes of each container', () => {
    const out = stack('top');
    assert.match(out, /verbs-app-1/);
    assert.match(out, /verbs-web-1/);
    assert.match(out, /sleep 100000/);
    assert.match(out, /httpd -f -p 8080/);
  });

  test('port prints the published address of a private port', () => {
    assert.equal(stack('port', 'web', '8080'), '127.0.0.1:18391\n');
  });

  test('images lists the image of each container', () => {
    const out = stack('images');
    assert.match(out, /verbs-app-1 +busybox/);
    assert.match(out, /verbs-web-1 +busybox/);
    assert.equal(stack('images', '-q').split('\n').filter(Boolean).length, 1, 'one image, listed once');
  });

  test('pause and unpause', () => {
    stack('pause', 'app');
    assert.equal(containersOf(d, file).get('verbs-app-1')!.State, 'paused');
    assert.match(stack('ps', 'app'), /\(Paused\)/);
    stack('unpause', 'app');
    assert.equal(containersOf(d, file).get('verbs-app-1')!.State, 'running');
  });

  test('stop and start', () => {
    stack('stop', 'app');
    const cs = containersOf(d, file);
    assert.equal(cs.get('verbs-app-1')!.State, 'exited');
    assert.equal(cs.get('verbs-web-1')!.State, 'running', 'only the named service stops');
    stack('start', 'app');
    assert.equal(containersOf(d, file).get('verbs-app-1')!.State, 'running');
  });

  test('restart starts the same containers again', () => {
    const before = inspect(d, 'verbs-app-1');
    stack('restart', 'app');
    const now = inspect(d, 'verbs-app-1');
    assert.equal(now.Id, before.Id);
    assert.notEqual(now.State.StartedAt, before.State.StartedAt);
    assert.equal(now.State.Status, 'running');
  });

  test('kill, then rm removes the stopped containers only; the daemon does not bring them back until up', async () => {
    stack('kill', 'app');
    await eventually(() => assert.equal(containersOf(d, file).get('verbs-app-1')!.State, 'exited'), 5000, 'app to die');
    assert.equal(inspect(d, 'verbs-app-1').State.ExitCode, 137);
    const r = d.gantry(['stack', '-f', file, 'rm']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Container verbs-app-1 +Removed/);
    assert.deepEqual([...containersOf(d, file).keys()], ['verbs-web-1']);
    assert.match(d.ok(['stack', 'ls']), /^verbs +running\(1\) /m);
    d.ok(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.equal(containersOf(d, file).get('verbs-app-1')?.State, 'running');
  });
});

describe('scaling and optional dependencies (test/e2e/Scale)', { skip }, () => {
  const d = new TestDaemon('stack-scale');
  const file = scenarioFile('Scale');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  const names = (): string[] => [...containersOf(d, file).keys()].sort();

  test('depends_on with required: false: a profile-disabled or undefined dependency does not stop up', () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain', 'app']);
    assert.deepEqual(names(), ['scale-app-1']);
    assert.equal(containersOf(d, file).get('scale-app-1')!.State, 'running');
  });

  test('the daemon keeps the services of `up SERVICE` converged, and only those', async () => {
    const old = inspect(d, 'scale-app-1').Id;
    d.ok(['rm', '-f', 'scale-app-1']);
    await eventually(() => {
      const c = containersOf(d, file).get('scale-app-1');
      assert.ok(c && c.Id !== old && c.State === 'running', 'app-1 recreated and running');
    }, 10_000, 'app-1 to come back');
    assert.deepEqual(names(), ['scale-app-1'], 'services that were never brought up stay down');
  });

  test('deploy.replicas sets the number of containers', () => {
    d.ok(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.deepEqual(names(), ['scale-app-1', 'scale-web-1', 'scale-worker-1', 'scale-worker-2']);
  });

  test('--scale web=3 then --scale web=1', async () => {
    d.ok(['up', '-f', file, '-d', '--scale', 'web=3', '--progress', 'plain']);
    assert.deepEqual(names().filter((n) => n.includes('-web-')), ['scale-web-1', 'scale-web-2', 'scale-web-3']);
    for (const c of containersOf(d, file).values()) assert.equal(c.State, 'running');
    // An up of another service leaves web at 3, also when the daemon repairs the stack afterwards.
    d.ok(['up', '-f', file, '-d', '--progress', 'plain', 'worker']);
    const old = inspect(d, 'scale-worker-1').Id;
    d.ok(['rm', '-f', 'scale-worker-1']);
    await eventually(() => {
      const c = containersOf(d, file).get('scale-worker-1');
      assert.ok(c && c.Id !== old && c.State === 'running', 'worker-1 recreated and running');
    }, 10_000, 'worker-1 to come back');
    assert.deepEqual(names().filter((n) => n.includes('-web-')), ['scale-web-1', 'scale-web-2', 'scale-web-3']);
    d.ok(['up', '-f', file, '-d', '--scale', 'web=1', '--progress', 'plain']);
    assert.deepEqual(names().filter((n) => n.includes('-web-')), ['scale-web-1']);
  });

  test('--scale overrides deploy.replicas for one up; a plain up goes back to the replicas', () => {
    d.ok(['up', '-f', file, '-d', '--scale', 'worker=3', '--progress', 'plain']);
    assert.deepEqual(names().filter((n) => n.includes('-worker-')), ['scale-worker-1', 'scale-worker-2', 'scale-worker-3']);
    d.ok(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.deepEqual(names().filter((n) => n.includes('-worker-')), ['scale-worker-1', 'scale-worker-2']);
  });

  test('with its profile enabled, the optional dependency is started too', () => {
    d.ok(['up', '-f', file, '--profile', 'db', '-d', '--progress', 'plain']);
    assert.equal(containersOf(d, file).get('scale-db-1')?.State, 'running');
  });
});

describe('up --wait failures and interruptions (test/e2e/WaitTimeout, test/e2e/Interrupted)', { skip }, () => {
  const d = new TestDaemon('stack-wait');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  test('--wait-timeout 3 fails within about 3 seconds, naming the service that is not ready', () => {
    const file = scenarioFile('WaitTimeout');
    const t0 = Date.now();
    const r = d.gantry(['up', '-f', file, '-d', '--wait', '--wait-timeout', '3', '--progress', 'plain']);
    const took = Date.now() - t0;
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /service "never": not ready after 3s/);
    assert.doesNotMatch(r.stderr, /service "fine"/);
    assert.ok(took >= 3000 && took < 6000, `took ${took}ms`);
    const cs = containersOf(d, file);
    assert.equal(cs.get('waittimeout-fine-1')?.State, 'running');
    assert.match(cs.get('waittimeout-never-1')!.Status, /health: starting/);
  });

  test('SIGINT during up -d --wait leaves a state from which the next up -d --wait converges', async () => {
    const file = scenarioFile('Interrupted');
    const up = d.gantryAsync(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    let err = '';
    up.proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    try {
      await eventually(() => assert.match(err, /Container interrupted-db-1 +Started/), 15_000, 'db to be started');
      up.proc.kill('SIGINT');
      const r = await up.done;
      assert.notEqual(r.status, 0, 'an interrupted up does not report success');
    } finally {
      if (up.proc.exitCode === null) up.proc.kill('SIGKILL');
    }
    // The daemon gave up too: once db is healthy, app is still not started.
    await eventually(() => assert.match(containersOf(d, file).get('interrupted-db-1')!.Status, /\(healthy\)/), 10_000, 'db to become healthy');
    assert.notEqual(containersOf(d, file).get('interrupted-app-1')?.State, 'running', 'the interrupted up did not go on in the daemon');
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    const cs = containersOf(d, file);
    assert.equal(cs.get('interrupted-app-1')?.State, 'running');
    assert.match(cs.get('interrupted-db-1')!.Status, /\(healthy\)/);
    assert.equal(d.ok(['up', '-f', file, '-d', '--dry-run']), 'nothing to do\n');
  });
});
