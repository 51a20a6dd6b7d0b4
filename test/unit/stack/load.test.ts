import { after, test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { diagnosticsOf, formatDiagnostic, formatDiagnosticLine, loadStack, normalizeProjectName, serviceConfigHash } from '../../../src/stack/index.js';
import type { ServiceModel } from '../../../src/stack/index.js';
import { stackConfigCommand } from '../../../src/cli/commands/stack-config.js';
import { fixturesRoot } from './helpers.js';

const madeRoots: string[] = [];
after(() => { for (const r of madeRoots) rmSync(r, { recursive: true, force: true }); });

function tempProject(name: string, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'gantry-stack-test-'));
  madeRoots.push(root);
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

async function failing(p: Promise<unknown>): Promise<GantryError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GantryError);
    return e;
  }
  assert.fail('expected loadStack to fail');
}

describe('project name', () => {
  const dir = tempProject('My Project.Dir', { 'compose.yaml': 'name: from-file\nservices:\n  a:\n    image: a\n', 'bare.yaml': 'services:\n  a:\n    image: a\n' });
  test('-p wins over COMPOSE_PROJECT_NAME, which wins over name:', async () => {
    assert.equal((await loadStack({ cwd: dir, env: { COMPOSE_PROJECT_NAME: 'envname' }, projectName: 'Flag_Name' })).model.name, 'flag_name');
    assert.equal((await loadStack({ cwd: dir, env: { COMPOSE_PROJECT_NAME: 'envname' } })).model.name, 'envname');
    assert.equal((await loadStack({ cwd: dir, env: {} })).model.name, 'from-file');
  });
  test('the directory name is normalised', async () => {
    assert.equal((await loadStack({ cwd: dir, env: {}, files: ['bare.yaml'] })).model.name, 'myprojectdir');
    assert.equal(normalizeProjectName('__Hello World-1'), 'helloworld-1');
  });
  test('resource names carry the project name', async () => {
    const { model } = await loadStack({ cwd: dir, env: {} });
    assert.equal(model.networks['default']?.name, 'from-file_default');
  });
});

test('-f - reads standard input; the project directory defaults to the working directory', async () => {
  const dir = tempProject('stdin-proj', {});
  const { model } = await loadStack({ cwd: dir, env: {}, files: ['-'], stdin: () => Promise.resolve('services:\n  s:\n    image: from-stdin\n    volumes: ["./x:/x"]\n') });
  assert.equal(model.services['s']?.image, 'from-stdin');
  assert.equal(model.services['s']?.volumes[0]?.source, join(dir, 'x'));
  assert.equal(model.name, 'stdin-proj');
});

test('--project-directory sets where relative paths and .env are resolved', async () => {
  const dir = tempProject('pd', { 'compose.yaml': 'services:\n  a:\n    image: "${IMG}"\n    volumes: ["./d:/d"]\n' });
  const other = tempProject('elsewhere', { '.env': 'IMG=from-elsewhere\n' });
  const { model } = await loadStack({ cwd: dir, env: {}, projectDirectory: other, files: ['compose.yaml'] });
  assert.equal(model.services['a']?.image, 'from-elsewhere');
  assert.equal(model.services['a']?.volumes[0]?.source, join(other, 'd'));
  assert.equal(model.projectDir, other);
});

