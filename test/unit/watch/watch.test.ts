// gantry watch without a daemon: batching on a fake clock, ignore rules (table-driven, editor temp files
// included), rule selection per change, sync plans for add/change/delete/rename, the develop.watch diagnostics
// of stack files, and a session over a fake daemon (resync after a restart before the next batch, lost
// deletions kept for the resync).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { diagnosticsOf, loadStack } from '../../../src/stack/index.js';
import { serviceConfigHash } from '../../../src/stack/hash.js';
import type { StackModel, WatchRuleModel } from '../../../src/stack/model.js';
import { Batcher, type Change } from '../../../src/watch/batcher.js';
import type { ContainerEvent, DaemonPort, WatchedContainer } from '../../../src/watch/daemon-port.js';
import { RuleFilter, isEditorTemp } from '../../../src/watch/ignore.js';
import { planBatch, rulesFor, type WatchedRule } from '../../../src/watch/plan.js';
import { WatchSession, walkRule } from '../../../src/watch/session.js';
import { manifestFile, SyncManifest } from '../../../src/watch/manifest.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const temps: string[] = [];
after(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gantry-watch-unit-'));
  temps.push(d);
  return d;
}

const rule = (over: Partial<WatchRuleModel> = {}): WatchRuleModel => ({
  path: '/p/src', action: 'sync', target: '/app', ignore: [], include: [], initial_sync: false, exec: undefined, ...over,
});
const watched = (service: string, r: WatchRuleModel, extra: { dockerignore?: { contextDir: string; text: string } } = {}): WatchedRule => ({
  service, rule: r, filter: new RuleFilter({ root: r.path, ignore: r.ignore, include: r.include, dockerignore: extra.dockerignore }),
});
const write = (path: string, isDir = false): Change => ({ path, kind: 'write', isDir });
const remove = (path: string, isDir = false): Change => ({ path, kind: 'remove', isDir });

describe('batching', () => {
  test('events closer than the quiet period are one batch; the batch closes once it is quiet', async () => {
    const clock = new FakeClock();
    const batches: Change[][] = [];
    const b = new Batcher(clock, (c) => batches.push(c), 25, 500);
    b.add(write('/p/a'));
    await clock.advance(20);
    b.add(write('/p/b'));
    await clock.advance(20);
    assert.equal(batches.length, 0, 'still within the quiet period of the last event');
    await clock.advance(5);
    assert.deepEqual(batches.map((x) => x.map((c) => c.path)), [['/p/a', '/p/b']]);
  });

  test('a stream that never pauses is still flushed at the max wait', async () => {
    const clock = new FakeClock();
    const batches: Change[][] = [];
    const b = new Batcher(clock, (c) => batches.push(c), 25, 100);
    for (let i = 0; i < 12; i++) { b.add(write(`/p/f${i}`)); await clock.advance(10); }
    assert.equal(batches.length, 1);
    assert.equal(batches[0]!.length, 10);
    await clock.advance(25);
    assert.equal(batches.length, 2);
  });

  test('the last event of a path wins (rename = unlink + add; delete then recreate = a write)', async () => {
    const clock = new FakeClock();
    const batches: Change[][] = [];
    const b = new Batcher(clock, (c) => batches.push(c), 25, 500);
    b.add(write('/p/a'));
    b.add(remove('/p/a'));
    b.add(remove('/p/b'));
    b.add(write('/p/b'));
    await clock.advance(25);
    assert.deepEqual(batches[0]!.map((c) => `${c.kind} ${c.path}`), ['remove /p/a', 'write /p/b']);
  });

  test('close() flushes at once (Ctrl-C loses nothing) and does nothing when empty', () => {
    const clock = new FakeClock();
    const batches: Change[][] = [];
    const b = new Batcher(clock, (c) => batches.push(c));
    b.close();
    b.add(write('/p/a'));
    b.close();
    assert.equal(batches.length, 1);
  });
});

