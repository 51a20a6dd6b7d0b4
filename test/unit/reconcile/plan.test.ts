// The planner, asserted as whole plans in text: what `up`/`down` would do for a given stack and engine state.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStack, serviceConfigHash, type StackModel } from '../../../src/stack/index.js';
import { formatPlan, planDown, reconcile } from '../../../src/reconcile/plan.js';
import { DEFAULT_DOWN_OPTIONS, DEFAULT_UP_OPTIONS, type ObservedContainer, type ObservedState } from '../../../src/reconcile/types.js';

async function load(yaml: string): Promise<StackModel> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-plan-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), yaml);
    return (await loadStack({ cwd: dir, projectName: 'demo', env: {} })).model;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const STACK = `
services:
  db:
    image: busybox
    command: ["sleep", "1000"]
    healthcheck: { test: ["CMD", "true"], interval: 1s }
    volumes: [data:/data]
  migrate:
    image: busybox
    command: ["true"]
    depends_on: { db: { condition: service_healthy } }
  api:
    image: busybox
    command: ["sleep", "1000"]
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
  web:
    image: busybox
    command: ["sleep", "1000"]
    depends_on: [api]
    deploy: { replicas: 2 }
volumes:
  data: {}
`;

function empty(): ObservedState {
  return { project: 'demo', containers: [], networks: [], volumes: [], images: { busybox: 'sha256:b1' } };
}

/** What the engine holds after a successful up of `model`. */
function converged(model: StackModel): ObservedState {
  const containers: ObservedContainer[] = [];
  for (const s of Object.values(model.services)) {
    for (let n = 1; n <= s.deploy.replicas; n++) {
      const oneShot = s.name === 'migrate';
      containers.push({ id: `id-${s.name}-${n}`, name: `demo-${s.name}-${n}`, service: s.name, number: n, oneOff: false,
        configHash: serviceConfigHash(s), imageId: 'sha256:b1', status: oneShot ? 'exited' : 'running',
        health: s.healthcheck ? 'healthy' : undefined, exitCode: 0 });
    }
  }
  return { ...empty(), containers, networks: [{ name: 'demo_default', project: 'demo' }], volumes: [{ name: 'demo_data', project: 'demo' }] };
}

