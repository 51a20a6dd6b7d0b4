// Recreating a container: what the new one mounts (inherited anonymous volumes, compose's rule) and the order
// of engine calls, against a recording engine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSpec, type ContainerSpec } from '../../../src/engine/containers/container-spec.js';
import type { MountSpec } from '../../../src/engine/containers/record.js';
import { GantryError } from '../../../src/common/errors.js';
import type { ContainerVolume, EngineOps } from '../../../src/reconcile/engine-ops.js';
import { executePlan, type ExecEvent } from '../../../src/reconcile/executor.js';
import { inheritAnonymousVolumes } from '../../../src/reconcile/inherit-volumes.js';
import type { Plan } from '../../../src/reconcile/types.js';

const anon = (target: string, volume: string): ContainerVolume => ({ target, volume, anonymous: true, readOnly: false });
const vol = (source: string, target: string, readOnly = false): MountSpec => ({ type: 'volume', source, target, readOnly });
const spec = (image: string, mounts: MountSpec[], anonymousVolumes: string[] = []): ContainerSpec => {
  const d = defaultSpec(image);
  return { ...d, anonymousVolumes, host: { ...d.host, mounts } };
};

describe('inheritAnonymousVolumes', () => {
  test('an image VOLUME\'s anonymous volume is mounted by name in the new container', () => {
    const body = spec('pg', [vol('demo_conf', '/etc/pg', true)]);
    const out = inheritAnonymousVolumes(body, [anon('/var/lib/pg', 'v1'), { target: '/etc/pg', volume: 'demo_conf', anonymous: false, readOnly: true }], ['/var/lib/pg']);
    assert.deepEqual(out.host.mounts, [vol('demo_conf', '/etc/pg', true), vol('v1', '/var/lib/pg')]);
  });

  test('an anonymous entry of the service (`- /cache`) is inherited, and no longer asked for as a new one', () => {
    const out = inheritAnonymousVolumes(spec('x', [], ['/cache', '/tmpdata']), [anon('/cache', 'v2')], []);
    assert.deepEqual(out.anonymousVolumes, ['/tmpdata']);
    assert.deepEqual(out.host.mounts, [vol('v2', '/cache')]);
  });

  test('a target the new config mounts something else at, or no longer wants, is not inherited', () => {
    const body = spec('x', [vol('demo_data', '/data/'), { type: 'tmpfs', source: '', target: '/run', readOnly: false, tmpfsOptions: '' }]);
    const out = inheritAnonymousVolumes(body, [anon('/data', 'v1'), anon('/run', 'v2'), anon('/gone', 'v3')], ['/data', '/run']);
    assert.equal(out, body);
  });
});

interface Call { op: string; args: unknown[] }

function recordingOps(opts: { failCreate?: boolean; unhealthy?: boolean; diesDuringMonitor?: boolean } = {}): { ops: EngineOps; calls: Call[] } {
  const calls: Call[] = [];
  const names = new Map([['old1', 'demo-db-1']]);
  const rec = (op: string, ...args: unknown[]): void => { calls.push({ op, args }); };
  const ops: EngineOps = {
    observe: () => ({ project: 'demo', containers: [], networks: [], volumes: [], images: {} }),
    createNetwork: async () => undefined,
    removeNetwork: async () => undefined,
    createVolume: async () => undefined,
    removeVolume: async () => undefined,
    createContainer: async (s) => {
      rec('create', s.name, s.host.mounts);
      if (opts.failCreate) throw new GantryError('PORT_IN_USE', 'port 80 is in use');
      return 'new1new1new1new1';
    },
    startContainer: async (ref) => rec('start', ref),
    stopContainer: async (ref) => rec('stop', ref),
    removeContainer: async (ref, o) => rec('remove', ref, o),
    renameContainer: async (ref, name) => { rec('rename', ref, name); const old = names.get(ref)!; names.set(ref, name); return old; },
    containerVolumes: () => [anon('/data', 'anon1')],
    leftAnonymousVolumes: (project, service, number) => { rec('left', project, service, number); return [anon('/data', 'left1')]; },
    imageVolumes: () => ['/data'],
    waitHealthy: async (ref) => {
      rec('healthy?', ref);
      if (opts.unhealthy) throw new GantryError('CONFLICT', `container ${ref} is unhealthy: last check exited 1`);
    },
    waitExit: async () => 0,
    staysUp: async (ref, ms) => {
      rec('monitor', ref, ms);
      if (opts.diesDuringMonitor) throw new GantryError('CONTAINER_NOT_RUNNING', `container ${ref} exited with code 3`);
    },
    expectHandover: (to, from) => rec('expect-handover', to, from),
    handOver: async (from, to) => rec('handover', from, to),
  };
  return { ops, calls };
}