describe('ignore rules', () => {
  const cases: Array<[string, boolean, boolean, Partial<WatchRuleModel>?]> = [
    // [path below /p/src, isDir, ignored, rule]
    ['app.py', false, false],
    ['.git', true, true],
    ['.git/HEAD', false, true],
    ['sub/.git/config', false, true],
    ['.app.py.swp', false, true],
    ['.app.py.swo', false, true],
    ['.app.py.swx', false, true],
    ['4913', false, true],
    ['app.py~', false, true],
    ['#app.py#', false, true],
    ['.#app.py', false, true],
    ['app.py___jb_tmp___', false, true],
    ['app.py___jb_old___', false, true],
    ['swp.py', false, false],
    ['.swpfile', false, false],
    ['node_modules', true, true, { ignore: ['node_modules/'] }],
    ['node_modules/x/y.js', false, true, { ignore: ['node_modules/'] }],
    ['build/out.o', false, true, { ignore: ['**/*.o'] }],
    ['keep.o', false, false, { ignore: ['**/*.o', '!keep.o'] }],
    ['app.py', false, false, { include: ['*.py'] }],
    ['README.md', false, true, { include: ['*.py'] }],
    ['lib', true, false, { include: ['*.py'] }],
  ];
  for (const [rel, isDir, ignored, over] of cases) {
    test(`${rel}${isDir ? '/' : ''} ${ignored ? 'is ignored' : 'is kept'}${over ? ` with ${JSON.stringify(over)}` : ''}`, () => {
      const f = new RuleFilter({ root: '/p/src', ignore: over?.ignore ?? [], include: over?.include ?? [] });
      assert.equal(f.ignores(`/p/src/${rel}`, isDir), ignored);
    });
  }

  test('the build context\'s .dockerignore applies, relative to the context', () => {
    const f = new RuleFilter({ root: '/p/src', ignore: [], include: [], dockerignore: { contextDir: '/p', text: 'src/generated\n*.log\n' } });
    assert.equal(f.ignores('/p/src/generated/x.js', false), true);
    assert.equal(f.ignores('/p/src/generated', true), true);
    assert.equal(f.ignores('/p/src/a.log', false), false, '*.log matches only at the context root, as Docker reads it');
    assert.equal(f.ignores('/p/src/app.js', false), false);
  });

  test('paths outside the rule are never its concern', () => {
    const f = new RuleFilter({ root: '/p/src', ignore: [], include: [] });
    assert.equal(f.ignores('/p/other/x', false), true);
    assert.equal(f.ignores('/p/srcx/x', false), true);
    assert.equal(f.relative('/p/src'), '');
  });

  test('editor temp names', () => {
    for (const n of ['.x.swp', '4913', 'x~', '#x#', '.#x', 'x___jb_tmp___']) assert.equal(isEditorTemp(n), true, n);
    for (const n of ['x.swp.py', 'x', '#x', 'x#']) assert.equal(isEditorTemp(n), false, n);
  });

  test('an ignored directory is not walked (walkRule never enters it)', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'src/node_modules/deep'), { recursive: true });
    mkdirSync(join(d, 'src/.git'), { recursive: true });
    writeFileSync(join(d, 'src/node_modules/deep/x.js'), '');
    writeFileSync(join(d, 'src/.git/HEAD'), '');
    writeFileSync(join(d, 'src/app.py'), '');
    writeFileSync(join(d, 'src/.app.py.swp'), '');
    const w = watched('web', rule({ path: join(d, 'src'), ignore: ['node_modules'] }));
    const copies = await walkRule(w);
    assert.deepEqual(copies.map((c) => c.containerPath), ['/app/app.py']);
  });
});