describe('reconcile (up)', () => {
  test('empty engine → the whole stack, dependencies first, waits where depends_on asks for them', async () => {
    const model = await load(STACK);
    assert.equal(formatPlan(reconcile(model, empty(), DEFAULT_UP_OPTIONS)), [
      '#1 create-network network:demo_default (not found)',
      '#2 create-volume volume:demo_data (not found)',
      '#3 create-container container:demo-db-1 (not found) after #1,#2',
      '#4 start-container container:demo-db-1 (created) after #3',
      '#5 create-container container:demo-migrate-1 (not found) after #1',
      '#6 wait-container service:db (migrate waits for db to be healthy) after #4',
      '#7 start-container container:demo-migrate-1 (created) after #5,#6',
      '#8 create-container container:demo-api-1 (not found) after #1',
      '#9 wait-container service:migrate (api waits for migrate to be completed successfully) after #7',
      '#10 start-container container:demo-api-1 (created) after #6,#8,#9',
      '#11 create-container container:demo-web-1 (not found) after #1',
      '#12 start-container container:demo-web-1 (created) after #10,#11',
      '#13 create-container container:demo-web-2 (not found) after #1',
      '#14 start-container container:demo-web-2 (created) after #10,#13',
      '',
    ].join('\n'));
  });

  test('a converged stack → an empty plan (an unchanged up is a no-op)', async () => {
    const model = await load(STACK);
    assert.equal(formatPlan(reconcile(model, converged(model), DEFAULT_UP_OPTIONS)), 'nothing to do\n');
  });

  test('config drift of one service recreates it and its dependents only', async () => {
    const model = await load(STACK.replace('command: ["sleep", "1000"]\n    depends_on:\n      db', 'command: ["sleep", "2000"]\n    depends_on:\n      db'));
    const before = await load(STACK);
    assert.equal(formatPlan(reconcile(model, converged(before), DEFAULT_UP_OPTIONS)), [
      '#1 recreate-container container:demo-api-1 (config hash changed)',
      '#2 start-container container:demo-api-1 (recreated) after #1',
      '#3 recreate-container container:demo-web-1 (dependency "api" recreated)',
      '#4 start-container container:demo-web-1 (recreated) after #2,#3',
      '#5 recreate-container container:demo-web-2 (dependency "api" recreated)',
      '#6 start-container container:demo-web-2 (recreated) after #2,#5',
      '',
    ].join('\n'));
  });

  test('--no-recreate leaves drifted containers alone; --force-recreate recreates unchanged ones', async () => {
    const model = await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n');
    const obs = converged(await load('services:\n  a: { image: busybox, command: [sleep, "8"] }\n'));
    assert.equal(formatPlan(reconcile(model, obs, { ...DEFAULT_UP_OPTIONS, noRecreate: true })), 'nothing to do\n');
    assert.equal(formatPlan(reconcile(model, converged(model), { ...DEFAULT_UP_OPTIONS, forceRecreate: true })), [
      '#1 recreate-container container:demo-a-1 (forced (--force-recreate))',
      '#2 start-container container:demo-a-1 (recreated) after #1',
      '',
    ].join('\n'));
  });

  test('an image that changed under its tag recreates the container', async () => {
    const model = await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n');
    const obs = { ...converged(model), images: { busybox: 'sha256:b2' } };
    assert.match(formatPlan(reconcile(model, obs, DEFAULT_UP_OPTIONS)), /^#1 recreate-container container:demo-a-1 \(image changed\)$/m);
  });

  test('scale down removes the highest numbers; scale up adds the missing ones', async () => {
    const model = await load('services:\n  w: { image: busybox, command: [sleep, "9"], deploy: { replicas: 3 } }\n');
    const obs = converged(model);
    assert.equal(formatPlan(reconcile(model, obs, { ...DEFAULT_UP_OPTIONS, scale: { w: 1 } })), [
      '#1 stop-container container:demo-w-3 (scale 3 → 1)',
      '#2 remove-container container:demo-w-3 (scale 3 → 1) after #1',
      '#3 stop-container container:demo-w-2 (scale 3 → 1)',
      '#4 remove-container container:demo-w-2 (scale 3 → 1) after #3',
      '',
    ].join('\n'));
    assert.equal(formatPlan(reconcile(model, obs, { ...DEFAULT_UP_OPTIONS, scale: { w: 4 } })), [
      '#1 create-container container:demo-w-4 (not found)',
      '#2 start-container container:demo-w-4 (created) after #1',
      '',
    ].join('\n'));
  });

  test('orphans are reported, and removed with --remove-orphans', async () => {
    const model = await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n');
    const obs = converged(await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n  old: { image: busybox, command: [sleep, "9"] }\n'));
    assert.equal(formatPlan(reconcile(model, obs, DEFAULT_UP_OPTIONS)),
      'warning: found orphan containers (demo-old-1) for this project; run with --remove-orphans to remove them\nnothing to do\n');
    assert.equal(formatPlan(reconcile(model, obs, { ...DEFAULT_UP_OPTIONS, removeOrphans: true })), [
      '#1 stop-container container:demo-old-1 (orphan (service "old" is not in the stack))',
      '#2 remove-container container:demo-old-1 (orphan (service "old" is not in the stack)) after #1',
      '',
    ].join('\n'));
  });

  test('a stopped container is started; a one-shot that completed is left alone', async () => {
    const model = await load(STACK);
    const obs = converged(model);
    const containers = obs.containers.map((c) => (c.name === 'demo-web-2' ? { ...c, status: 'exited' as const, exitCode: 137 } : c));
    assert.equal(formatPlan(reconcile(model, { ...obs, containers }, DEFAULT_UP_OPTIONS)),
      '#1 start-container container:demo-web-2 (not running: exited (137))\n');
    // The daemon's drift repair does not start stopped containers: their restart policy decides.
    assert.equal(formatPlan(reconcile(model, { ...obs, containers }, { ...DEFAULT_UP_OPTIONS, startStopped: false })), 'nothing to do\n');
  });

  test('named services bring their dependencies, unless --no-deps', async () => {
    const model = await load(STACK);
    const plan = reconcile(model, empty(), { ...DEFAULT_UP_OPTIONS, services: ['migrate'] });
    assert.deepEqual([...new Set(plan.operations.flatMap((o) => (o.service ? [o.service] : [])))], ['db', 'migrate']);
    const alone = reconcile(model, empty(), { ...DEFAULT_UP_OPTIONS, services: ['migrate'], noDeps: true });
    assert.equal(formatPlan(alone), [
      '#1 create-network network:demo_default (not found)',
      '#2 create-container container:demo-migrate-1 (not found) after #1',
      '#3 start-container container:demo-migrate-1 (created) after #2',
      '',
    ].join('\n'));
    assert.throws(() => reconcile(model, empty(), { ...DEFAULT_UP_OPTIONS, services: ['nope'] }), /no such service: nope/);
  });

  test('an external network that does not exist fails planning with a hint', async () => {
    const model = await load('services:\n  a: { image: busybox, networks: [ext] }\nnetworks:\n  ext: { external: true }\n');
    assert.throws(() => reconcile(model, empty(), DEFAULT_UP_OPTIONS), /network ext is declared as external/);
  });
});

describe('planDown', () => {
  test('dependents stop first (the reverse of up), then networks go; volumes only with -v', async () => {
    const model = await load(STACK);
    const obs = converged(model);
    assert.equal(formatPlan(planDown(model, obs, DEFAULT_DOWN_OPTIONS)), [
      '#1 stop-container container:demo-web-1 (project down)',
      '#2 remove-container container:demo-web-1 (project down) after #1',
      '#3 stop-container container:demo-web-2 (project down)',
      '#4 remove-container container:demo-web-2 (project down) after #3',
      '#5 stop-container container:demo-api-1 (project down) after #1,#3',
      '#6 remove-container container:demo-api-1 (project down) after #1,#3,#5',
      '#7 remove-container container:demo-migrate-1 (project down) after #5',
      '#8 stop-container container:demo-db-1 (project down) after #5',
      '#9 remove-container container:demo-db-1 (project down) after #5,#8',
      '#10 remove-network network:demo_default (project down) after #2,#4,#6,#7,#9',
      '',
    ].join('\n'));
    const withVolumes = formatPlan(planDown(model, obs, { ...DEFAULT_DOWN_OPTIONS, removeVolumes: true }));
    assert.match(withVolumes, /^#11 remove-volume volume:demo_data \(project down \(-v\)\) after #2,#4,#6,#7,#9$/m);
  });

  test('without a model every container of the project goes; orphans need --remove-orphans', async () => {
    const model = await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n');
    const obs = converged(await load('services:\n  a: { image: busybox, command: [sleep, "9"] }\n  old: { image: busybox, command: [sleep, "9"] }\n'));
    assert.equal(formatPlan(planDown(undefined, obs, DEFAULT_DOWN_OPTIONS)), [
      '#1 stop-container container:demo-old-1 (project down)',
      '#2 remove-container container:demo-old-1 (project down) after #1',
      '#3 stop-container container:demo-a-1 (project down)',
      '#4 remove-container container:demo-a-1 (project down) after #3',
      '#5 remove-network network:demo_default (project down) after #2,#4',
      '',
    ].join('\n'));
    assert.match(formatPlan(planDown(model, obs, DEFAULT_DOWN_OPTIONS)), /^warning: found orphan containers \(demo-old-1\)/);
  });
});

describe('objects the stack did not create', () => {
  const NAMED = 'services:\n  db: { image: busybox, volumes: [data:/data] }\nvolumes:\n  data: {}\n';

  test('a same-named network or volume without this project\'s label is refused before anything is made', async () => {
    const model = await load(NAMED);
    const obs: ObservedState = { ...empty(), networks: [{ name: 'demo_default', project: undefined }], volumes: [{ name: 'demo_data', project: 'other' }] };
    const plan = reconcile(model, obs, DEFAULT_UP_OPTIONS);
    assert.equal(formatPlan(plan), [
      'error: network "demo_default" exists but was not created by gantry for project "demo"',
      '  hint: declare it external (networks: { default: { name: demo_default, external: true } }) to use it, or remove it (gantry network rm demo_default)',
      'error: volume "demo_data" exists but was not created by gantry for project "demo" (it belongs to project "other")',
      '  hint: declare it external (volumes: { data: { name: demo_data, external: true } }) to use it, or remove it (gantry volume rm demo_data)',
      '',
    ].join('\n'));
    assert.deepEqual(plan.errors.map((e) => [e.code, e.resource]), [['STACK_OBJECT_NOT_OURS', 'network:demo_default'], ['STACK_OBJECT_NOT_OURS', 'volume:demo_data']]);
  });

  test('declared external, the same objects are used as they are, and down -v leaves them', async () => {
    const model = await load('services:\n  db: { image: busybox, volumes: [data:/data] }\nvolumes:\n  data: { name: demo_data, external: true }\n'
      + 'networks:\n  default: { name: demo_default, external: true }\n');
    const obs: ObservedState = { ...empty(), networks: [{ name: 'demo_default', project: undefined }], volumes: [{ name: 'demo_data', project: undefined }] };
    assert.equal(formatPlan(reconcile(model, obs, DEFAULT_UP_OPTIONS)), [
      '#1 create-container container:demo-db-1 (not found)',
      '#2 start-container container:demo-db-1 (created) after #1',
      '',
    ].join('\n'));
    const up = converged(model);
    const labelled: ObservedState = { ...up, networks: [{ name: 'demo_default', project: 'demo' }], volumes: [{ name: 'demo_data', project: 'demo' }] };
    assert.equal(formatPlan(planDown(model, labelled, { ...DEFAULT_DOWN_OPTIONS, removeVolumes: true })), [
      '#1 stop-container container:demo-db-1 (project down)',
      '#2 remove-container container:demo-db-1 (project down; anonymous volumes too (-v)) after #1',
      '',
    ].join('\n'));
  });

  test('down and down -v remove only networks and volumes that carry this project\'s label', async () => {
    const model = await load(NAMED);
    const obs: ObservedState = { ...converged(model),
      networks: [{ name: 'demo_default', project: undefined }, { name: 'demo_old', project: 'demo' }, { name: 'corp-net', project: 'corp' }],
      volumes: [{ name: 'demo_data', project: undefined }, { name: 'demo_cache', project: 'demo' }, { name: 'corp_data', project: 'corp' }] };
    assert.equal(formatPlan(planDown(model, obs, DEFAULT_DOWN_OPTIONS)), [
      '#1 stop-container container:demo-db-1 (project down)',
      '#2 remove-container container:demo-db-1 (project down) after #1',
      '#3 remove-network network:demo_old (project down) after #2',
      '',
    ].join('\n'));
    assert.equal(formatPlan(planDown(model, obs, { ...DEFAULT_DOWN_OPTIONS, removeVolumes: true })), [
      '#1 stop-container container:demo-db-1 (project down)',
      '#2 remove-container container:demo-db-1 (project down; anonymous volumes too (-v)) after #1',
      '#3 remove-network network:demo_old (project down) after #2',
      '#4 remove-volume volume:demo_cache (project down (-v)) after #2',
      '',
    ].join('\n'));
    assert.equal(planDown(model, obs, DEFAULT_DOWN_OPTIONS).operations.find((o) => o.type === 'remove-container')?.removeVolumes, undefined);
  });

  test('recreate keeps anonymous volumes unless -V asks for new ones', async () => {
    const model = await load('services:\n  db: { image: busybox, environment: { V: "2" } }\n');
    const obs = converged(await load('services:\n  db: { image: busybox, environment: { V: "1" } }\n'));
    const plain = reconcile(model, obs, DEFAULT_UP_OPTIONS);
    assert.equal(formatPlan(plain), '#1 recreate-container container:demo-db-1 (config hash changed)\n#2 start-container container:demo-db-1 (recreated) after #1\n');
    assert.equal(plain.operations[0]!.removeVolumes, undefined);
    const renew = reconcile(model, obs, { ...DEFAULT_UP_OPTIONS, renewAnonVolumes: true });
    assert.equal(formatPlan(renew), '#1 recreate-container container:demo-db-1 (config hash changed; new anonymous volumes (-V))\n#2 start-container container:demo-db-1 (recreated) after #1\n');
    assert.equal(renew.operations[0]!.removeVolumes, true);
  });
});

describe('deploy.update_config', () => {
  const WEB = (update: string): string => `
services:
  web:
    image: busybox
    command: ["sleep", "1000"]
    environment: { V: "2" }
    deploy:
      replicas: 3
      update_config: ${update}
`;
  const running = async (update: string): Promise<{ model: StackModel; observed: ObservedState }> => {
    const model = await load(WEB(update));
    const observed = converged(model);
    return { model, observed: { ...observed, containers: observed.containers.map((c) => ({ ...c, configHash: 'old' })) } };
  };

  test('parallelism 2, delay 5s, start-first: the second group after the first, each starting its successor; no separate start', async () => {
    const { model, observed } = await running('{ parallelism: 2, delay: 5s, order: start-first, monitor: 2s }');
    assert.equal(formatPlan(reconcile(model, observed, DEFAULT_UP_OPTIONS)), [
      '#1 replace-container container:demo-web-1 (config hash changed; start-first)',
      '#2 replace-container container:demo-web-2 (config hash changed; start-first)',
      '#3 replace-container container:demo-web-3 (config hash changed; start-first) after #1,#2 then 5s',
      '',
    ].join('\n'));
    const op = reconcile(model, observed, DEFAULT_UP_OPTIONS).operations[0]!;
    assert.deepEqual([op.order, op.rollback, op.monitorMs], ['start-first', true, 2000], 'start-first always keeps the old container on failure');
  });

  test('defaults (parallelism 1, stop-first, pause); failure_action continue orders without depending', async () => {
    const paused = await running('{}');
    assert.match(formatPlan(reconcile(paused.model, paused.observed, DEFAULT_UP_OPTIONS)), /#2 replace-container container:demo-web-2 \(config hash changed; stop-first\) after #1\n#3 replace-container container:demo-web-3 \(config hash changed; stop-first\) after #2\n/);
    const going = await running('{ failure_action: continue }');
    assert.match(formatPlan(reconcile(going.model, going.observed, DEFAULT_UP_OPTIONS)), /#2 replace-container container:demo-web-2 \(config hash changed; stop-first\) once #1 ended\n#3 replace-container container:demo-web-3 \(config hash changed; stop-first\) once #2 ended\n/);
  });

  test('update_config never recreates anything by itself: it is not in the config hash', async () => {
    const plain = await load(WEB('{ order: stop-first }').replace('      update_config: { order: stop-first }\n', ''));
    const ordered = await load(WEB('{ order: start-first, parallelism: 2 }'));
    assert.equal(serviceConfigHash(ordered.services['web']!), serviceConfigHash(plain.services['web']!));
  });
});
