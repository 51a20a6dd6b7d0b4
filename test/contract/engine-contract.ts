// One contract for every Engine: run by test/unit/core/engine-contract.test.ts against the fake engine (no root,
// fake clock) and by test/integration/engine-contract.test.ts against the Linux engine (root, real kernel), so
// the fake cannot drift from what the real engine does. Each case asserts what a user would see.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultSpec, type ContainerSpec } from '../../src/engine/containers/container-spec.js';
import type { Engine } from '../../src/engine/engine.js';
import type { EngineEvent } from '../../src/engine/events/bus.js';

export interface ContractHarness {
  readonly engine: Engine;
  /** A busybox-like image reference. */
  readonly image: string;
  /** Waits for `cond`, letting (fake or real) time pass between checks; fails with `what` past the deadline. */
  eventually(cond: () => boolean, what: string, maxMs?: number): Promise<void>;
  /** Awaits `p` while time passes (a fake clock is advanced meanwhile). */
  settle<T>(p: Promise<T>): Promise<T>;
  /** Lets `ms` of (fake or real) time pass. */
  pass(ms: number): Promise<void>;
  /** Stops the engine as a daemon stop does (containers keep running) and opens a new one on the same state. */
  restartDaemon(): Promise<Engine>;
  /** Ends a container's process while no engine watches (between stop and restart of the daemon). */
  killProcess(id: string): Promise<void>;
  dispose(): Promise<void>;
}

