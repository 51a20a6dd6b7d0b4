// `gantry build` and POST /build through a real daemon (root): a 6-step Dockerfile builds and runs, a rebuild
// is fully cached, a changed source file reruns only from its COPY on, a failing RUN reports and leaves
// nothing, multi-stage COPY --from, .dockerignore named in the COPY error, and the docker CLI's classic builder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { requires, skipReason } from '../helpers/privileged.js';
import { docker } from '../helpers/clients.js';

interface Message { stream?: string; aux?: { ID: string }; error?: string }

const SIX_STEPS = [
  'FROM busybox',
  'RUN echo built > /built.txt',
  'COPY app.sh /app/app.sh',
  'ENV GREETING=hello',
  'WORKDIR /app',
  'CMD ["sh", "app.sh"]',
  '',
].join('\n');

describe('gantry build', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('build');
  const dirs: string[] = [];
  const context = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-build-ctx-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return dir;
  };
  /** POST /build through curl's unix socket, returning the JSON stream's messages (what docker clients read). */
  const apiBuild = (dir: string, query: string): Message[] => {
    const tar = spawnSync('tar', ['-c', '-C', dir, '.'], { maxBuffer: 1 << 28 });
    const r = spawnSync('curl', ['-sS', '--unix-socket', d.socket, '-X', 'POST', '-H', 'Content-Type: application/x-tar', '--data-binary', '@-', `http://localhost/build?${query}`], { input: tar.stdout, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Message);
  };
  const text = (ms: Message[]): string => ms.map((m) => m.stream ?? '').join('');
  const runSteps = (ms: Message[]): number => (text(ms).match(/ ---> Running in /g) ?? []).length;
  const cacheHits = (ms: Message[]): number => (text(ms).match(/ ---> Using cache/g) ?? []).length;

  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    await d.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a 6-step Dockerfile builds, runs, and rebuilds from the cache; a changed file reruns from its COPY on', () => {
    const dir = context({ Dockerfile: SIX_STEPS, 'app.sh': 'echo "$GREETING from $(pwd), $(cat /built.txt)"\n' });
    const out = d.ok(['build', '-t', 'six:1', dir]);
    assert.match(out, /Step 1\/6 : FROM busybox/);
    assert.match(out, /Step 6\/6 : CMD \["sh", "app.sh"\]/);
    assert.match(out, /Successfully tagged six:1/);
    assert.equal(d.ok(['run', '--rm', 'six:1']).trim(), 'hello from /app, built');
    const history = d.ok(['history', '--no-trunc', 'six:1']);
    assert.match(history, /\/bin\/sh -c #\(nop\) +CMD \["sh" "app.sh"\]/);
    assert.match(history, /\/bin\/sh -c echo built > \/built.txt/);

    const again = apiBuild(dir, 't=six:2');
    assert.equal(runSteps(again), 0, 'a fully cached rebuild runs no RUN');
    assert.equal(cacheHits(again), 5, text(again));
    const id1 = JSON.parse(d.ok(['image', 'inspect', 'six:1']))[0].Id as string;
    assert.equal(again.find((m) => m.aux)?.aux?.ID, id1, 'the same image');

    writeFileSync(join(dir, 'app.sh'), 'echo "changed $GREETING"\n');
    const changed = apiBuild(dir, 't=six:3');
    const t = text(changed);
    assert.equal(cacheHits(changed), 1, `only RUN (before the COPY) is cached:\n${t}`);
    assert.match(t, /Step 2\/6 : RUN echo built[^\n]*\n ---> Using cache/);
    assert.match(t, /Step 3\/6 : COPY app.sh \/app\/app.sh\n ---> [0-9a-f]{12}\n/);
    assert.equal(d.ok(['run', '--rm', 'six:3']).trim(), 'changed hello');

    const nocache = apiBuild(dir, 't=six:4&nocache=1');
    assert.equal(cacheHits(nocache), 0);
    assert.equal(runSteps(nocache), 1);
  });

  test('a failing RUN shows the step, command, output and exit code, and leaves no container or layer', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo going to fail; exit 3\n' });
    const before = d.ok(['images', '-q']).trim().split('\n').length;
    const r = d.gantry(['build', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /Step 2\/2 : RUN echo going to fail; exit 3/);
    assert.match(r.stdout, /going to fail/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo going to fail; exit 3' returned a non-zero code: 3/);
    assert.equal(d.ok(['ps', '-a', '-q']).trim(), '', 'no container left');
    assert.equal(d.ok(['images', '-q']).trim().split('\n').length, before, 'no image left');
    const tmp = join(d.root, 'tmp');
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], 'no context or staging dir left');
  });

  test('the cache survives a daemon restart; -q prints only the id; --iidfile; -f - reads the Dockerfile from stdin', async () => {
    const dir = context({ Dockerfile: SIX_STEPS, 'app.sh': 'echo restart\n' });
    d.ok(['build', '-t', 'restart:1', dir]);
    await d.stop();
    await d.start();
    const ms = apiBuild(dir, 't=restart:2');
    assert.equal(cacheHits(ms), 5, text(ms));
    const iid = join(dir, 'iid');
    const quiet = d.ok(['build', '-q', '--iidfile', iid, dir]).trim();
    assert.match(quiet, /^sha256:[0-9a-f]{64}$/);
    assert.equal(readFileSync(iid, 'utf8'), quiet);
    const piped = d.ok(['build', '-t', 'piped:1', '-f', '-', dir], { input: 'FROM busybox\nCMD ["echo", "from stdin"]\n' });
    assert.match(piped, /Successfully tagged piped:1/);
    assert.equal(d.ok(['run', '--rm', 'piped:1']).trim(), 'from stdin');
  });

  test('a client that goes away mid-RUN: the step container is killed and removed, nothing is cached', async () => {
    const dir = context({ Dockerfile: 'FROM busybox\nRUN echo started; sleep 60\n' });
    const b = d.gantryAsync(['build', dir]);
    let seen = '';
    b.proc.stdout!.on('data', (c: Buffer) => { seen += c.toString(); });
    await eventually(() => assert.match(seen, /started/), 20_000, 'the RUN step to start');
    assert.notEqual(d.ok(['ps', '-a', '-q']).trim(), '', 'the step runs in a container');
    b.proc.kill('SIGKILL');
    await b.done;
    await eventually(() => assert.equal(d.ok(['ps', '-a', '-q']).trim(), ''), 20_000, 'the step container to go');
    const tmp = join(d.root, 'tmp');
    await eventually(() => assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []), 10_000, 'the context dir to go');
  });

  test('multi-stage: COPY --from a named stage; skipped stages are not built; --target', () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS build', 'RUN mkdir /out && echo compiled > /out/result',
        'FROM busybox AS unused', 'RUN echo should-not-run',
        'FROM busybox', 'COPY --from=build /out/result /result', 'CMD ["cat", "/result"]', '',
      ].join('\n'),
    });
    const out = d.ok(['build', '-t', 'multi:1', dir]);
    assert.doesNotMatch(out, /should-not-run/);
    assert.equal(d.ok(['run', '--rm', 'multi:1']).trim(), 'compiled');
    const target = d.ok(['build', '--target', 'unused', '-t', 'multi:unused', dir]);
    assert.match(target, /should-not-run/);

    // Two independent stages (one wave, built at once): their output still reads in plan order.
    const wave = context({
      Dockerfile: [
        'FROM busybox AS a', 'RUN echo from-a > /a',
        'FROM busybox AS b', 'RUN echo from-b > /b',
        'FROM busybox', 'COPY --from=a /a /a', 'COPY --from=b /b /b', 'CMD ["cat", "/a", "/b"]', '',
      ].join('\n'),
    });
    const both = d.ok(['build', '-t', 'multi:wave', wave]);
    const steps = [...both.matchAll(/Step (\d+)\/8 :/g)].map((m) => Number(m[1]));
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8], both);
    assert.equal(d.ok(['run', '--rm', 'multi:wave']).trim(), 'from-a\nfrom-b');
  });

  test('ONBUILD triggers of the base image run after its FROM, and the new image does not inherit them', () => {
    const parent = context({ Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /t\n' });
    d.ok(['build', '-t', 'withtrigger:1', parent]);
    const child = context({ Dockerfile: 'FROM withtrigger:1\nCMD ["cat", "/t"]\n' });
    const out = d.ok(['build', '-t', 'child:1', child]);
    assert.match(out, /# Executing 1 build trigger/);
    assert.equal(d.ok(['run', '--rm', 'child:1']).trim(), 'triggered');
    const inspect = JSON.parse(d.ok(['image', 'inspect', 'child:1']))[0] as { Config: { OnBuild?: string[] | null } };
    assert.ok(inspect.Config.OnBuild === undefined || inspect.Config.OnBuild === null || inspect.Config.OnBuild.length === 0);
  });

  test('.dockerignore excludes a file and the COPY error says so; builder prune empties the cache', () => {
    const dir = context({ Dockerfile: 'FROM busybox\nCOPY secret.txt /\n', '.dockerignore': 'secret.txt\n', 'secret.txt': 'x' });
    const r = d.gantry(['build', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /COPY secret.txt: the file is excluded by \.dockerignore \(pattern "secret.txt" on line 1\)/);
    const outside = d.gantry(['build', '-'], { input: 'FROM busybox\nCOPY ../x /x\n' });
    assert.match(outside.stderr, /\.\.\/x: the path is outside the build context/);
    const syntax = d.gantry(['build', '-'], { input: 'FROM busybox\nRUNN echo\n' });
    assert.notEqual(syntax.status, 0);
    assert.match(syntax.stderr, /unknown instruction: RUNN \(did you mean RUN\?\)\n *--> Dockerfile:2:1\n[^]*RUNN echo\n *\| \^\^\^\^/);
    assert.match(d.ok(['builder', 'prune']), /Deleted build cache entries: [1-9]/);
    const dir2 = context({ Dockerfile: SIX_STEPS, 'app.sh': 'echo hi\n' });
    const ms = apiBuild(dir2, 't=six:after-prune');
    assert.equal(cacheHits(ms), 0, 'nothing cached after prune');
  });

  test('COPY a dir, --chown/--chmod, globs; ADD extracts a local tar; build - takes a Dockerfile alone; images hides intermediates; RUN --mount=type=ssh is refused', () => {
    const dir = context({ 'conf/a.conf': 'a\n', 'conf/sub/b.conf': 'b\n', 'x.txt': 'x\n', 'y.txt': 'y\n' });
    spawnSync('tar', ['-czf', join(dir, 'bundle.tgz'), '-C', join(dir, 'conf'), '.']);
    writeFileSync(join(dir, 'Dockerfile'), [
      'FROM busybox', 'COPY conf /etc/app/', 'COPY --chown=65534:65534 --chmod=600 x.txt /owned.txt', 'COPY *.txt /txt/',
      'ADD bundle.tgz /unpacked/', 'ENV WHO=world', 'COPY <<EOF /greeting', 'hello ${WHO}', 'EOF',
      'RUN stat -c "%u:%g %a" /owned.txt && ls /etc/app/sub /txt /unpacked/sub && cat /greeting', '',
    ].join('\n'));
    const out = d.ok(['build', '-t', 'details:1', dir]);
    assert.match(out, /65534:65534 600/);
    assert.match(out, /b\.conf/);
    assert.match(out, /x\.txt\s+y\.txt/);
    assert.match(out, /hello world/, 'a heredoc COPY source, substituted');
    const steps = [...out.matchAll(/ ---> ([0-9a-f]{12})\n/g)].map((m) => m[1]!);
    const intermediate = steps.slice(1, -1);
    assert.ok(intermediate.length >= 4, out);
    const listed = d.ok(['images', '-q']);
    const all = d.ok(['images', '-a', '-q']);
    for (const id of intermediate) {
      assert.ok(!listed.includes(id), `intermediate image ${id} hidden from images`);
      assert.ok(all.includes(id), `and listed by images -a`);
    }
    const piped = d.ok(['build', '-t', 'alone:1', '-'], { input: 'FROM busybox\nCMD ["echo", "no context"]\n' });
    assert.match(piped, /Successfully tagged alone:1/);
    assert.equal(d.ok(['run', '--rm', 'alone:1']).trim(), 'no context');
    const mount = d.gantry(['build', '-'], { input: 'FROM busybox\nRUN --mount=type=ssh true\n' });
    assert.notEqual(mount.status, 0);
    assert.match(mount.stderr, /RUN --mount=type=ssh is not supported by this builder/);
  });

  test('DOCKER_BUILDKIT=0 docker build against gantryd', (t) => {
    if (!requires(t, 'docker-cli')) return;
    const dir = context({ Dockerfile: SIX_STEPS, 'app.sh': 'echo "docker built $GREETING"\n' });
    const r = docker(d, ['build', '-t', 'viadocker:1', dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/6 : FROM busybox/);
    assert.match(r.stdout, /Successfully tagged viadocker:1/);
    assert.equal(d.ok(['run', '--rm', 'viadocker:1']).trim(), 'docker built hello');
  });
});
