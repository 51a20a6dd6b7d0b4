// What only a fake clock can show exactly, on the real engine core: restart backoff as Docker times it, the
// one-writer rule for records (networking and health reports both land), and a daemon restart in a backoff.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultSpec, type ContainerSpec } from '../../../src/engine/containers/container-spec.js';
import { ContainerStore } from '../../../src/engine/containers/store.js';
import type { EngineCore } from '../../../src/engine/core.js';
import { flush } from '../../fakes/fake-clock.js';
import { addFakeImage, disposeWorld, fakeWorld, openFakeEngine, type FakeEngineWorld } from '../../fakes/fake-engine.js';

function spec(cmd: string[], more: Partial<ContainerSpec['host']> = {}, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  const s = defaultSpec('busybox');
  return { ...s, cmd, ...extra, host: { ...s.host, networkMode: 'none', ...more } };
}

async function setup(): Promise<{ w: FakeEngineWorld; engine: EngineCore }> {
  const w = fakeWorld();
  const engine = await openFakeEngine(w);
  await addFakeImage(engine);
  return { w, engine };
}

describe('engine core on the fake clock', () => {
  test('restart backoff: 100 ms, then doubling (200, 400 ms), as Docker does for a container that keeps failing', async () => {
    const { w, engine } = await setup();
    try {
      const c = await engine.createContainer(spec(['sh', '-c', 'exit 1'], { restartPolicy: { name: 'on-failure', maximumRetryCount: 3 } }));
      const startedAt: number[] = [];
      engine.events.subscribe((e) => { if (e.Actor.ID === c.id && e.Action === 'start') startedAt.push(w.clock.now()); });
      await engine.startContainer(c.id);
      for (let i = 0; i < 40 && startedAt.length < 4; i++) await w.clock.advance(25);
      assert.deepEqual(startedAt.slice(1).map((t, i) => t - startedAt[i]!), [100, 200, 400]);
      await w.clock.advance(2000);
      assert.equal(engine.getContainer(c.id).state.status, 'exited');
      assert.equal(engine.getContainer(c.id).state.restartCount, 3);
    } finally { engine.close(); disposeWorld(w); }
  });

  test('a run of 10 s or more resets the backoff to 100 ms', async () => {
    const { w, engine } = await setup();
    try {
      const c = await engine.createContainer(spec(['sh', '-c', 'sleep 12; exit 1'], { restartPolicy: { name: 'always', maximumRetryCount: 0 } }));
      const startedAt: number[] = [];
      engine.events.subscribe((e) => { if (e.Actor.ID === c.id && e.Action === 'start') startedAt.push(w.clock.now()); });
      await engine.startContainer(c.id);
      for (let i = 0; i < 800 && startedAt.length < 3; i++) await w.clock.advance(50);
      assert.deepEqual(startedAt.slice(1).map((t, i) => t - startedAt[i]!), [12_100, 12_100]);
      await engine.removeContainer(c.id, { force: true, volumes: true });
    } finally { engine.close(); disposeWorld(w); }
  });

  test('one writer: a network change and health reports made at the same time both reach the record on disk', async () => {
    const { w, engine } = await setup();
    try {
      const c = await engine.createContainer(spec(['sleep', '1000'], {}, {
        healthcheck: { test: ['CMD', 'true'], intervalMs: 50, timeoutMs: 1000, startPeriodMs: 0, startIntervalMs: 50, retries: 1 },
      }));
      await engine.startContainer(c.id);
      engine.manager.setNetworks(c.id, 'none', [{ network: 'extra', aliases: ['x'], ipv4Address: undefined }]);
      await w.clock.advance(200);
      const onDisk = new ContainerStore(w.dir);
      onDisk.load();
      const rec = onDisk.get(c.id);
      assert.equal(rec.state.health?.status, 'healthy');
      assert.deepEqual(rec.host.networks, [{ network: 'extra', aliases: ['x'] }]);
      assert.equal(rec.state.status, 'running');
      await engine.removeContainer(c.id, { force: true, volumes: true });
    } finally { engine.close(); disposeWorld(w); }
  });

  test('the store hands out views: changing one does not change the record', async () => {
    const { w, engine } = await setup();
    try {
      const c = await engine.createContainer(spec(['true']));
      const view = engine.getContainer(c.id) as unknown as { name: string };
      const before = structuredClone(engine.getContainer(c.id));
      engine.manager.update(c.id, (r) => { r.name = 'renamed'; });
      assert.equal(view.name, before.name, 'an earlier view is a snapshot');
      assert.equal(engine.getContainer(c.id).name, 'renamed');
    } finally { engine.close(); disposeWorld(w); }
  });

  test('a daemon that died during a backoff starts the container when it comes back', async () => {
    const { w, engine } = await setup();
    try {
      const c = await engine.createContainer(spec(['sh', '-c', 'exit 1'], { restartPolicy: { name: 'always', maximumRetryCount: 0 } }));
      await engine.startContainer(c.id);
      await flush();
      assert.equal(engine.getContainer(c.id).state.status, 'restarting');
      engine.close();
      const again = await openFakeEngine(w);
      await w.clock.advance(150);
      const st = again.getContainer(c.id).state;
      assert.ok(st.status === 'running' || st.status === 'restarting', st.status);
      assert.ok(st.generation >= 2, 'started again after the daemon came back');
      await again.removeContainer(c.id, { force: true, volumes: true });
      again.close();
    } finally { disposeWorld(w); }
  });
});
