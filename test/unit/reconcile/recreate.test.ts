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

function recordingOps(opts: { failCreate?: boolean } = {}): { ops: EngineOps; calls: Call[] } {
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
    waitHealthy: async () => undefined,
    waitExit: async () => 0,
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
