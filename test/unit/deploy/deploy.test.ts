// Deployments from git without a daemon: tick decisions, back-off, status and health, the webhook check, git's
// environment (credentials never in arguments), source validation, the store's quarantine, and the service over a
// fake git and a fake stack port (health-gated rollout, automatic rollback, the bad commit not retried, rollback +
// suspend, a daemon killed mid-apply).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { computeStatus, decideTick, driftOf, nextDelayMs, serviceHealth, trimRevisions, MAX_BACKOFF_MS, type DriftItem } from '../../../src/deploy/decide.js';
import { GitSource, gitEnvironment, scrub, treeTooBig, type GitRunner } from '../../../src/deploy/git.js';
import type { StackPort } from '../../../src/deploy/port.js';
import { DeployService } from '../../../src/deploy/service.js';
import { checkRepoUrl, parseSpec } from '../../../src/deploy/spec.js';
import { DeployStore } from '../../../src/deploy/store.js';
import { INITIAL_STATE, type DeployRecord, type DeploySpec, type Revision } from '../../../src/deploy/types.js';
import { checkHook } from '../../../src/deploy/webhook.js';
import type { UpRequest } from '../../../src/daemon/stack-service.js';
import type { ObservedContainer } from '../../../src/reconcile/types.js';
import type { StackModel } from '../../../src/stack/model.js';
import { FakeClock } from '../../fakes/fake-clock.js';

const temps: string[] = [];
after(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }); });
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gantry-deploy-unit-'));
  temps.push(d);
  return d;
}

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

const SPEC: DeploySpec = {
  name: 'app', repo: 'file:///srv/app.git', ref: 'main', paths: [], envFile: undefined, intervalMs: 1000, timeoutMs: 5000,
  prune: false, selfHeal: false, auth: { kind: 'none' }, webhookSecretFile: undefined,
};

function model(services: Record<string, { oneShotFor?: string }> = { web: {} }): StackModel {
  const svc = (name: string): unknown => ({ name, image: 'busybox', depends_on: Object.fromEntries(Object.entries(services).filter(([, s]) => s.oneShotFor === name).map(([k]) => [k, { condition: 'service_completed_successfully' }])) });
  return { name: 'app', services: Object.fromEntries(Object.keys(services).map((k) => [k, svc(k)])) } as unknown as StackModel;
}

function rev(n: number, commit: string, result: Revision['result'] = 'good'): Revision {
  return { rev: n, commit, appliedAt: '2026-01-01T00:00:00.000Z', result, cause: 'new commit', model: model(), images: {} };
}

function record(over: Partial<DeployRecord['state']> = {}, revisions: Revision[] = [rev(1, A)], spec: Partial<DeploySpec> = {}): DeployRecord {
  return { spec: { ...SPEC, ...spec }, state: { ...INITIAL_STATE, appliedRev: 1, lastGoodRev: 1, latestCommit: A, nextRev: 2, ...over }, revisions, created: '2026-01-01T00:00:00.000Z' };
}

function container(service: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return { id: `${service}1`, name: `app-${service}-1`, service, number: 1, oneOff: false, configHash: 'h', imageId: 'i', status: 'running', health: undefined, exitCode: 0, ...over };
}

const GONE: DriftItem = { service: 'web', text: 'container:app-web-1 not found' };

describe('tick decisions', () => {
  const cases: Array<[string, DeployRecord, Parameters<typeof decideTick>[0]['remote'], DriftItem[], string]> = [
    ['same commit, no drift: idle', record(), { ok: true, commit: A }, [], 'idle:synced'],
    ['a new commit is deployed', record(), { ok: true, commit: B }, [], 'deploy:new commit'],
    ['nothing applied yet: first sync', record({ appliedRev: undefined }, []), { ok: true, commit: A }, [], 'deploy:first sync'],
    ['the failed commit is not retried', record({ failedCommit: B }), { ok: true, commit: B }, [], 'idle'],
    ['the ref moved past the failed commit', record({ failedCommit: B }), { ok: true, commit: C }, [], 'deploy:new commit'],
    ['git failed: back off', record(), { ok: false, error: 'unreachable' }, [], 'fail'],
    ['suspended: nothing applied', record({ suspended: true }), { ok: true, commit: B }, [], 'idle'],
    ['drift, self-heal off: reported only', record(), { ok: true, commit: A }, [GONE], 'idle'],
    ['drift, self-heal on: healed', record({}, [rev(1, A)], { selfHeal: true }), { ok: true, commit: A }, [GONE], 'heal'],
    ['drift while the ref sits on a failed commit: healed', record({ failedCommit: B }, [rev(1, A)], { selfHeal: true }), { ok: true, commit: B }, [GONE], 'heal'],
    ['an interrupted apply is finished first (even if git fails)', record({ applying: { commit: B, rev: 2 } }, [rev(1, A), rev(2, B, 'applying')]), { ok: false, error: 'x' }, [], 'resume'],
  ];
  for (const [what, r, remote, drift, want] of cases) {
    test(what, () => {
      const d = decideTick({ record: r, remote, drift });
      const got = d.kind === 'deploy' ? `deploy:${d.cause}` : d.kind === 'idle' && d.why === 'synced' ? 'idle:synced' : d.kind;
      assert.equal(got, want);
    });
  }
});