describe('rule selection and sync plans', () => {
  const web = watched('web', rule());
  const webRestart = watched('web', rule({ path: '/p/config.yml', action: 'restart', target: undefined }));
  const worker = watched('worker', rule({ path: '/p/src/jobs', action: 'sync+exec', target: '/srv/jobs', exec: { command: ['kill', '-HUP', '1'], user: undefined, privileged: false, working_dir: undefined, environment: {} } }));
  const rebuild = watched('api', rule({ path: '/p/api', action: 'rebuild', target: undefined }));
  const all = [web, webRestart, worker, rebuild];

  test('each change concerns the rules whose path holds it and do not ignore it', () => {
    assert.deepEqual(rulesFor(write('/p/src/a.py'), all).map((r) => r.service), ['web']);
    assert.deepEqual(rulesFor(write('/p/src/jobs/j.py'), all).map((r) => r.service), ['web', 'worker']);
    assert.deepEqual(rulesFor(write('/p/config.yml'), all).map((r) => r.rule.action), ['restart']);
    assert.deepEqual(rulesFor(write('/p/src/.a.py.swp'), all), []);
    assert.deepEqual(rulesFor(write('/p/README'), all), []);
  });

  test('add and change are copies to the target, parents first', () => {
    const [p] = planBatch([write('/p/src/lib/b.py'), write('/p/src/lib', true), write('/p/src/a.py')], [web]);
    assert.deepEqual(p!.copies.map((c) => `${c.base} ${c.containerPath}`), ['/app /app/a.py', '/app /app/lib', '/app /app/lib/b.py']);
    assert.deepEqual(p!.removals, []);
    assert.equal(p!.restart, false);
  });

  test('delete and rename: the old path is removed, the new one written; removals below a removed dir are dropped', () => {
    const [p] = planBatch([remove('/p/src/old.py'), write('/p/src/new.py'), remove('/p/src/gone/x.py'), remove('/p/src/gone', true)], [web]);
    assert.deepEqual(p!.copies.map((c) => c.containerPath), ['/app/new.py']);
    assert.deepEqual(p!.removals, ['/app/gone', '/app/old.py']);
  });

  test('a file rule maps the file to its target (extracted into the target\'s parent)', () => {
    const file = watched('web', rule({ path: '/p/app.py', target: '/srv/app.py' }));
    const [p] = planBatch([write('/p/app.py')], [file]);
    assert.deepEqual(p!.copies.map((c) => `${c.base} ${c.containerPath}`), ['/srv /srv/app.py']);
  });

  test('restart and exec are per service, once per batch; rebuild rules plan nothing (not supported yet)', () => {
    const plans = planBatch([write('/p/config.yml'), write('/p/src/jobs/a.py'), write('/p/src/jobs/b.py'), write('/p/api/main.go')], all);
    const by = new Map(plans.map((p) => [p.service, p]));
    assert.equal(by.get('web')!.restart, true);
    assert.equal(by.get('worker')!.execs.length, 1);
    assert.deepEqual(by.get('worker')!.copies.map((c) => c.containerPath), ['/srv/jobs/a.py', '/srv/jobs/b.py']);
    assert.equal(by.has('api'), false);
  });
});

describe('develop.watch in stack files', () => {
  async function diags(yaml: string, strict = false, files: Record<string, string> = {}): Promise<{ codes: string[]; model: StackModel | undefined; lines: string[] }> {
    const root = tempDir();
    mkdirSync(join(root, 'proj'));
    writeFileSync(join(root, 'proj', 'compose.yaml'), yaml);
    for (const [f, t] of Object.entries(files)) writeFileSync(join(root, 'proj', f), t);
    try {
      const r = await loadStack({ cwd: join(root, 'proj'), env: {}, strict });
      return { codes: r.diagnostics.map((d) => d.code), model: r.model, lines: r.diagnostics.map((d) => `${d.location?.line}:${d.location?.col} ${d.message}`) };
    } catch (e) {
      const d = diagnosticsOf(e);
      if (d === undefined) throw e;
      return { codes: d.map((x) => x.code), model: undefined, lines: d.map((x) => `${x.location?.line}:${x.location?.col} ${x.message}`) };
    }
  }

  test('rules are read into the model, paths resolved against the project', async () => {
    const r = await diags('services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - path: ./src\n          action: sync+exec\n          target: /app/\n          ignore: [node_modules/]\n          initial_sync: true\n          exec:\n            command: kill -HUP 1\n            user: root\n');
    assert.deepEqual(r.codes, []);
    const w = r.model!.services['web']!.develop!.watch[0]!;
    assert.match(w.path, /\/proj\/src$/);
    assert.equal(w.target, '/app/');
    assert.deepEqual(w.ignore, ['node_modules/']);
    assert.equal(w.initial_sync, true);
    assert.deepEqual(w.exec?.command, ['kill', '-HUP', '1']);
    assert.equal(w.exec?.user, 'root');
  });

  test('a target that is not absolute, a missing target, rebuild without build: located errors', async () => {
    const r = await diags('services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n          target: app\n        - path: ./x\n          action: sync+restart\n        - path: ./y\n          action: rebuild\n');
    assert.deepEqual(r.codes.sort(), ['SPEC_INVALID_VALUE', 'SPEC_MISSING_KEY', 'SPEC_WATCH_NO_BUILD']);
    assert.ok(r.lines.some((l) => l.startsWith('8:19 ') && l.includes('not an absolute path')), r.lines.join('\n'));
    assert.ok(r.lines.some((l) => l.startsWith('12:19 ')), r.lines.join('\n'));
  });

  test('a watch path outside the project is refused in strict mode only', async () => {
    const yaml = 'services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - path: ../elsewhere\n          action: sync\n          target: /app\n';
    assert.deepEqual((await diags(yaml, true)).codes, ['SPEC_PATH_OUTSIDE_PROJECT']);
    assert.deepEqual((await diags(yaml, false)).codes, []);
  });

  test('rebuild with build is accepted without a diagnostic; the context is kept for .dockerignore', async () => {
    const r = await diags('services:\n  web:\n    image: web\n    build: ./app\n    develop:\n      watch:\n        - path: ./app\n          action: rebuild\n');
    assert.deepEqual(r.codes, []);
    assert.match(r.model!.services['web']!.develop!.context!, /\/proj\/app$/);
  });

  test('develop never changes the config hash (adding watch rules recreates nothing)', async () => {
    const plain = await diags('services:\n  web:\n    image: busybox\n');
    const dev = await diags('services:\n  web:\n    image: busybox\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n          target: /app\n');
    assert.equal(serviceConfigHash(dev.model!.services['web']!), serviceConfigHash(plain.model!.services['web']!));
  });
});