test('no stack file: SPEC_NO_FILE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-stack-empty-'));
  try {
    const e = await failing(loadStack({ cwd: dir, env: {} }));
    assert.equal(e.code, 'STACK_INVALID');
    assert.equal(diagnosticsOf(e)?.[0]?.code, 'SPEC_NO_FILE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an alias bomb is rejected fast', async () => {
  const start = performance.now();
  const e = await failing(loadStack({ cwd: join(fixturesRoot(), 'err-alias-bomb'), env: {} }));
  assert.ok(performance.now() - start < 500, 'took too long');
  assert.equal(diagnosticsOf(e)?.[0]?.code, 'SPEC_ALIAS_BOMB');
});

test('STACK_INVALID carries every diagnostic; the message names the first error', async () => {
  const e = await failing(loadStack({ cwd: join(fixturesRoot(), 'err-references'), env: {} }));
  assert.equal(e.code, 'STACK_INVALID');
  const ds = diagnosticsOf(e) ?? [];
  assert.equal(ds.filter((d) => d.severity === 'error').length, 5);
  assert.equal(ds.filter((d) => d.severity === 'warning').length, 2);
  assert.match(e.message, /depends on "db2", which is not defined \(and 4 more errors\)/);
});

test('formatDiagnostic: compiler-like block with the source line and a caret; one-line form', async () => {
  const dir = join(fixturesRoot(), 'err-references');
  const e = await failing(loadStack({ cwd: dir, env: {} }));
  const d = (diagnosticsOf(e) ?? []).find((x) => x.code === 'SPEC_UNKNOWN_DEPENDENCY');
  assert.ok(d);
  assert.equal(
    formatDiagnostic(d, { cwd: dir }),
    [
      'error[SPEC_UNKNOWN_DEPENDENCY]: service "web" depends on "db2", which is not defined',
      '  --> compose.yaml:8:9',
      '  |',
      '8 |       - db2',
      '  |         ^^^',
      'hint: defined services are: api, db, web',
    ].join('\n'),
  );
  assert.equal(formatDiagnosticLine(d, { cwd: dir }), 'compose.yaml:8:9: service "web" depends on "db2", which is not defined (at services.web.depends_on.db2)');
});

describe('serviceConfigHash', () => {
  const base = async (extra: string): Promise<ServiceModel> => {
    const dir = tempProject('hash', { 'compose.yaml': `services:\n  db:\n    image: db\n    profiles: [x]\n  a:\n    image: a\n    environment: {A: "1"}\n${extra}` });
    const { model } = await loadStack({ cwd: dir, env: {}, profiles: ['x'] });
    return model.services['a'] as ServiceModel;
  };
  test('ignores replicas, scale, depends_on and profiles', async () => {
    const h = serviceConfigHash(await base(''));
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(serviceConfigHash(await base('    deploy: {replicas: 3}\n')), h);
    assert.equal(serviceConfigHash(await base('    scale: 2\n')), h);
    assert.equal(serviceConfigHash(await base('    depends_on: [db]\n')), h);
    assert.equal(serviceConfigHash(await base('    profiles: [x]\n')), h);
  });
  test('changes with what the container runs', async () => {
    const h = serviceConfigHash(await base(''));
    assert.notEqual(serviceConfigHash(await base('    command: ["x"]\n')), h);
    assert.notEqual(serviceConfigHash(await base('    deploy: {resources: {limits: {memory: 64m}}}\n')), h);
    assert.notEqual(serviceConfigHash(await base('    ports: ["80"]\n')), h);
  });
  test('a service without `logging` hashes as it did before the model carried logging; setting it changes the hash', async () => {
    const s = await base('');
    assert.equal(s.logging, undefined);
    // The hash of this service before `logging` was added to the model (same text as then: no recreation on upgrade).
    assert.equal(serviceConfigHash(s), 'f2c50a2c819da7460027f2c2343c75a11fe7e3631086d479d0f7487f58b822c0');
    const { logging: _l, ...withoutKey } = s;
    assert.equal(serviceConfigHash(withoutKey as ServiceModel), serviceConfigHash(s));
    const logged = serviceConfigHash(await base('    logging: {driver: json-file, options: {max-size: 10m}}\n'));
    assert.notEqual(logged, serviceConfigHash(s));
    assert.notEqual(serviceConfigHash(await base('    logging: {driver: json-file, options: {max-size: 20m}}\n')), logged);
  });
  test('does not depend on the order keys were written in', async () => {
    const d1 = tempProject('h1', { 'compose.yaml': 'services:\n  a:\n    image: a\n    environment: {A: "1", B: "2"}\n    user: u\n' });
    const d2 = tempProject('h2', { 'compose.yaml': 'services:\n  a:\n    user: u\n    environment: {B: "2", A: "1"}\n    image: a\n' });
    const a = (await loadStack({ cwd: d1, env: {} })).model.services['a'] as ServiceModel;
    const b = (await loadStack({ cwd: d2, env: {} })).model.services['a'] as ServiceModel;
    assert.equal(serviceConfigHash(a), serviceConfigHash(b));
  });
});

test('the model is immutable', async () => {
  const { model } = await loadStack({ cwd: join(fixturesRoot(), 'anchors'), env: {} });
  assert.throws(() => {
    (model.services as Record<string, unknown>)['x'] = 1;
  }, TypeError);
  assert.ok(Object.isFrozen(model.services['one']?.environment));
  // Unfrozen on request (stack config prints the model and drops it), and otherwise the same model.
  const loose = await loadStack({ cwd: join(fixturesRoot(), 'anchors'), env: {}, freeze: false });
  assert.ok(!Object.isFrozen(loose.model.services['one']?.environment));
  assert.deepEqual(loose.model, model);
});

describe('gantry stack config', () => {
  const run = async (args: Partial<Parameters<typeof stackConfigCommand>[0]>, cwd: string): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await stackConfigCommand({
      files: [], projectName: undefined, projectDirectory: undefined, profiles: [], envFiles: [], format: 'yaml', services: false, volumes: false,
      ...args,
      cwd, env: {}, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) },
    });
    return { code, out, err };
  };
  test('prints the normalised model as YAML or JSON', async () => {
    const dir = join(fixturesRoot(), 'anchors');
    const y = await run({}, dir);
    assert.equal(y.code, 0);
    assert.match(y.out, /^name: anchors$/m);
    assert.match(y.out, /^ {4}image: two:2$/m);
    const j = await run({ format: 'json' }, dir);
    const parsed = JSON.parse(j.out) as { services: Record<string, { image: string }> };
    assert.equal(parsed.services['one']?.image, 'base:1');
  });
  test('--services, --volumes, --hash', async () => {
    const dir = join(fixturesRoot(), 'include');
    assert.equal((await run({ services: true }, dir)).out, 'app\ndb\n');
    assert.equal((await run({ volumes: true }, dir)).out, 'dbdata\n');
    assert.match((await run({ hash: 'db' }, dir)).out, /^db [0-9a-f]{64}\n$/);
    const missing = await run({ hash: 'nope' }, dir);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no such service: nope/);
  });
  test('errors: every diagnostic on stderr, exit status 1; warnings alone exit 0', async () => {
    const bad = await run({}, join(fixturesRoot(), 'err-cycle'));
    assert.equal(bad.code, 1);
    assert.equal(bad.out, '');
    assert.match(bad.err, /error\[SPEC_DEPENDENCY_CYCLE\]: dependency cycle: a -> b -> c -> a/);
    assert.match(bad.err, /2 errors\n$/);
    const warn = await run({}, join(fixturesRoot(), 'warn-unsupported'));
    assert.equal(warn.code, 0);
    assert.match(warn.err, /warning\[SPEC_UNSUPPORTED_KEY\]: `ssh` is not supported/);
  });
});