const PLAN: Plan = { project: 'demo', warnings: [], errors: [], operations: [
  { id: 1, type: 'recreate-container', resource: 'container:demo-db-1', cause: 'config hash changed', dependsOn: [], service: 'db', number: 1, containerId: 'old1' },
] };

function run(ops: EngineOps, plan: Plan = PLAN): Promise<{ failed: number; events: ExecEvent[] }> {
  const events: ExecEvent[] = [];
  return executePlan(plan, {
    ops, project: 'demo', signal: new AbortController().signal, networkSpec: () => ({ name: '' }), volumeLabels: () => ({}), volumeName: (k) => k,
    containerSpec: () => spec('busybox', []),
  }, (e) => events.push(e)).then((r) => ({ failed: r.failed.length, events }));
}

describe('recreate-container', () => {
  test('stop, park the old one under <id12>_<name>, create with its anonymous volumes, remove it without them', async () => {
    const { ops, calls } = recordingOps();
    assert.equal((await run(ops)).failed, 0);
    assert.deepEqual(calls, [
      { op: 'stop', args: ['old1'] },
      { op: 'rename', args: ['old1', 'old1_demo-db-1'] },
      { op: 'create', args: ['demo-db-1', [vol('anon1', '/data')]] },
      { op: 'remove', args: ['old1', { volumes: false }] },
    ]);
  });

  test('-V: a fresh anonymous volume; the old container goes with its own', async () => {
    const { ops, calls } = recordingOps();
    await run(ops, { ...PLAN, operations: [{ ...PLAN.operations[0]!, removeVolumes: true }] });
    assert.deepEqual(calls.filter((c) => c.op === 'create' || c.op === 'remove'), [
      { op: 'create', args: ['demo-db-1', []] },
      { op: 'remove', args: ['old1', { volumes: true }] },
    ]);
  });

  test('a failed create puts the old container back under its name, with its data; nothing is removed', async () => {
    const { ops, calls } = recordingOps({ failCreate: true });
    const r = await run(ops);
    assert.equal(r.failed, 1);
    assert.match(r.events.find((e) => e.status === 'failed')?.message ?? '', /port 80 is in use/);
    assert.deepEqual(calls.map((c) => [c.op, ...c.args.slice(0, 2)]).filter((c) => c[0] !== 'create'), [
      ['stop', 'old1'], ['rename', 'old1', 'old1_demo-db-1'], ['rename', 'old1', 'demo-db-1'],
    ]);
  });

  test('down -v removes a container with its anonymous volumes; plain down without', async () => {
    const { ops, calls } = recordingOps();
    await run(ops, { ...PLAN, operations: [
      { id: 1, type: 'remove-container', resource: 'container:demo-db-1', cause: 'project down', dependsOn: [], containerId: 'old1' },
      { id: 2, type: 'remove-container', resource: 'container:demo-db-2', cause: 'project down (-v)', dependsOn: [], containerId: 'old2', removeVolumes: true },
    ] });
    assert.deepEqual(calls, [{ op: 'remove', args: ['old1', { volumes: false }] }, { op: 'remove', args: ['old2', { volumes: true }] }]);
  });
});

