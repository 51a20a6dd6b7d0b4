// The stack service and executor against the fake engine (no root, fake clock): whole event sequences of up,
// an unchanged up, a change, repair of drift, and down, as the CLI would stream them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { StackService, type StackEvent } from '../../../src/daemon/stack-service.js';
import type { EngineCore } from '../../../src/engine/core.js';
import { DEFAULT_DOWN_OPTIONS, DEFAULT_UP_OPTIONS } from '../../../src/reconcile/types.js';
import { loadStack, type StackModel } from '../../../src/stack/index.js';
import { addFakeImage, disposeWorld, fakeWorld, openFakeEngine, type FakeEngineWorld } from '../../fakes/fake-engine.js';

async function load(yaml: string): Promise<StackModel> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-svc-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), yaml);
    return (await loadStack({ cwd: dir, projectName: 'shop', env: {} })).model;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const STACK = (dbEnv = 'one') => `
services:
  db:
    image: busybox
    command: ["sleep", "1000"]
    environment: { MODE: ${dbEnv} }
    healthcheck: { test: ["CMD", "true"], interval: 1s, start_interval: 100ms, start_period: 10s }
    volumes: [data:/data]
  api:
    image: busybox
    command: ["sleep", "1000"]
    depends_on: { db: { condition: service_healthy } }
  web:
    image: busybox
    command: ["sleep", "1000"]
    depends_on: [api]
volumes:
  data: {}
`;

interface World { w: FakeEngineWorld; engine: EngineCore; stacks: StackService; logs: string[] }

async function world(): Promise<World> {
  const w = fakeWorld();
  const engine = await openFakeEngine(w);
  await addFakeImage(engine);
  const logs: string[] = [];
  const stacks = new StackService(w.dir, engine, (m) => logs.push(m), w.clock);
  return { w, engine, stacks, logs };
}

/** Runs a stack call while fake time passes; returns the streamed events, one line each. */
async function drive(x: World, call: (emit: (e: StackEvent) => void) => Promise<boolean>): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let done = false;
  const p = call((e) => {
    if (e.kind === 'op') lines.push(`${e.status} ${e.type} ${e.resource}${e.message !== undefined && e.status !== 'done' ? `: ${e.message}` : ''}`);
    else if (e.kind === 'result') lines.push(`result ok=${e.ok}${e.failures.map((f) => ` [${f.resource}: ${f.message}]`).join('')}`);
  }).finally(() => { done = true; });
  for (let i = 0; i < 4000 && !done; i++) await x.w.clock.advance(50);
  return { ok: await p, lines };
}

const up = (x: World, model: StackModel) => drive(x, (emit) => x.stacks.up({ model, options: DEFAULT_UP_OPTIONS }, emit, new AbortController().signal));

describe('stack service over the fake engine', () => {
  test('up creates in dependency order, waits for health, and an unchanged up does nothing', async () => {
    const x = await world();
    try {
      const model = await load(STACK());
      const first = await up(x, model);
      assert.equal(first.ok, true, first.lines.join('\n'));
      const started = first.lines.filter((l) => l.startsWith('started ')).map((l) => l.slice(8));
      // Network and volume before containers; db healthy before api starts; api before web.
      const at = (s: string): number => started.indexOf(s);
      assert.ok(at('create-network network:shop_default') < at('create-container container:shop-db-1'));
      assert.ok(at('create-volume volume:shop_data') < at('create-container container:shop-db-1'));
      assert.ok(at('wait-container service:db') < at('start-container container:shop-api-1'), started.join('\n'));
      assert.ok(at('start-container container:shop-api-1') < at('start-container container:shop-web-1'));
      assert.equal(first.lines[first.lines.length - 1], 'result ok=true');
      const names = x.engine.containers().map((c) => `${c.name}:${c.state.status}`).sort();
      assert.deepEqual(names, ['shop-api-1:running', 'shop-db-1:running', 'shop-web-1:running']);
      assert.equal(x.engine.getContainer('shop-db-1').state.health?.status, 'healthy');

      const record = join(x.w.dir, 'stacks', 'shop.json');
      const stored = statSync(record);
      const again = await up(x, model);
      assert.deepEqual(again.lines, ['result ok=true'], 'nothing to do');
      // and writes nothing: the stored stack is the same file, untouched (a no-op up costs no fsync)
      const after = statSync(record);
      assert.equal(after.ino, stored.ino);
      assert.equal(after.mtimeMs, stored.mtimeMs);
      // held by `stack stop`, an up clears the hold: that is written
      x.stacks.setHeld('shop', true);
      await up(x, model);
      assert.equal(x.stacks.get('shop')?.held, false);
    } finally { x.engine.close(); x.stacks.stop(); disposeWorld(x.w); }
  });

  test('a changed service is recreated with the services that depend on it', async () => {
    const x = await world();
    try {
      await up(x, await load(STACK()));
      const changed = await up(x, await load(STACK('two')));
      assert.equal(changed.ok, true, changed.lines.join('\n'));
      const recreated = changed.lines.filter((l) => l.startsWith('done recreate-container')).sort();
      assert.deepEqual(recreated, ['done recreate-container container:shop-api-1', 'done recreate-container container:shop-db-1',
        'done recreate-container container:shop-web-1']);
      const again = await up(x, await load(STACK('two')));
      assert.deepEqual(again.lines, ['result ok=true'], 'converged: nothing more to do');
      assert.ok(x.engine.getContainer('shop-db-1').config.env.includes('MODE=two'));
    } finally { x.engine.close(); x.stacks.stop(); disposeWorld(x.w); }
  });

  test('a container removed by hand comes back through the repair loop', async () => {
    const x = await world();
    try {
      await up(x, await load(STACK()));
      x.stacks.start();
      const old = x.engine.getContainer('shop-web-1').id;
      await x.engine.removeContainer('shop-web-1', { force: true, volumes: true });
      for (let i = 0; i < 40 && x.engine.findContainer('shop-web-1') === undefined; i++) await x.w.clock.advance(100);
      const back = x.engine.getContainer('shop-web-1');
      assert.notEqual(back.id, old);
      for (let i = 0; i < 20 && x.engine.getContainer('shop-web-1').state.status !== 'running'; i++) await x.w.clock.advance(100);
      assert.equal(x.engine.getContainer('shop-web-1').state.status, 'running');
      assert.ok(x.logs.some((l) => l.includes('repairing drift')), x.logs.join('\n'));
    } finally { x.engine.close(); x.stacks.stop(); disposeWorld(x.w); }
  });

  test('down removes containers and the network but keeps volumes; down -v removes the stack\'s volume', async () => {
    const x = await world();
    try {
      const model = await load(STACK());
      await up(x, model);
      const down = await drive(x, (emit) => x.stacks.down('shop', { model, options: DEFAULT_DOWN_OPTIONS }, emit, new AbortController().signal));
      assert.equal(down.ok, true, down.lines.join('\n'));
      assert.deepEqual(x.engine.containers().map((c) => c.name), []);
      assert.deepEqual(x.engine.networks.summaries().map((n) => n.name), []);
      assert.ok(x.engine.volumes.find('shop_data'), 'down without -v keeps the volume');
      await up(x, model);
      const downV = await drive(x, (emit) => x.stacks.down('shop', { model, options: { ...DEFAULT_DOWN_OPTIONS, removeVolumes: true } }, emit, new AbortController().signal));
      assert.equal(downV.ok, true, downV.lines.join('\n'));
      assert.equal(x.engine.volumes.find('shop_data'), undefined);
    } finally { x.engine.close(); x.stacks.stop(); disposeWorld(x.w); }
  });
});
