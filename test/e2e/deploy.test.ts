// Deployments from git, as a user sees them: a stack file in a bare repository (file://) or behind smart HTTP
// with a token; `gantry deploy ...` and what runs. Busybox services, 1 s poll interval; waits are `eventually`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipReason } from '../helpers/privileged.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { GitHttpServer, GitRepo, SshServer } from '../helpers/git-repo.js';

const skip = skipReason('root', 'busybox');
const skipSsh = skip ?? (existsSync('/usr/sbin/sshd') ? undefined : 'needs /usr/sbin/sshd (apt-get install openssh-server; scripts/setup.sh does)');

interface Status { sync: string; syncReason: string; health: string; appliedCommit?: string; appliedRev?: number; latestCommit?: string; failedCommit?: string;
  suspended: boolean; lastError?: string; diagnostics: Array<{ code: string; severity: string; location?: { file: string; line: number } }>;
  services: Array<{ service: string; health: string; sync?: string }> }
interface Rev { rev: number; commit: string; result: string; cause: string }
interface Inspect { Id: string; State: { Status: string }; Config: { Cmd: string[] } }

/** A busybox service that prints `text` and sleeps; SIGKILL so recreation does not wait the grace period. */
function stack(services: Record<string, { text: string; health?: string; extra?: string }>, extra = ''): string {
  const body = Object.entries(services).map(([name, s]) => [
    `  ${name}:`, '    image: busybox', `    command: ["sh", "-c", "echo ${s.text}; ${s.health ?? ''} exec sleep 100000"]`, '    stop_signal: SIGKILL',
    ...(s.extra !== undefined ? [s.extra] : []),
  ].join('\n')).join('\n');
  return `services:\n${body}\n${extra}`;
}

const UNHEALTHY = '    healthcheck: { test: ["CMD", "false"], interval: 200ms, retries: 1, start_period: 0s }';
const SLOW_HEALTHY = '    healthcheck: { test: ["CMD", "test", "-f", "/tmp/ready"], interval: 300ms, start_interval: 100ms, start_period: 30s }';

function status(d: TestDaemon, name: string): Status {
  return JSON.parse(d.ok(['deploy', 'status', name, '--format', 'json'])) as Status;
}

function inspect(d: TestDaemon, container: string): Inspect | undefined {
  const r = d.gantry(['inspect', container]);
  return r.status === 0 ? (JSON.parse(r.stdout) as Inspect[])[0] : undefined;
}

function cmdOf(d: TestDaemon, container: string): string {
  return inspect(d, container)?.Config.Cmd.join(' ') ?? '(none)';
}

async function synced(d: TestDaemon, name: string, commit: string, what: string): Promise<Status> {
  return eventually(() => {
    const s = status(d, name);
    assert.equal(s.appliedCommit, commit, `applied commit (${s.syncReason}; ${s.lastError ?? ''})`);
    assert.equal(s.sync, 'Synced', s.syncReason);
    assert.equal(s.health, 'Healthy');
    return s;
  }, 60_000, what);
}

function getText(d: TestDaemon, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path, method: 'GET' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
}

