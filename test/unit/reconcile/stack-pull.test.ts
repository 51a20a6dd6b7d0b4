// `up` pulls images per pull_policy before planning (compose's rules), with the credentials of their registry.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GantryError } from '../../../src/common/errors.js';
import { StackService, type ImagePuller, type StackEvent } from '../../../src/daemon/stack-service.js';
import { DEFAULT_UP_OPTIONS } from '../../../src/reconcile/types.js';
import { loadStack } from '../../../src/stack/index.js';
import { pullDecision, shouldPull } from '../../../src/stack/pull-policy.js';
import { addFakeImage, disposeWorld, fakeWorld, openFakeEngine } from '../../fakes/fake-engine.js';

test('pull_policy: missing pulls only absent images, always pulls, never and build do not; a failed pull stops up', async () => {
  const w = fakeWorld();
  const engine = await openFakeEngine(w);
  await addFakeImage(engine);
  const dir = mkdtempSync(join(tmpdir(), 'gantry-pull-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), `
services:
  present: { image: busybox, command: ["sleep", "1"] }
  absent: { image: "reg.example:5000/team/absent:1", command: ["sleep", "1"] }
  fresh: { image: busybox, pull_policy: always, command: ["sleep", "1"] }
  offline: { image: "reg.example:5000/team/offline:1", pull_policy: never, command: ["sleep", "1"] }
  built: { image: "reg.example:5000/team/built:1", pull_policy: build, command: ["sleep", "1"] }
`);
    const model = (await loadStack({ cwd: dir, projectName: 'pulls', env: {} })).model;
    const pulled: Array<{ reference: string; user: string | undefined }> = [];
    const puller: ImagePuller = {
      async pull(req) {
        pulled.push({ reference: req.reference, user: req.credentials?.username });
        throw new GantryError('UNAUTHORIZED', `pull access denied for ${req.reference}`);
      },
    };
    const stacks = new StackService(w.dir, engine, () => undefined, w.clock, puller);
    const events: StackEvent[] = [];
    const ok = await stacks.up({ model, options: DEFAULT_UP_OPTIONS, registryAuth: { 'reg.example:5000': { auth: Buffer.from('amy:pw').toString('base64') } } }, (e) => events.push(e), new AbortController().signal);
    assert.equal(ok, false);
    assert.deepEqual(pulled.sort((a, b) => a.reference.localeCompare(b.reference)), [
      { reference: 'busybox', user: undefined },
      { reference: 'reg.example:5000/team/absent:1', user: 'amy' },
    ]);
    const result = events.find((e) => e.kind === 'result');
    assert.ok(result?.kind === 'result' && result.failures.some((f) => f.resource === 'image:reg.example:5000/team/absent:1' && /pull access denied/.test(f.message)));
    assert.equal(engine.containers().length, 0, 'nothing was created');
    assert.equal(stacks.get('pulls'), undefined, 'not stored');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    engine.close();
    disposeWorld(w);
  }
});

test('pull_policy decisions: daily, weekly and every_<duration> pull when the last pull is older; refresh is always', () => {
  const h = 3_600_000;
  assert.deepEqual(pullDecision('every_1w2d3h4m5s'), { kind: 'older-than', ms: 7 * 24 * h + 2 * 24 * h + 3 * h + 4 * 60_000 + 5000 });
  assert.deepEqual(pullDecision('daily'), { kind: 'older-than', ms: 24 * h });
  assert.deepEqual(pullDecision('weekly'), { kind: 'older-than', ms: 7 * 24 * h });
  assert.deepEqual(pullDecision('refresh'), { kind: 'always' });
  assert.deepEqual(pullDecision('if_not_present'), { kind: 'missing' });
  assert.deepEqual(pullDecision(undefined), { kind: 'missing' });
  assert.deepEqual(pullDecision('build'), { kind: 'never' });
  const now = Date.parse('2026-12-01T12:00:00Z');
  assert.equal(shouldPull(pullDecision('daily'), now - 23 * h, now), false);
  assert.equal(shouldPull(pullDecision('daily'), now - 24 * h, now), true);
  assert.equal(shouldPull(pullDecision('every_12h'), now - 13 * h, now), true);
  assert.equal(shouldPull(pullDecision('every_12h'), undefined, now), true, 'absent: pulled');
  assert.equal(shouldPull(pullDecision('never'), undefined, now), false);
  assert.equal(shouldPull(pullDecision('missing'), now - 1000 * h, now), false);
});

test('pull_policy daily through up: a present image pulled less than a day ago is not pulled again, after a day it is', async () => {
  const w = fakeWorld();
  const engine = await openFakeEngine(w);
  await addFakeImage(engine);
  const dir = mkdtempSync(join(tmpdir(), 'gantry-pull-'));
  try {
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  app: { image: busybox, pull_policy: daily, command: ["sleep", "1"] }\n');
    const model = (await loadStack({ cwd: dir, projectName: 'daily', env: {} })).model;
    const pulled: string[] = [];
    const puller: ImagePuller = { async pull(req) { pulled.push(req.reference); } };
    const stacks = new StackService(w.dir, engine, () => undefined, w.clock, puller);
    const taggedAt = Date.parse(engine.images.resolve('busybox')!.lastTagTime!);
    await w.clock.advance(taggedAt + 3_600_000 - w.clock.now());
    await stacks.up({ model, options: DEFAULT_UP_OPTIONS }, () => undefined, new AbortController().signal);
    assert.deepEqual(pulled, [], 'tagged an hour ago: not pulled');
    await w.clock.advance(24 * 3_600_000);
    await stacks.up({ model, options: DEFAULT_UP_OPTIONS }, () => undefined, new AbortController().signal);
    assert.deepEqual(pulled, ['busybox'], 'a day later: pulled');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    engine.close();
    disposeWorld(w);
  }
});