describe('back-off', () => {
  test('one interval when healthy; doubling after failures; capped at 5 minutes (or the interval)', () => {
    assert.deepEqual([0, 1, 2, 3].map((n) => nextDelayMs(1000, n)), [1000, 2000, 4000, 8000]);
    assert.equal(nextDelayMs(1000, 40), MAX_BACKOFF_MS);
    assert.equal(nextDelayMs(3600_000, 3), 3600_000);
  });
});

describe('status', () => {
  test('Synced and Healthy when the running revision is the latest and its containers are up', () => {
    const s = computeStatus({ record: record(), containers: [container('web')], drift: [] });
    assert.equal(s.sync, 'Synced');
    assert.equal(s.health, 'Healthy');
    assert.equal(s.appliedCommit, A);
  });
  test('OutOfSync with the reason: new commit, failed commit, drift', () => {
    assert.match(computeStatus({ record: record({ latestCommit: B }), containers: [container('web')], drift: [] }).syncReason, /^new commit bbbbbbbbbbbb$/);
    assert.match(computeStatus({ record: record({ latestCommit: B, failedCommit: B }), containers: [container('web')], drift: [] }).syncReason, /commit bbbbbbbbbbbb failed; running rev 1/);
    const d = computeStatus({ record: record(), containers: [], drift: [GONE] });
    assert.equal(d.sync, 'OutOfSync');
    assert.equal(d.syncReason, 'drift: container:app-web-1 not found');
    assert.equal(d.health, 'Degraded');
    assert.deepEqual(d.services.map((v) => [v.service, v.sync, v.syncReason]), [['web', 'OutOfSync', 'drift: container:app-web-1 not found']]);
  });
  test('drift is what an up of the running revision would do, per service (waits are not drift)', () => {
    assert.deepEqual(driftOf([
      { type: 'create-container', resource: 'container:app-web-1', cause: 'not found', service: 'web' },
      { type: 'recreate-container', resource: 'container:app-db-1', cause: 'config hash changed', service: 'db' },
      { type: 'wait-container', resource: 'container:app-db-1', cause: 'healthy', service: 'db' },
    ]), [{ service: 'web', text: 'container:app-web-1 not found' }, { service: 'db', text: 'container:app-db-1 config hash changed' }]);
  });
  test('Progressing while a revision is applied; Unknown before the first answer', () => {
    assert.equal(computeStatus({ record: record({ applying: { commit: B, rev: 2 } }), containers: [container('web')], drift: [] }).health, 'Progressing');
    const fresh = computeStatus({ record: record({ appliedRev: undefined, latestCommit: undefined, lastError: 'git ls-remote failed' }, []), containers: [], drift: [] });
    assert.equal(fresh.sync, 'Unknown');
    assert.equal(fresh.syncReason, 'git ls-remote failed');
    assert.equal(fresh.health, 'Missing');
  });
  test('health per service: starting, unhealthy, exited, one-shot completed, missing', () => {
    const m = model({ web: {}, db: {}, migrate: { oneShotFor: 'web' }, gone: {}, cache: {} });
    const got = serviceHealth(m, [container('web', { health: 'starting' }), container('db', { health: 'unhealthy' }), container('migrate', { status: 'exited', exitCode: 0 }),
      container('cache', { status: 'exited', exitCode: 1 })]);
    assert.deepEqual(got.map((s) => `${s.service}=${s.health}`), ['cache=Degraded', 'db=Degraded', 'gone=Degraded', 'migrate=Healthy', 'web=Progressing']);
  });
  test('trimming keeps the running and the last good revision', () => {
    const revs = [1, 2, 3, 4].map((n) => rev(n, A));
    assert.deepEqual(trimRevisions(revs, new Set([1]), 2).map((r) => r.rev), [1, 4]);
  });
});