describe('create-container', () => {
  const CREATE: Plan = { project: 'demo', warnings: [], errors: [], operations: [
    { id: 1, type: 'create-container', resource: 'container:demo-db-1', cause: 'not found', dependsOn: [], service: 'db', number: 1 },
  ] };

  test('takes over the anonymous volume its slot left behind (a down, a scale down): the data is back', async () => {
    const { ops, calls } = recordingOps();
    assert.equal((await run(ops, CREATE)).failed, 0);
    assert.deepEqual(calls, [
      { op: 'left', args: ['demo', 'db', 1] },
      { op: 'create', args: ['demo-db-1', [vol('left1', '/data')]] },
    ]);
  });

  test('-V: a fresh anonymous volume, the left one is not looked for', async () => {
    const { ops, calls } = recordingOps();
    await run(ops, { ...CREATE, operations: [{ ...CREATE.operations[0]!, removeVolumes: true }] });
    assert.deepEqual(calls, [{ op: 'create', args: ['demo-db-1', []] }]);
  });
});

describe('replace-container (deploy.update_config)', () => {
  const replace = (over: Partial<Plan['operations'][number]>): Plan => ({ ...PLAN, operations: [
    { id: 1, type: 'replace-container', resource: 'container:demo-db-1', cause: 'config hash changed; start-first', dependsOn: [], service: 'db', number: 1,
      containerId: 'old1', order: 'start-first', rollback: true, monitorMs: 0, ...over },
  ] });
  const flat = (calls: Call[]): unknown[][] => calls.map((c) => [c.op, ...c.args.filter((a) => typeof a === 'string' || typeof a === 'number')]);

  test('start-first: the old container keeps running until its successor is healthy and has its ports and DNS; then it stops', async () => {
    const { ops, calls } = recordingOps();
    assert.equal((await run(ops, replace({ monitorMs: 2000 }))).failed, 0);
    assert.deepEqual(flat(calls), [
      ['rename', 'old1', 'old1_demo-db-1'], ['create', 'demo-db-1'], ['expect-handover', 'new1new1new1new1', 'old1'], ['start', 'new1new1new1new1'],
      ['healthy?', 'new1new1new1new1'], ['monitor', 'new1new1new1new1', 2000], ['handover', 'old1', 'new1new1new1new1'], ['stop', 'old1'], ['remove', 'old1'],
    ]);
  });

  test('start-first: a successor that never gets healthy is removed and the old container, never stopped, gets its name back', async () => {
    const { ops, calls } = recordingOps({ unhealthy: true });
    const r = await run(ops, replace({}));
    assert.equal(r.failed, 1);
    assert.match(r.events.find((e) => e.status === 'failed')?.message ?? '', /unhealthy.*; the previous container of demo-db-1 was kept/);
    assert.ok(!calls.some((c) => c.op === 'stop' || c.op === 'handover'), 'the old one never stopped, nothing moved');
    assert.deepEqual(flat(calls).slice(-2), [['remove', 'new1new1new1new1'], ['rename', 'old1', 'demo-db-1']]);
  });

  test('stop-first with failure_action rollback: a successor that dies within monitor is removed and the old one started again', async () => {
    const { ops, calls } = recordingOps({ diesDuringMonitor: true });
    const r = await run(ops, replace({ order: 'stop-first', monitorMs: 1000 }));
    assert.equal(r.failed, 1);
    assert.match(r.events.find((e) => e.status === 'failed')?.message ?? '', /exited with code 3; the previous container of demo-db-1 was kept/);
    assert.deepEqual(flat(calls), [
      ['stop', 'old1'], ['rename', 'old1', 'old1_demo-db-1'], ['create', 'demo-db-1'], ['start', 'new1new1new1new1'], ['healthy?', 'new1new1new1new1'],
      ['monitor', 'new1new1new1new1', 1000], ['remove', 'new1new1new1new1'], ['rename', 'old1', 'demo-db-1'], ['start', 'old1'],
    ]);
  });

  test('stop-first without rollback: the old container goes once its successor exists, as compose does', async () => {
    const { ops, calls } = recordingOps({ unhealthy: true });
    const r = await run(ops, replace({ order: 'stop-first', rollback: false }));
    assert.equal(r.failed, 1);
    assert.match(r.events.find((e) => e.status === 'failed')?.message ?? '', /demo-db-1 is not running/);
    assert.deepEqual(flat(calls).map((c) => c[0]), ['stop', 'rename', 'create', 'remove', 'start', 'healthy?']);
  });
});