export function engineContract(name: string, make: () => Promise<ContractHarness>): void {
  const spec = (h: ContractHarness, cmd: string[], more: Partial<ContainerSpec> = {}): ContainerSpec => {
    const s = defaultSpec(h.image);
    return { ...s, cmd, ...more, host: { ...s.host, networkMode: 'none', ...more.host } };
  };
  const withHarness = (title: string, fn: (h: ContractHarness) => Promise<void>): void => {
    test(title, async () => {
      const h = await make();
      try { await fn(h); } finally { await h.dispose(); }
    });
  };

  describe(`engine contract: ${name}`, () => {
    withHarness('create, start, wait: the exit code is recorded and events come in order', async (h) => {
      const seen: string[] = [];
      const off = h.engine.events.subscribe((e: EngineEvent) => { if (e.Type === 'container') seen.push(e.Action); });
      const c = await h.engine.createContainer(spec(h, ['sh', '-c', 'exit 3']));
      assert.equal(h.engine.getContainer(c.id).state.status, 'created');
      const waiting = h.engine.waitContainer(c.id, 'next-exit');
      await h.engine.startContainer(c.id);
      assert.equal(await h.settle(waiting), 3);
      await h.eventually(() => h.engine.getContainer(c.id).state.status === 'exited', 'exited');
      const st = h.engine.getContainer(c.id).state;
      assert.equal(st.exitCode, 3);
      off();
      assert.deepEqual(seen.filter((a) => ['create', 'start', 'die'].includes(a)), ['create', 'start', 'die']);
      await h.engine.removeContainer(c.id, { force: false, volumes: true });
      assert.equal(h.engine.findContainer(c.id), undefined);
    });

    withHarness('an unknown command fails the start with 127 and a clear message; the record stays', async (h) => {
      const c = await h.engine.createContainer(spec(h, ['no-such-command']));
      await assert.rejects(h.engine.startContainer(c.id), (e: Error & { code?: string }) => e.code === 'COMMAND_NOT_FOUND' && /executable file not found/.test(e.message));
      const st = h.engine.getContainer(c.id).state;
      assert.equal(st.status, 'exited');
      assert.equal(st.exitCode, 127);
      await h.engine.removeContainer(c.id, { force: false, volumes: true });
    });

    withHarness('stop: pid 1 without a handler ignores SIGTERM, so stop kills it after the grace period (137)', async (h) => {
      const c = await h.engine.createContainer(spec(h, ['sleep', '1000'], { stopTimeoutSeconds: 1 }));
      await h.engine.startContainer(c.id);
      assert.equal(h.engine.getContainer(c.id).state.status, 'running');
      assert.ok(h.engine.getContainer(c.id).state.pid > 0);
      await h.settle(h.engine.stopContainer(c.id));
      const st = h.engine.getContainer(c.id).state;
      assert.equal(st.status, 'exited');
      assert.equal(st.exitCode, 137);
      await h.engine.removeContainer(c.id, { force: false, volumes: true });
    });

    withHarness('removing a running container needs force', async (h) => {
      const c = await h.engine.createContainer(spec(h, ['sleep', '1000']));
      await h.engine.startContainer(c.id);
      await assert.rejects(h.engine.removeContainer(c.id, { force: false, volumes: true }), (e: Error & { code?: string }) => e.code === 'CONTAINER_RUNNING');
      await h.settle(h.engine.removeContainer(c.id, { force: true, volumes: true }));
      assert.equal(h.engine.findContainer(c.id), undefined);
    });

    withHarness('restart policy on-failure:2 restarts twice, then leaves it exited', async (h) => {
      const s = spec(h, ['sh', '-c', 'exit 1']);
      const c = await h.engine.createContainer({ ...s, host: { ...s.host, restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } } });
      let starts = 0;
      const off = h.engine.events.subscribe((e) => { if (e.Actor.ID === c.id && e.Action === 'start') starts++; });
      await h.engine.startContainer(c.id);
      await h.eventually(() => starts === 3 && h.engine.getContainer(c.id).state.status === 'exited', 'three starts, then exited', 10_000);
      off();
      assert.equal(h.engine.getContainer(c.id).state.restartCount, 2);
      assert.equal(h.engine.getContainer(c.id).state.exitCode, 1);
      await h.engine.removeContainer(c.id, { force: true, volumes: true });
    });

    withHarness('restart policy always: a manual stop is not undone by the policy', async (h) => {
      const s = spec(h, ['sleep', '1000'], { stopTimeoutSeconds: 1 });
      const c = await h.engine.createContainer({ ...s, host: { ...s.host, restartPolicy: { name: 'always', maximumRetryCount: 0 } } });
      await h.engine.startContainer(c.id);
      await h.settle(h.engine.stopContainer(c.id));
      // Longer than the first restart backoff (100 ms): a restart the policy wrongly scheduled would have run.
      await h.pass(1000);
      assert.equal(h.engine.getContainer(c.id).state.status, 'exited');
      assert.equal(h.engine.getContainer(c.id).state.manuallyStopped, true);
      await h.engine.removeContainer(c.id, { force: true, volumes: true });
    });

    withHarness('health: starting → healthy once the probe passes → unhealthy after `retries` failures', async (h) => {
      const c = await h.engine.createContainer(spec(h, ['sleep', '1000'], {
        healthcheck: { test: ['CMD-SHELL', 'test -f /tmp/healthy'], intervalMs: 100, timeoutMs: 2000, startPeriodMs: 0, startIntervalMs: 100, retries: 2 },
      }));
      const health: string[] = [];
      const off = h.engine.events.subscribe((e) => { if (e.Actor.ID === c.id && e.Action.startsWith('health_status')) health.push(e.Action); });
      await h.engine.startContainer(c.id);
      assert.equal(h.engine.getContainer(c.id).state.health?.status, 'starting');
      const run = async (cmd: string[]): Promise<number> => {
        const x = h.engine.createExec(c.id, { Cmd: cmd });
        const { finished } = await h.engine.startExec(x, undefined);
        return h.settle(finished);
      };
      assert.equal(await run(['touch', '/tmp/healthy']), 0);
      await h.eventually(() => h.engine.getContainer(c.id).state.health?.status === 'healthy', 'healthy', 10_000);
      assert.equal(await run(['rm', '-f', '/tmp/healthy']), 0);
      await h.eventually(() => h.engine.getContainer(c.id).state.health?.status === 'unhealthy', 'unhealthy', 10_000);
      off();
      assert.deepEqual(health, ['health_status: healthy', 'health_status: unhealthy']);
      const log = h.engine.getContainer(c.id).state.health!.log;
      assert.ok(log.length >= 2 && log[log.length - 1]!.exitCode !== 0, 'the failing probe is in the health log');
      await h.settle(h.engine.removeContainer(c.id, { force: true, volumes: true }));
    });

    withHarness('recovery: a daemon restart re-adopts a running container and records an exit that happened meanwhile', async (h) => {
      const a = await h.engine.createContainer(spec(h, ['sleep', '1000'], { stopTimeoutSeconds: 1 }));
      const b = await h.engine.createContainer(spec(h, ['sleep', '1000']));
      await h.engine.startContainer(a.id);
      await h.engine.startContainer(b.id);
      const pidA = h.engine.getContainer(a.id).state.pid;
      const engine = await h.restartDaemon();
      assert.equal(engine.getContainer(a.id).state.status, 'running');
      assert.equal(engine.getContainer(a.id).state.pid, pidA);
      await h.killProcess(b.id);
      const again = await h.restartDaemon();
      await h.eventually(() => again.getContainer(b.id).state.status === 'exited', 'b recorded as exited');
      assert.equal(again.getContainer(b.id).state.exitCode, 137);
      assert.equal(again.getContainer(a.id).state.status, 'running');
      await h.settle(again.stopContainer(a.id));
      assert.equal(again.getContainer(a.id).state.status, 'exited');
      await again.removeContainer(a.id, { force: true, volumes: true });
      await again.removeContainer(b.id, { force: true, volumes: true });
    });

    withHarness('anonymous volumes: an image VOLUME gets one; rm -v removes it, rm keeps a named one', async (h) => {
      h.engine.createVolume('contract-named', { labels: {} });
      const s = spec(h, ['true'], { anonymousVolumes: ['/data'] });
      const c = await h.engine.createContainer({ ...s, host: { ...s.host, mounts: [{ type: 'volume', source: 'contract-named', target: '/named', readOnly: false }] } });
      const anon = h.engine.getContainer(c.id).host.mounts.find((m) => m.target === '/data')?.source;
      assert.ok(anon !== undefined && h.engine.volumes.find(anon)?.anonymous === true, 'an anonymous volume at /data');
      assert.deepEqual(h.engine.volumeUsers(anon), [c.name]);
      await h.engine.removeContainer(c.id, { force: false, volumes: true });
      assert.equal(h.engine.volumes.find(anon), undefined, 'the anonymous volume went with rm -v');
      assert.ok(h.engine.volumes.find('contract-named'), 'the named volume stays');
      h.engine.removeVolume('contract-named');
    });
  });
}