describe('webhook check', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const sig = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`;
  test('GitHub signature: right, wrong, malformed', () => {
    assert.deepEqual(checkHook('s3cret', { 'x-hub-signature-256': sig }, body), { ok: true, via: 'github' });
    assert.equal(checkHook('other', { 'x-hub-signature-256': sig }, body).ok, false);
    assert.equal(checkHook('s3cret', { 'x-hub-signature-256': sig }, Buffer.from('{}')).ok, false);
    assert.equal(checkHook('s3cret', { 'x-hub-signature-256': 'sha1=abc' }, body).ok, false);
  });
  test('GitLab token; no header; empty secret', () => {
    assert.deepEqual(checkHook('s3cret', { 'x-gitlab-token': 's3cret' }, body), { ok: true, via: 'gitlab' });
    assert.equal(checkHook('s3cret', { 'x-gitlab-token': 's3cre' }, body).ok, false);
    assert.equal(checkHook('s3cret', {}, body).ok, false);
    assert.equal(checkHook('', { 'x-gitlab-token': '' }, body).ok, false);
  });
});

describe('git environment', () => {
  test('no prompt, no system or global config, no hooks', () => {
    const { env } = gitEnvironment({ kind: 'none' }, () => '', { PATH: '/usr/bin' });
    assert.equal(env['GIT_TERMINAL_PROMPT'], '0');
    assert.equal(env['GIT_CONFIG_NOSYSTEM'], '1');
    assert.equal(env['GIT_CONFIG_GLOBAL'], '/dev/null');
    assert.equal(env['GIT_SSH_COMMAND'], undefined);
  });
  test('a token goes in an HTTP header through GIT_CONFIG_*, and is scrubbed from messages', () => {
    const e = gitEnvironment({ kind: 'token', tokenFile: '/t' }, () => 'tok123', {});
    assert.equal(e.env['GIT_CONFIG_KEY_2'], 'http.extraHeader');
    assert.equal(e.env['GIT_CONFIG_VALUE_2'], `Authorization: Basic ${Buffer.from('x-access-token:tok123').toString('base64')}`);
    assert.equal(scrub('fatal: token tok123 refused\nhint: x', e.secrets), 'fatal: token *** refused');
    assert.throws(() => gitEnvironment({ kind: 'token', tokenFile: '/t' }, () => 'a\nb', {}), /several lines/);
  });
  test('ssh: the key and known_hosts, host keys checked, quoted for the shell git runs it with', () => {
    const { env } = gitEnvironment({ kind: 'ssh', keyFile: "/k/id it's", knownHostsFile: '/k/known' }, () => '', {});
    assert.match(env['GIT_SSH_COMMAND']!, /-i '\/k\/id it'\\''s'/);
    assert.match(env['GIT_SSH_COMMAND']!, /UserKnownHostsFile='\/k\/known'/);
    assert.match(env['GIT_SSH_COMMAND']!, /StrictHostKeyChecking=yes/);
  });
  test('resolve: branch before tag, annotated tags peeled, a SHA as is, a missing ref named; argv never holds a secret', async () => {
    const calls: string[][] = [];
    const runner: GitRunner = { run: async (args) => { calls.push([...args]); return `${A}\trefs/heads/v1\n${B}\trefs/tags/v1\n${C}\trefs/tags/v1^{}\n${B}\trefs/tags/v2\n${C}\trefs/tags/v2^{}\n`; } };
    const git = new GitSource(runner);
    const e = gitEnvironment({ kind: 'token', tokenFile: '/t' }, () => 'tok123', {});
    const only = (name: string): GitSource => new GitSource({ run: async (args) => { calls.push([...args]); return (await runner.run(args, { env: {}, timeoutMs: 1 })).split('\n').filter((l) => l.includes(name)).join('\n'); } });
    assert.equal(await git.resolve('https://h/r.git', 'v1', e), A);
    assert.equal(await only('tags/v2').resolve('https://h/r.git', 'v2', e), C);
    assert.equal(await git.resolve('https://h/r.git', C, e), C);
    await assert.rejects(only('nothing').resolve('https://h/r.git', 'v9', e), (err: unknown) => err instanceof GantryError && err.code === 'GIT_REF_NOT_FOUND');
    assert.ok(calls.every((a) => !a.join(' ').includes('tok123')));
  });
});

describe('checkout caps', () => {
  test('files and bytes of a tree from ls-tree -r -l; submodules have no size', () => {
    const line = (size: number | string, path: string): string => `100644 blob ${'0'.repeat(40)} ${String(size).padStart(7)}\t${path}`;
    assert.equal(treeTooBig([line(10, 'a'), line(20, 'b b'), `160000 commit ${'1'.repeat(40)}       -\tsub`].join('\n'), 3, 100), undefined);
    assert.match(treeTooBig([line(1, 'a'), line(1, 'b')].join('\n'), 1, 100) ?? '', /2 files \(the cap is 1\)/);
    assert.match(treeTooBig(line(3 * 1048576, 'big'), 10, 2 * 1048576) ?? '', /3 MiB \(the cap is 2 MiB\)/);
  });
});

describe('source validation', () => {
  test('credentials in the URL and odd schemes are refused', () => {
    assert.throws(() => checkRepoUrl('https://u:p@host/r.git'), /carries credentials/);
    assert.throws(() => checkRepoUrl('https://tok@host/r.git'), /carries credentials/);
    assert.throws(() => checkRepoUrl('http://example.com/r.git'), /not supported/);
    assert.throws(() => checkRepoUrl('ext::sh -c x'), /not a URL|not supported/);
    checkRepoUrl('ssh://git@host/r.git');
    checkRepoUrl('http://127.0.0.1:8080/r.git');
    checkRepoUrl('file:///srv/r.git');
  });
  test('paths stay in the repository; host files are absolute; auth matches the scheme', () => {
    assert.throws(() => parseSpec({ name: 'a', repo: 'file:///r', paths: ['../x'] }), /not a path inside/);
    assert.throws(() => parseSpec({ name: 'a', repo: 'file:///r', envFile: 'rel.env' }), /absolute path/);
    assert.throws(() => parseSpec({ name: 'a', repo: 'file:///r', auth: { kind: 'token', tokenFile: '/t' } }), /for https/);
    assert.throws(() => parseSpec({ name: 'A b', repo: 'file:///r' }), /invalid deployment name/);
    assert.throws(() => parseSpec({ name: 'a', repo: 'file:///r', intervalMs: 10 }), /between/);
    const s = parseSpec({ name: 'a', repo: 'file:///r', paths: ['deploy/'] });
    assert.deepEqual([s.ref, s.paths, s.intervalMs, s.prune, s.selfHeal], ['main', ['deploy'], 60_000, false, false]);
  });
});

describe('store', () => {
  test('round trip; a damaged record is quarantined and not acted on; a newer one is refused', () => {
    const root = tempDir();
    const store = new DeployStore(root);
    store.save(record());
    assert.equal(store.get('app')?.spec.repo, SPEC.repo);
    writeFileSync(join(root, 'deploy/sources/broken.json'), '{"version":1,"spec":');
    assert.equal(store.get('broken'), undefined);
    assert.ok(readdirSync(join(root, 'quarantine')).some((f) => f.endsWith('deploy-sources-broken.json')));
    writeFileSync(join(root, 'deploy/sources/future.json'), '{"version":99}');
    assert.throws(() => store.get('future'), (e: unknown) => e instanceof GantryError && e.code === 'STATE_TOO_NEW');
    assert.deepEqual(store.list().map((r) => r.spec.name), ['app']);
  });
});

// ---- the service over fakes --------------------------------------------------------------------------------------

/** A remote: commits → files; `head` is what the ref points at. The runner acts like git for ls-remote/fetch/checkout. */
class FakeRemote {
  head = A;
  readonly commits = new Map<string, Record<string, string>>();
  reachable = true;
  runner: GitRunner = {
    run: async (args) => {
      if (!this.reachable) throw new Error('fatal: could not read from remote repository');
      if (args[0] === 'ls-remote') return `${this.head}\trefs/heads/main\n`;
      if (args[0] === 'init') { mkdirSync(args[3]!, { recursive: true }); writeFileSync(join(args[3]!, 'HEAD'), 'ref: x\n'); return ''; }
      const i = args.indexOf('checkout');
      if (args.includes('cat-file')) throw new Error('missing');
      if (args.includes('ls-tree')) return Object.entries(this.commits.get(args[args.length - 1]!) ?? {}).map(([p, t]) => `100644 blob ${'0'.repeat(40)} ${t.length}\t${p}`).join('\n');
      if (args.includes('fetch')) return '';
      if (i >= 0) {
        const tree = args[args.indexOf('--work-tree') + 1]!;
        for (const [p, t] of Object.entries(this.commits.get(args[i + 3]!) ?? {})) { mkdirSync(dirname(join(tree, p)), { recursive: true }); writeFileSync(join(tree, p), t); }
        return '';
      }
      throw new Error(`unexpected git ${args.join(' ')}`);
    },
  };
}

/** Records `up` calls; a model whose web command says "sick" never gets healthy. */
class FakeStacks implements StackPort {
  readonly ups: string[] = [];
  held = new Map<string, boolean>();
  running: StackModel | undefined;
  hang: Promise<void> | undefined;
  async up(req: UpRequest, emit: Parameters<StackPort['up']>[1]): Promise<boolean> {
    const cmd = JSON.stringify(req.model.services['web']?.command ?? []);
    this.ups.push(cmd);
    if (this.hang !== undefined) await this.hang;
    this.running = req.model;
    const ok = !cmd.includes('sick');
    emit({ kind: 'result', ok, failures: ok ? [] : [{ service: 'web', resource: 'service:web', message: 'container app-web-1 is unhealthy' }] });
    return ok;
  }
  async plan(): Promise<[]> { return []; }
  setHeld(project: string, held: boolean): void { this.held.set(project, held); }
  async down(): Promise<boolean> { this.running = undefined; return true; }
  containers(): ObservedContainer[] { return this.running === undefined ? [] : [container('web')]; }
  image(): { id: string; repoDigests: string[] } { return { id: 'sha256:feed', repoDigests: ['reg/busybox@sha256:beef'] }; }
  readonly events: string[] = [];
  event(action: string): void { this.events.push(action); }
  /** Services built, as `service@command`; a build whose service's build args say FAIL fails. */
  readonly builds: string[] = [];
  async build(model: StackModel): Promise<string | undefined> {
    for (const [name, s] of Object.entries(model.services)) {
      if (s.build === undefined) continue;
      this.builds.push(name);
      if (s.build.args['FAIL'] !== undefined) return `service ${name}: the build failed: RUN exited 1`;
    }
    return undefined;
  }
}

const file = (cmd: string): Record<string, string> => ({ 'compose.yaml': `services:\n  web:\n    image: busybox\n    command: ["${cmd}"]\n` });

function service(root: string, remote: FakeRemote, stacks: FakeStacks): DeployService {
  return new DeployService(root, stacks, { clock: new FakeClock(), git: new GitSource(remote.runner) });
}

describe('deploy service over fakes', () => {
  test('health-gated rollout: a sick commit is rolled back, not retried, and the next good one converges', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    remote.commits.set(A, file('v1')).set(B, file('sick')).set(C, file('v3'));
    const svc = service(root, remote, stacks);
    svc.add(SPEC);
    let s = await svc.sync('app');
    assert.equal(s.sync, 'Synced');
    assert.equal(stacks.held.get('app'), true, 'without --self-heal the stack service does not repair it');
    remote.head = B;
    s = await svc.sync('app');
    assert.deepEqual(stacks.ups, ['["v1"]', '["sick"]', '["v1"]']);
    assert.equal(s.failedCommit, B);
    assert.equal(s.appliedCommit, A);
    assert.match(s.lastError ?? '', /failed: service web: container app-web-1 is unhealthy; rolled back to rev 1/);
    await svc.sync('app');
    assert.equal(stacks.ups.length, 3, 'the bad commit is not tried again');
    remote.head = C;
    s = await svc.sync('app');
    assert.equal(s.appliedCommit, C);
    assert.equal(s.failedCommit, undefined, 'the ref moved on and a good commit runs');
    assert.equal(s.sync, 'Synced');
    assert.deepEqual(svc.history('app').map((r) => `${r.rev}:${r.result}`), ['4:good', '3:good', '2:bad', '1:good']);
    assert.deepEqual(svc.history('app')[0]!.images, { web: { ref: 'busybox', id: 'sha256:feed', repoDigests: ['reg/busybox@sha256:beef'] } });
    assert.ok(stacks.events.includes('rollback'));
  });

  test('build: services are built from the checkout before the up; a failed build applies nothing and says why', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    const built = (cmd: string, fail = false): Record<string, string> => ({
      'compose.yaml': `services:\n  web:\n    image: app-web\n    build: { context: ./web${fail ? ', args: { FAIL: "1" }' : ''} }\n    command: ["${cmd}"]\n`,
      'web/Dockerfile': 'FROM busybox\n',
    });
    remote.commits.set(A, built('v1')).set(B, built('v2', true));
    const svc = service(root, remote, stacks);
    svc.add(SPEC);
    await svc.sync('app');
    assert.deepEqual([stacks.builds, stacks.ups], [['web'], ['["v1"]']]);
    remote.head = B;
    const s = await svc.sync('app');
    assert.deepEqual(stacks.ups.filter((u) => u === '["v2"]'), [], 'nothing of the commit whose build failed was applied');
    assert.equal(s.failedCommit, B);
    assert.match(s.lastError ?? '', /service web: the build failed: RUN exited 1/);
  });

  test('an invalid stack is not applied: diagnostics located in the checkout, relative paths', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    remote.commits.set(A, file('v1')).set(B, { 'compose.yaml': 'services:\n  web:\n    image: busybox\n    privileged: true\n' });
    const svc = service(root, remote, stacks);
    svc.add(SPEC);
    await svc.sync('app');
    remote.head = B;
    const s = await svc.sync('app');
    assert.equal(stacks.ups.length, 1);
    assert.equal(s.failedCommit, B);
    const d = s.diagnostics.find((x) => x.severity === 'error');
    assert.equal(d?.code, 'SPEC_RISKY_PRIVILEGED');
    assert.equal(d?.location?.file, 'compose.yaml');
    assert.doesNotMatch(s.lastError ?? '', new RegExp(root));
  });

  test('an unreachable repository backs off and keeps the running revision', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    remote.commits.set(A, file('v1'));
    const clock = new FakeClock();
    const svc = new DeployService(root, stacks, { clock, git: new GitSource(remote.runner) });
    svc.add(SPEC);
    await svc.sync('app');
    remote.reachable = false;
    await svc.sync('app');
    const s = await svc.sync('app');
    assert.match(s.lastError ?? '', /git ls-remote of file:\/\/\/srv\/app\.git failed: fatal: could not read/);
    assert.equal(Date.parse(s.nextPoll!) - clock.now(), 4000, 'two failures: 4 intervals');
    assert.equal(s.appliedCommit, A);
    assert.equal(s.health, 'Healthy');
  });

  test('rollback REV applies it and suspends; resume syncs the ref again', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    remote.commits.set(A, file('v1')).set(B, file('v2'));
    const svc = service(root, remote, stacks);
    svc.add(SPEC);
    await svc.sync('app');
    remote.head = B;
    await svc.sync('app');
    let s = await svc.rollback('app', undefined);
    assert.equal(s.appliedCommit, A);
    assert.equal(s.suspended, true);
    s = await svc.sync('app');
    assert.equal(s.appliedCommit, A, 'suspended: the new commit waits');
    svc.resume('app');
    s = await svc.sync('app');
    assert.equal(s.appliedCommit, B);
    await assert.rejects(svc.rollback('app', 99), /has no revision 99/);
  });

  test('a daemon killed mid-apply: the next service on the same root finishes that revision first', async () => {
    const root = tempDir();
    const remote = new FakeRemote();
    const stacks = new FakeStacks();
    remote.commits.set(A, file('v1')).set(B, file('v2'));
    const first = service(root, remote, stacks);
    first.add(SPEC);
    await first.sync('app');
    remote.head = B;
    stacks.hang = new Promise(() => undefined); // never returns: the process "dies" here
    void first.sync('app');
    await new Promise((r) => setTimeout(r, 50));
    first.stop();
    stacks.hang = undefined;
    const again = service(root, remote, stacks);
    again.start();
    assert.equal(again.status('app').health, 'Progressing');
    const s = await again.sync('app');
    assert.equal(s.appliedCommit, B);
    assert.equal(s.health, 'Healthy');
    assert.deepEqual(again.history('app').map((r) => `${r.rev}:${r.result}:${r.cause}`), ['2:good:new commit', '1:good:first sync']);
    assert.ok(existsSync(join(root, 'deploy', 'cache', 'app', 'checkouts', B)));
  });
});