describe('session over a fake daemon', () => {
  class FakePort implements DaemonPort {
    log: string[] = [];
    list: WatchedContainer[] = [{ id: 'c1', name: 'p-web-1', service: 'web', state: 'running' }];
    failWrites = false;
    listings = 0;
    async containers(): Promise<WatchedContainer[]> { this.listings++; return this.list; }
    async putArchive(id: string, dir: string, archive: Readable): Promise<void> {
      for await (const _ of archive) { /* drain */ }
      if (this.failWrites) throw new Error('container is not running');
      this.log.push(`put ${id} ${dir}`);
    }
    async removePaths(id: string, paths: readonly string[]): Promise<void> {
      if (this.failWrites) throw new Error('container is not running');
      this.log.push(`rm ${id} ${paths.join(',')}`);
    }
    async restart(id: string): Promise<void> { this.log.push(`restart ${id}`); }
    async exec(): Promise<number> { return 0; }
    async *events(): AsyncIterable<ContainerEvent> { /* none */ }
    async ping(): Promise<boolean> { return true; }
  }

  function setup(): { session: WatchSession; port: FakePort; clock: FakeClock; dir: string; out: string[] } {
    const dir = tempDir();
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'a.py'), 'a');
    const model = { name: 'p', services: { web: { volumes: [], develop: { context: undefined, watch: [rule({ path: join(dir, 'src') })] } } } } as unknown as StackModel;
    const port = new FakePort();
    const clock = new FakeClock();
    const out: string[] = [];
    const session = new WatchSession(model, ['web'], port, clock, { quiet: false, quietMs: 25, out: (l) => out.push(l), readText: async () => undefined });
    return { session, port, clock, dir, out };
  }

  test('a container that started again is resynced in full before the next batch', async () => {
    const { session, port, clock, dir } = setup();
    await session.prepare();
    session.containerEvent('start', 'c1', 'web');
    session.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await session.idle();
    assert.deepEqual(port.log, ['put c1 /app', 'put c1 /app']);
  });

  test('a failed write marks the container stale; its deletions are applied with the resync', async () => {
    const { session, port, clock, dir, out } = setup();
    await session.prepare();
    port.failWrites = true;
    session.change(remove(join(dir, 'src', 'old.py')));
    await clock.advance(25);
    await session.idle();
    assert.ok(out.some((l) => l.includes('sync failed')), out.join('\n'));
    port.failWrites = false;
    session.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await session.idle();
    assert.deepEqual(port.log, ['rm c1 /app/old.py', 'put c1 /app', 'put c1 /app']);
  });

  test('a rebuild rule rebuilds its service once per batch, restarts dependents with restart: true only, syncs nothing into the old containers; a failed build keeps them', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'src'));
    const model = { name: 'p', services: {
      web: { volumes: [], depends_on: { db: { condition: 'service_started', restart: false, required: true } }, develop: { context: undefined, watch: [
        rule({ path: join(dir, 'src') }), rule({ path: join(dir, 'src'), action: 'rebuild', target: undefined }),
      ] } },
      db: { volumes: [], depends_on: {} },
      proxy: { volumes: [], depends_on: { web: { condition: 'service_started', restart: true, required: true } } },
      worker: { volumes: [], depends_on: { web: { condition: 'service_started', restart: false, required: true } } },
    } } as unknown as StackModel;
    const port = new FakePort();
    port.list = [...port.list, { id: 'd1', name: 'p-db-1', service: 'db', state: 'running' }, { id: 'x1', name: 'p-proxy-1', service: 'proxy', state: 'running' },
      { id: 'w1', name: 'p-worker-1', service: 'worker', state: 'running' }];
    const clock = new FakeClock();
    const out: string[] = [];
    const builds: string[] = [];
    let buildOk = true;
    const s = new WatchSession(model, ['web'], port, clock, { quiet: false, quietMs: 25, out: (l) => out.push(l), readText: async () => undefined,
      rebuild: async (service) => { builds.push(service); return buildOk; } });
    await s.prepare();
    s.change(write(join(dir, 'src', 'a.py')));
    s.change(write(join(dir, 'src', 'b.py')));
    await clock.advance(25);
    await s.idle();
    assert.deepEqual(builds, ['web'], 'one rebuild for the batch');
    assert.deepEqual(port.log, ['restart x1'], 'nothing synced into the containers being replaced; only the restart: true dependent restarted, never the dependency');
    assert.ok(out.some((l) => /web: .*a\.py.*changed: rebuilding/.test(l)) && out.some((l) => /rebuilt; its containers were recreated/.test(l)), out.join('\n'));
    buildOk = false;
    s.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await s.idle();
    assert.ok(out.some((l) => /the build failed; the running containers are kept/.test(l)), out.join('\n'));
    assert.deepEqual(port.log, ['restart x1', 'put c1 /app'], 'after a failed build the sync rule still syncs into the kept container');
  });

  test('files also go into stopped and crash-looping containers; restarts only to running and restarting ones, execs only to running ones', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'src'));
    const model = { name: 'p', services: { web: { volumes: [], develop: { context: undefined, watch: [rule({ path: join(dir, 'src'), action: 'sync+restart' })] } } } } as unknown as StackModel;
    const port = new FakePort();
    port.list = [{ id: 'c1', name: 'p-web-1', service: 'web', state: 'running' }, { id: 'c2', name: 'p-web-2', service: 'web', state: 'restarting' },
      { id: 'c3', name: 'p-web-3', service: 'web', state: 'down' }];
    const clock = new FakeClock();
    const out: string[] = [];
    const s = new WatchSession(model, ['web'], port, clock, { quiet: false, quietMs: 25, out: (l) => out.push(l), readText: async () => undefined });
    await s.prepare();
    s.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await s.idle();
    assert.deepEqual(port.log, ['put c1 /app', 'put c2 /app', 'put c3 /app', 'restart c1', 'restart c2'], 'the stopped one gets the file and stays stopped');
  });

  test('a crash-looping container that gets files (initial sync, a plain sync) is started at once, not after its restart delay', async () => {
    const { session, port, clock, dir } = setup();
    port.list = [{ id: 'c1', name: 'p-web-1', service: 'web', state: 'restarting' }];
    const model = { name: 'p', services: { web: { volumes: [], develop: { context: undefined, watch: [rule({ path: join(dir, 'src'), initial_sync: true })] } } } } as unknown as StackModel;
    const s = new WatchSession(model, ['web'], port, clock, { quiet: true, quietMs: 25, out: () => undefined, readText: async () => undefined });
    void session;
    await s.prepare();
    await s.initialSync();
    s.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await s.idle();
    assert.deepEqual(port.log, ['put c1 /app', 'restart c1', 'put c1 /app', 'restart c1']);
  });

  test('a watch-made restart does not trigger a resync', async () => {
    const { session, port, clock, dir } = setup();
    const model = { name: 'p', services: { web: { volumes: [], develop: { context: undefined, watch: [rule({ path: join(dir, 'src'), action: 'sync+restart' })] } } } } as unknown as StackModel;
    const s2 = new WatchSession(model, ['web'], port, clock, { quiet: true, quietMs: 25, out: () => undefined, readText: async () => undefined });
    void session;
    await s2.prepare();
    s2.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await s2.idle();
    s2.containerEvent('start', 'c1', 'web');
    await s2.idle();
    assert.deepEqual(port.log, ['put c1 /app', 'restart c1']);
  });

  test('a file synced in an earlier session and deleted on the host meanwhile is deleted at the initial sync; what watch never wrote, or the host still has (ignored now), is left alone', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'src', 'gone-dir'), { recursive: true });
    writeFileSync(join(dir, 'src', 'a.py'), 'a');
    writeFileSync(join(dir, 'src', 'kept.log'), 'still on the host, ignored now');
    const file = join(dir, 'state', 'p.json');
    const first = new SyncManifest(file);
    first.wrote('web', [
      { containerPath: '/app/a.py', hostPath: join(dir, 'src', 'a.py') },
      { containerPath: '/app/old.py', hostPath: join(dir, 'src', 'old.py') },
      { containerPath: '/app/olddir', hostPath: join(dir, 'src', 'olddir') },
      { containerPath: '/app/olddir/x.py', hostPath: join(dir, 'src', 'olddir', 'x.py') },
      { containerPath: '/app/kept.log', hostPath: join(dir, 'src', 'kept.log') },
      { containerPath: '/elsewhere/z', hostPath: join(dir, 'other', 'z') },
    ]);
    first.flush();
    const model = { name: 'p', services: { web: { volumes: [], develop: { context: undefined, watch: [rule({ path: join(dir, 'src'), initial_sync: true, ignore: ['*.log'] })] } } } } as unknown as StackModel;
    const port = new FakePort();
    const out: string[] = [];
    const manifest = new SyncManifest(file);
    const s = new WatchSession(model, ['web'], port, new FakeClock(), { quiet: false, quietMs: 25, out: (l) => out.push(l), readText: async () => undefined, manifest });
    await s.prepare();
    await s.initialSync();
    await s.close();
    assert.deepEqual(port.log, ['rm c1 /app/old.py,/app/olddir', 'put c1 /app'], 'only the two paths watch once wrote and the host no longer has');
    assert.ok(out.some((l) => /initial sync: 1 file, 2 removed \(deleted on the host\)/.test(l)), out.join('\n'));
    const kept = Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { services: Record<string, Record<string, string>> }).services['web']!).sort();
    assert.deepEqual(kept, ['/app/a.py', '/app/gone-dir', '/app/kept.log', '/elsewhere/z'], 'the record forgets what was removed and learns what was written');
  });

  test('the record of synced files: one per daemon and project directory; a damaged one is moved aside and watch starts afresh', () => {
    const dir = tempDir();
    assert.notEqual(manifestFile(dir, '/run/a.sock', 'p', '/proj'), manifestFile(dir, '/run/b.sock', 'p', '/proj'));
    assert.notEqual(manifestFile(dir, '/run/a.sock', 'p', '/proj'), manifestFile(dir, '/run/a.sock', 'p', '/proj2'));
    const file = manifestFile(dir, '/run/a.sock', 'p', '/proj');
    writeFileSync(file, '{"version": 1, "services": {"web": {"/app/a": 7}}}');
    const out: string[] = [];
    const m = new SyncManifest(file, (l) => out.push(l));
    assert.equal(m.of('web').size, 0);
    assert.ok(!existsSync(file) && readdirSync(dir).some((n) => n.includes('.damaged-')), readdirSync(dir).join(','));
    assert.match(out.join('\n'), /damaged \(bad path in web\).*starting afresh/);
    assert.ok(!out.join('\n').includes('/app/a'), 'the damaged content is not echoed');
  });

  test('the containers are listed once, not per batch, until a container event says they changed', async () => {
    const { session, port, clock, dir } = setup();
    await session.prepare();
    for (const n of [1, 2]) {
      session.change(write(join(dir, 'src', 'a.py')));
      await clock.advance(25);
      await session.idle();
      assert.equal(port.listings, 1, `after batch ${n}`);
    }
    port.list = [{ id: 'c9', name: 'p-web-1', service: 'web', state: 'running' }];
    session.containerEvent('destroy', 'c1', 'web');
    session.change(write(join(dir, 'src', 'a.py')));
    await clock.advance(25);
    await session.idle();
    assert.equal(port.listings, 2);
    assert.deepEqual(port.log, ['put c1 /app', 'put c1 /app', 'put c9 /app'], 'the batch after the event goes to the new container');
  });
});