function postHook(d: TestDaemon, name: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path: `/deploy/${name}/hook`, method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('deploy from a bare repository (file://)', { skip }, () => {
  const d = new TestDaemon('deploy');
  const repo = new GitRepo('app');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-deploy-'));
  let v1 = '';
  let v3 = '';
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); repo.remove(); rmSync(tmp, { recursive: true, force: true }); });

  test('every deploy verb answers --help without a daemon', () => {
    for (const verb of ['add', 'ls', 'status', 'history', 'rollback', 'suspend', 'resume', 'sync', 'rm']) {
      const out = d.ok(['deploy', verb, '--help']);
      assert.match(out, new RegExp(`^Usage: gantry deploy ${verb}`), verb);
    }
    assert.match(d.ok(['deploy', 'add', '--help']), /--token-file VALUE/);
  });

  test('a credential in the URL is refused; nothing is stored', () => {
    const r = d.gantry(['deploy', 'add', 'bad', '--repo', 'https://user:secret@example.com/r.git']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /carries credentials/);
    assert.doesNotMatch(r.stderr, /secret@/);
    assert.equal(d.ok(['deploy', 'ls', '-q']), '');
  });

  test('add: the stack comes up, named after the source', async () => {
    v1 = repo.commit({ 'compose.yaml': stack({ web: { text: 'v1' } }) });
    d.ok(['deploy', 'add', 'app', '--repo', repo.url, '--interval', '1s', '--timeout', '15s']);
    const s = await synced(d, 'app', v1, 'the first sync');
    assert.deepEqual(s.services.map((x) => [x.service, x.health]), [['web', 'Healthy']]);
    assert.equal(inspect(d, 'app-web-1')?.State.Status, 'running');
    assert.match(d.ok(['deploy', 'ls']), /app +Synced +Healthy +1 /);
  });

  test('a push converges: the changed service is recreated with the new commit', async () => {
    const v2 = repo.commit({ 'compose.yaml': stack({ web: { text: 'v2' } }) });
    await synced(d, 'app', v2, 'the push to converge');
    assert.match(cmdOf(d, 'app-web-1'), /echo v2/);
  });

  test('a broken stack file: status shows the located diagnostic, the running revision keeps running', async () => {
    const running = inspect(d, 'app-web-1')!.Id;
    const bad = repo.commit({ 'compose.yaml': 'services:\n  web:\n    image: busybox\n    ports: ["not-a-port"]\n' });
    const s = await eventually(() => {
      const x = status(d, 'app');
      assert.equal(x.failedCommit, bad);
      return x;
    }, 30_000, 'the broken commit to be seen');
    assert.equal(s.sync, 'OutOfSync');
    assert.match(s.syncReason, /failed/);
    assert.match(s.lastError ?? '', /invalid stack: compose\.yaml:4:/);
    assert.ok(s.diagnostics.some((x) => x.severity === 'error' && x.location?.file === 'compose.yaml' && x.location.line === 4), JSON.stringify(s.diagnostics));
    assert.match(d.ok(['deploy', 'status', 'app']), /Diagnostics:\n {2}error\[/);
    assert.equal(inspect(d, 'app-web-1')?.Id, running);
    assert.equal(inspect(d, 'app-web-1')?.State.Status, 'running');
  });

  test('the next good commit converges', async () => {
    v3 = repo.commit({ 'compose.yaml': stack({ web: { text: 'v3' } }) });
    const s = await synced(d, 'app', v3, 'the fixed commit');
    assert.equal(s.lastError, undefined);
    assert.equal(s.diagnostics.filter((x) => x.severity === 'error').length, 0);
    assert.match(cmdOf(d, 'app-web-1'), /echo v3/);
  });

  test('a revision that never gets healthy is rolled back to the last good one, and not retried', async () => {
    const sick = repo.commit({ 'compose.yaml': stack({ web: { text: 'sick', extra: UNHEALTHY } }) });
    const s = await eventually(() => {
      const x = status(d, 'app');
      assert.equal(x.failedCommit, sick);
      assert.equal(x.appliedCommit, v3);
      assert.equal(x.health, 'Healthy');
      return x;
    }, 60_000, 'the automatic rollback');
    assert.match(s.lastError ?? '', /failed: service web: .*unhealthy.*; rolled back to rev/);
    assert.match(s.syncReason, /failed; running rev/);
    assert.match(cmdOf(d, 'app-web-1'), /echo v3/);
    const revs = JSON.parse(d.ok(['deploy', 'history', 'app', '--format', 'json'])) as Rev[];
    assert.equal(revs[0]!.result, 'good');
    assert.match(revs[0]!.cause, /automatic rollback to rev \d+/);
    assert.equal(revs[1]!.commit, sick);
    assert.equal(revs[1]!.result, 'bad');
    // Polled again (sync waits for a whole tick): the bad commit is not applied again.
    d.ok(['deploy', 'sync', 'app']);
    const after = JSON.parse(d.ok(['deploy', 'history', 'app', '--format', 'json'])) as Rev[];
    assert.equal(after.length, revs.length);
  });

  test('rollback to an older revision applies it and suspends sync; a new commit then waits for resume', async () => {
    const revs = JSON.parse(d.ok(['deploy', 'history', 'app', '--format', 'json'])) as Rev[];
    const first = revs.find((r) => r.commit === v1)!;
    const s = JSON.parse(d.ok(['deploy', 'rollback', 'app', String(first.rev), '--format', 'json'])) as Status;
    assert.equal(s.appliedCommit, v1);
    assert.equal(s.suspended, true);
    assert.match(cmdOf(d, 'app-web-1'), /echo v1/);
    const v4 = repo.commit({ 'compose.yaml': stack({ web: { text: 'v4' } }) });
    const polled = JSON.parse(d.ok(['deploy', 'sync', 'app', '--format', 'json'])) as Status;
    assert.equal(polled.latestCommit, v4);
    assert.equal(polled.appliedCommit, v1);
    assert.match(polled.syncReason, /new commit .*suspended/);
    d.ok(['deploy', 'resume', 'app']);
    await synced(d, 'app', v4, 'resume to apply the new commit');
    assert.match(cmdOf(d, 'app-web-1'), /echo v4/);
  });

  test('drift without --self-heal is reported, not corrected', async () => {
    d.ok(['rm', '-f', 'app-web-1']);
    const s = JSON.parse(d.ok(['deploy', 'sync', 'app', '--format', 'json'])) as Status;
    assert.equal(s.sync, 'OutOfSync');
    assert.match(s.syncReason, /drift: container:app-web-1 not found/);
    assert.equal(s.health, 'Degraded');
    assert.deepEqual(s.services.map((v) => [v.service, v.sync, v.health]), [['web', 'OutOfSync', 'Degraded']]);
    d.ok(['deploy', 'sync', 'app']);
    assert.equal(inspect(d, 'app-web-1'), undefined, 'not recreated');
  });

  test('kill -9 of the daemon mid-apply: after the restart the revision is finished and converged', async () => {
    const slow = repo.commit({ 'compose.yaml': stack({ web: { text: 'slow', health: 'sleep 2; touch /tmp/ready;', extra: SLOW_HEALTHY } }) });
    await eventually(() => {
      const x = status(d, 'app');
      assert.equal(x.latestCommit, slow);
      assert.equal(x.health, 'Progressing');
    }, 30_000, 'the apply to start');
    await d.crash();
    await d.start();
    await synced(d, 'app', slow, 'convergence after the restart');
    assert.match(cmdOf(d, 'app-web-1'), /echo slow/);
    const revs = JSON.parse(d.ok(['deploy', 'history', 'app', '--format', 'json'])) as Rev[];
    assert.equal(revs[0]!.commit, slow);
    assert.equal(revs[0]!.result, 'good');
  });

  test('a failing pull: nothing is changed, the commit is marked failed, the running revision keeps running', async () => {
    const running = inspect(d, 'app-web-1')!.Id;
    const bad = repo.commit({ 'compose.yaml': 'services:\n  web:\n    image: 127.0.0.1:9/nope:1\n    command: ["sleep", "100000"]\n' });
    const s = await eventually(() => {
      const x = status(d, 'app');
      assert.equal(x.failedCommit, bad);
      assert.equal(x.health, 'Healthy');
      return x;
    }, 60_000, 'the failed pull');
    assert.match(s.lastError ?? '', /failed: service web: .*127\.0\.0\.1:9/);
    assert.equal(inspect(d, 'app-web-1')?.Id, running);
    assert.equal(inspect(d, 'app-web-1')?.State.Status, 'running');
  });

  test('--self-heal corrects drift; --prune removes a service deleted from git (its volume stays)', async () => {
    const heal = new GitRepo('heal');
    try {
      const h1 = heal.commit({ 'compose.yaml': stack({ api: { text: 'api' }, side: { text: 'side', extra: '    volumes: ["data:/data"]' } }, 'volumes:\n  data: {}\n') });
      d.ok(['deploy', 'add', 'healer', '--repo', heal.url, '--interval', '1s', '--self-heal', '--prune']);
      await synced(d, 'healer', h1, 'the healer source');
      const old = inspect(d, 'healer-api-1')!.Id;
      d.ok(['rm', '-f', 'healer-api-1']);
      await eventually(() => {
        const c = inspect(d, 'healer-api-1');
        assert.ok(c !== undefined && c.Id !== old && c.State.Status === 'running');
      }, 30_000, 'self-heal');
      await eventually(() => assert.equal(status(d, 'healer').sync, 'Synced'), 30_000, 'synced after self-heal');
      const h2 = heal.commit({ 'compose.yaml': stack({ api: { text: 'api' } }, 'volumes:\n  data: {}\n') });
      await synced(d, 'healer', h2, 'the prune');
      assert.equal(inspect(d, 'healer-side-1'), undefined);
      assert.match(d.ok(['volume', 'ls', '-q']), /healer_data/);
      d.ok(['deploy', 'rm', 'healer', '--down']);
      assert.equal(inspect(d, 'healer-api-1'), undefined);
      assert.doesNotMatch(d.ok(['deploy', 'ls', '-q']), /healer/);
    } finally { heal.remove(); }
  });

  test('build: services are built by the daemon from the commit; a build that fails keeps the running revision', async () => {
    const app = new GitRepo('built');
    const files = (msg: string, run = `echo ${msg} > /msg`): Record<string, string> => ({
      'compose.yaml': 'services:\n  web:\n    image: built-web\n    build: ./web\n    command: ["sh", "-c", "cat /msg; exec sleep 100000"]\n    stop_signal: SIGKILL\n',
      'web/Dockerfile': `FROM busybox\nRUN ${run}\n`,
    });
    try {
      const b1 = app.commit(files('built-one'));
      d.ok(['deploy', 'add', 'builder', '--repo', app.url, '--interval', '1s', '--timeout', '15s']);
      await synced(d, 'builder', b1, 'the built source');
      assert.equal(d.ok(['stack', '-p', 'builder', 'exec', '-T', 'web', 'cat', '/msg']).trim(), 'built-one');
      const running = inspect(d, 'builder-web-1')!.Id;
      const broken = app.commit(files('never', 'exit 3'));
      const s = await eventually(() => {
        const x = status(d, 'builder');
        assert.equal(x.failedCommit, broken);
        return x;
      }, 60_000, 'the failed build');
      assert.match(s.lastError ?? '', /service web: the build failed: .*exit.* 3/);
      assert.equal(inspect(d, 'builder-web-1')?.Id, running, 'nothing of the broken commit was applied');
      const b3 = app.commit(files('built-three'));
      await synced(d, 'builder', b3, 'the fixed build');
      assert.equal(d.ok(['stack', '-p', 'builder', 'exec', '-T', 'web', 'cat', '/msg']).trim(), 'built-three');
      d.ok(['deploy', 'rm', 'builder', '--down']);
    } finally { app.remove(); }
  });

  test('the webhook (off by default) only moves the next poll forward, and checks the signature', async () => {
    const hooked = new GitRepo('hooked');
    try {
      const secretFile = join(tmp, 'hook-secret');
      writeFileSync(secretFile, 'hook-secret-value\n');
      const c1 = hooked.commit({ 'compose.yaml': stack({ web: { text: 'h1' } }) });
      d.ok(['deploy', 'add', 'hooked', '--repo', hooked.url, '--interval', '1h', '--webhook-secret-file', secretFile]);
      await synced(d, 'hooked', c1, 'the first sync');
      assert.equal(await postHook(d, 'app', { 'X-Gitlab-Token': 'hook-secret-value' }, '{}'), 403, 'app has no webhook');
      const c2 = hooked.commit({ 'compose.yaml': stack({ web: { text: 'h2' } }) });
      const body = JSON.stringify({ ref: 'refs/heads/main', after: '0'.repeat(40) });
      assert.equal(await postHook(d, 'hooked', { 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` }, body), 403);
      assert.equal(status(d, 'hooked').appliedCommit, c1);
      const sig = createHmac('sha256', 'hook-secret-value').update(body).digest('hex');
      assert.equal(await postHook(d, 'hooked', { 'X-Hub-Signature-256': `sha256=${sig}` }, body), 202);
      await synced(d, 'hooked', c2, 'the hooked poll');
      assert.doesNotMatch(d.logText, /hook-secret-value/);
      d.ok(['deploy', 'rm', 'hooked', '--down']);
    } finally { hooked.remove(); }
  });

  test('bad sources: unreachable repository, missing ref, missing path — status says what failed', async () => {
    d.ok(['deploy', 'add', 'gone', '--repo', `file://${tmp}/nothing.git`, '--interval', '1s']);
    d.ok(['deploy', 'add', 'noref', '--repo', repo.url, '--ref', 'release', '--interval', '1s']);
    d.ok(['deploy', 'add', 'nopath', '--repo', repo.url, '--path', 'deploy/compose.yaml', '--interval', '1s']);
    await eventually(() => {
      assert.match(status(d, 'gone').lastError ?? '', /git ls-remote of file:\/\/.*nothing\.git failed/);
      assert.match(status(d, 'noref').lastError ?? '', /ref release is not in/);
      assert.match(status(d, 'nopath').lastError ?? '', /--path deploy\/compose\.yaml does not exist/);
    }, 30_000, 'the three failures');
    assert.equal(status(d, 'gone').sync, 'Unknown');
    for (const n of ['gone', 'noref', 'nopath']) d.ok(['deploy', 'rm', n]);
  });

  test('events of type deploy are on /events', async () => {
    const filters = encodeURIComponent(JSON.stringify({ type: ['deploy'] }));
    const out = await getText(d, `/events?since=0&until=${Math.ceil(Date.now() / 1000)}&filters=${filters}`);
    assert.match(out, /"Type":"deploy"/);
    assert.match(out, /"Action":"synced"/);
    // The bus keeps events in memory: those since the restart of the kill -9 test (the webhook's source).
    assert.match(out, /"Action":"hook"/);
    assert.match(out, /"Action":"remove"/);
    assert.doesNotMatch(out, /"Type":"container"/);
  });

  test('sources survive a daemon restart', async () => {
    await d.stop();
    await d.start();
    assert.match(d.ok(['deploy', 'ls', '-q']), /^app$/m);
  });
});

describe('deploy over smart HTTP with a token', { skip }, () => {
  const d = new TestDaemon('deploy-http');
  const repo = new GitRepo('web');
  const token = 'tok-3f9a1c5e7b';
  const server = new GitHttpServer(repo.dir, token);
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-deploy-http-'));
  before(async () => { await d.start(); d.importBusybox(); await server.start(); });
  after(async () => { await server.stop(); await d.dispose(); repo.remove(); rmSync(tmp, { recursive: true, force: true }); });

  test('with --token-file the stack comes up; the token is never in the URL, status or log', async () => {
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, `${token}\n`);
    const c1 = repo.commit({ 'compose.yaml': stack({ web: { text: 'http' } }) });
    d.ok(['deploy', 'add', 'web', '--repo', server.url('web.git'), '--interval', '1s', '--token-file', tokenFile]);
    await synced(d, 'web', c1, 'the sync over http');
    const c2 = repo.commit({ 'compose.yaml': stack({ web: { text: 'http2' } }) });
    await synced(d, 'web', c2, 'a push over http');
    assert.ok(server.urls.every((u) => !u.includes(token)));
    assert.doesNotMatch(d.ok(['deploy', 'status', 'web']), new RegExp(token));
    assert.doesNotMatch(d.logText, new RegExp(token));
  });

  test('a wrong token: status says the fetch failed, and shows no token', async () => {
    const wrong = join(tmp, 'wrong');
    writeFileSync(wrong, 'not-the-token-123\n');
    d.ok(['deploy', 'add', 'denied', '--repo', server.url('web.git'), '--interval', '1s', '--token-file', wrong]);
    const s = await eventually(() => { const x = status(d, 'denied'); assert.match(x.lastError ?? '', /git ls-remote of http:.*failed/); return x; }, 30_000, 'the failure');
    assert.doesNotMatch(JSON.stringify(s), /not-the-token-123/);
    assert.doesNotMatch(d.logText, /not-the-token-123/);
  });
});

describe('deploy over ssh:// with a key and known_hosts', { skip: skipSsh }, () => {
  const d = new TestDaemon('deploy-ssh');
  const repo = new GitRepo('svc');
  const sshd = new SshServer();
  before(async () => { await d.start(); d.importBusybox(); await sshd.start(); });
  after(async () => { await sshd.stop(); await d.dispose(); repo.remove(); });

  test('with --ssh-key and --known-hosts the stack comes up and follows a push', async () => {
    const c1 = repo.commit({ 'compose.yaml': stack({ web: { text: 'ssh' } }) });
    d.ok(['deploy', 'add', 'svc', '--repo', sshd.url(repo.bare), '--interval', '1s', '--ssh-key', sshd.clientKey, '--known-hosts', sshd.knownHosts]);
    await synced(d, 'svc', c1, 'the sync over ssh');
    const c2 = repo.commit({ 'compose.yaml': stack({ web: { text: 'ssh2' } }) });
    await synced(d, 'svc', c2, 'a push over ssh');
    assert.match(cmdOf(d, 'svc-web-1'), /echo ssh2/);
  });

  test('a host key that is not in known_hosts is refused (StrictHostKeyChecking=yes)', async () => {
    const other = join(sshd.dir, 'other_known_hosts');
    writeFileSync(other, '');
    d.ok(['deploy', 'add', 'stranger', '--repo', sshd.url(repo.bare), '--interval', '1s', '--ssh-key', sshd.clientKey, '--known-hosts', other]);
    await eventually(() => assert.match(status(d, 'stranger').lastError ?? '', /git ls-remote of ssh:.*failed: .*Host key verification failed/), 30_000, 'the refusal');
    assert.equal(status(d, 'stranger').appliedCommit, undefined);
  });
});
