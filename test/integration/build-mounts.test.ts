// RUN --mount (cache, bind, tmpfs, secret), build secrets (gantry build --secret, POST /build's header),
// `--progress json`, and a `#!` heredoc run as a script, through a real daemon (root).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { GANTRY_BIN, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

interface StepReport { step: number; total: number; instruction: string; cached: boolean; durationMs: number; output: string[]; error?: string }

describe('gantry build: RUN --mount, secrets, --progress json, #! heredocs', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('build-mounts');
  const dirs: string[] = [];
  const context = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-build-mnt-'));
    dirs.push(dir);
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    return dir;
  };
  const cat = (image: string, path: string): string => d.ok(['run', '--rm', image, 'cat', path]).trim();
  const absent = (image: string, path: string): void => {
    assert.equal(d.ok(['run', '--rm', image, 'sh', '-c', `test -e ${path} && echo present || echo absent`]).trim(), 'absent', `${path} in ${image}`);
  };
  /** gantry build with its own environment (env secrets). */
  const build = (args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [GANTRY_BIN, 'build', ...args], { env: { ...d.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const reports = (stdout: string): StepReport[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as StepReport & { image?: string }).filter((r) => r.image === undefined);
  /** Every file name and content of an image, as `save` writes it (layers unpacked). */
  const savedText = (image: string): string => {
    const out = mkdtempSync(join(tmpdir(), 'gantry-build-save-'));
    dirs.push(out);
    d.ok(['save', '-o', join(out, 'img.tar'), image]);
    spawnSync('tar', ['-xf', join(out, 'img.tar'), '-C', out]);
    const texts: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          texts.push(p, readFileSync(p, 'latin1'));
          const listed = spawnSync('tar', ['-tvzf', p], { encoding: 'latin1' });
          if (listed.status === 0) texts.push(listed.stdout, spawnSync('tar', ['-xzOf', p], { encoding: 'latin1', maxBuffer: 1 << 28 }).stdout);
        }
      }
    };
    walk(out);
    return texts.join('\n');
  };

  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    await d.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a cache mount persists across builds (and a restart), keyed by id, with mode/uid/gid, and is never in the layer', async () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=cache,target=/var/cache/app,id=appcache sh -c \'echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /count\'',
        'RUN --mount=type=cache,target=/owned,uid=1000,gid=1001,mode=0710 stat -c "%u:%g %a" /owned > /owned.stat',
        'RUN --mount=type=cache,target=/elsewhere,id=appcache,sharing=locked cat /elsewhere/log | wc -l > /seen',
        '',
      ].join('\n'),
    });
    d.ok(['build', '--no-cache', '-t', 'cm:1', dir]);
    assert.equal(cat('cm:1', '/count'), '1');
    assert.equal(cat('cm:1', '/owned.stat'), '1000:1001 710');
    assert.equal(cat('cm:1', '/seen'), '1', 'the same id is the same cache at another target');
    absent('cm:1', '/var/cache/app');
    absent('cm:1', '/owned');
    d.ok(['build', '--no-cache', '-t', 'cm:2', dir]);
    assert.equal(cat('cm:2', '/count'), '2', 'the cache kept the first build\'s file');
    await d.stop();
    await d.start();
    d.ok(['build', '--no-cache', '-t', 'cm:3', dir]);
    assert.equal(cat('cm:3', '/count'), '3', 'and survives a daemon restart');
    d.ok(['builder', 'prune']);
    d.ok(['build', '--no-cache', '-t', 'cm:4', dir]);
    assert.equal(cat('cm:4', '/count'), '1', 'builder prune removed it');
    const history = d.ok(['history', '--no-trunc', 'cm:4']);
    assert.match(history, /\/bin\/sh -c sh -c 'echo run >> \/var\/cache\/app\/log/);
  });

  test('bind mounts: the context read-only by default, rw writes discarded, a stage\'s file; their content counts in the cache key', () => {
    const dir = context({
      'data/x.txt': 'one\n',
      Dockerfile: [
        'FROM busybox AS tools', 'RUN echo tool-output > /tool.txt && mkdir /seed && echo seed-file > /seed/s',
        'FROM busybox',
        'RUN --mount=type=bind,source=data,target=/data cp /data/x.txt /copied',
        'RUN --mount=type=bind,target=/ctx sh -c \'touch /ctx/new 2>/dev/null && echo writable || echo readonly\' > /ro',
        'RUN --mount=type=bind,target=/ctx,rw sh -c \'touch /ctx/new && ls /ctx/new\' > /rw',
        'RUN --mount=type=bind,from=tools,source=/tool.txt,target=/t cat /t > /fromstage',
        'RUN --mount=type=cache,target=/seeded,id=seeded,from=tools,source=/seed sh -c \'cat /seeded/s; echo added > /seeded/more\' > /seed.txt',
        'RUN --mount=type=cache,target=/seeded,id=seeded,from=tools,source=/seed ls /seeded > /seed2.txt',
        '',
      ].join('\n'),
    });
    d.ok(['build', '-t', 'bind:1', dir]);
    assert.equal(cat('bind:1', '/copied'), 'one');
    assert.equal(cat('bind:1', '/ro'), 'readonly');
    assert.equal(cat('bind:1', '/rw'), '/ctx/new');
    assert.equal(existsSync(join(dir, 'new')), false, 'a rw bind never writes to the context');
    assert.equal(cat('bind:1', '/fromstage'), 'tool-output');
    assert.equal(cat('bind:1', '/seed.txt'), 'seed-file', 'a new cache mount is seeded from from=/source');
    assert.equal(cat('bind:1', '/seed2.txt'), 'more\ns', 'and kept as the step left it');
    absent('bind:1', '/data');
    absent('bind:1', '/ctx');
    absent('bind:1', '/t');

    const again = build(['--progress', 'json', '-t', 'bind:2', dir]);
    assert.equal(again.status, 0, again.stderr);
    assert.ok(reports(again.stdout).every((r) => r.cached), again.stdout);
    writeFileSync(join(dir, 'data', 'x.txt'), 'two\n');
    const changed = build(['--progress', 'json', '-t', 'bind:3', dir]);
    assert.equal(changed.status, 0, changed.stderr);
    const rs = reports(changed.stdout);
    const copy = rs.find((r) => r.instruction.includes('source=data'));
    assert.equal(copy?.cached, false, 'the bound file changed: the step reruns');
    assert.equal(rs.find((r) => r.instruction.includes('echo tool-output'))?.cached, true);
    assert.equal(cat('bind:3', '/copied'), 'two');
  });

  test('a tmpfs mount is a tmpfs and leaves nothing; a #! heredoc runs as a script file', () => {
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=tmpfs,target=/scratch,size=1m sh -c \'echo x > /scratch/f && grep " /scratch tmpfs" /proc/mounts | grep -o size=1024k > /tmpfs\'',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "script $0 pid-parent $(cat /proc/1/cmdline | tr "\\0" " ")" > /shebang',
        'EOF',
        'RUN <<EOF',
        'echo "plain $0" > /plain',
        'EOF',
        '',
      ].join('\n'),
    });
    d.ok(['build', '-t', 'tmpfs:1', dir]);
    assert.equal(cat('tmpfs:1', '/tmpfs'), 'size=1024k');
    absent('tmpfs:1', '/scratch');
    assert.match(cat('tmpfs:1', '/shebang'), /^script \/dev\/pipes\/EOF pid-parent \/bin\/sh \/dev\/pipes\/EOF$/, 'run as the file itself, not by a shell');
    assert.match(cat('tmpfs:1', '/plain'), /^plain \/bin\/sh$/, 'without #! the body goes to the shell');
  });

  test('secrets: a file and an env variable, never in the image, history or cache; only whether one is given counts; required ones are named', () => {
    const secretFile = join(context({ s: 'file-secret-value-1\n' }), 's');
    const dir = context({
      Dockerfile: [
        'FROM busybox',
        'USER 65534',
        'RUN --mount=type=secret,id=tok,uid=65534,mode=0400 sh -c \'grep -c file-secret-value /run/secrets/tok > /tmp/seen; stat -c "%u %a" /run/secrets/tok >> /tmp/seen; true\'',
        'RUN --mount=type=secret,id=api,env=API_TOKEN,target=/home/api,uid=65534 sh -c \'[ "${API_TOKEN#env-secret-}" = value-2 ] && echo env-ok > /tmp/env; cat /home/api | wc -c >> /tmp/env\'',
        'RUN --mount=type=secret,id=optional sh -c \'test -e /run/secrets/optional && echo given || echo skipped\' > /tmp/optional',
        '',
      ].join('\n'),
    });
    const r = build(['-t', 'sec:1', '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=api,env=MY_API', dir], { MY_API: 'env-secret-value-2' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(cat('sec:1', '/tmp/seen'), '1\n65534 400');
    assert.equal(cat('sec:1', '/tmp/env'), 'env-ok\n18');
    assert.equal(cat('sec:1', '/tmp/optional'), 'skipped');
    absent('sec:1', '/run/secrets');
    absent('sec:1', '/home/api');
    for (const value of ['file-secret-value-1', 'env-secret-value-2']) {
      assert.ok(!r.stdout.includes(value) && !r.stderr.includes(value), 'not in the output');
      assert.ok(!d.ok(['history', '--no-trunc', 'sec:1']).includes(value), 'not in the history');
      assert.ok(!savedText('sec:1').includes(value), 'not in any layer or config');
      const grep = spawnSync('grep', ['-rl', value, d.root], { encoding: 'utf8' });
      assert.equal(grep.stdout.trim(), '', `nothing under the daemon's root holds ${value}`);
    }
    // another value of the same secret: cached; without it: the step reruns
    writeFileSync(secretFile, 'file-secret-value-CHANGED\n');
    const same = build(['--progress', 'json', '-t', 'sec:2', '--secret', `id=tok,src=${secretFile}`, '--secret', 'id=api,env=MY_API', dir], { MY_API: 'other' });
    assert.equal(same.status, 0, same.stderr);
    assert.ok(reports(same.stdout).every((s) => s.cached), same.stdout);
    const without = build(['--progress', 'json', '-t', 'sec:3', '--secret', 'id=api,env=MY_API', dir], { MY_API: 'env-secret-value-2' });
    assert.equal(without.status, 0, without.stderr);
    assert.equal(reports(without.stdout).find((s) => s.instruction.includes('id=tok'))?.cached, false);

    const req = context({ Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=npmrc,required=true cat /run/secrets/npmrc\n' });
    const missing = build([req]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /the secret npmrc is required and was not given/);
    assert.match(missing.stderr, /--secret id=npmrc/);
    assert.deepEqual(readdirSync(join(d.root, 'tmp')), [], 'no secret or staging file left');

    // POST /build takes them in its header (Gantry's own; Docker's classic API has none)
    const tar = spawnSync('tar', ['-c', '-C', req, '.']);
    const header = Buffer.from(JSON.stringify({ npmrc: Buffer.from('registry=local\n').toString('base64') })).toString('base64');
    const api = spawnSync('curl', ['-sS', '--unix-socket', d.socket, '-X', 'POST', '-H', 'Content-Type: application/x-tar', '-H', `X-Gantry-Build-Secrets: ${header}`,
      '--data-binary', '@-', 'http://localhost/build?t=sec:api'], { input: tar.stdout, encoding: 'utf8' });
    assert.match(api.stdout, /registry=local/);
    assert.match(api.stdout, /Successfully tagged sec:api/);
  });

  test('--progress json: one object per step; after one changed file only the steps from its COPY on ran', () => {
    const dir = context({
      'app.sh': 'echo one\n',
      Dockerfile: 'FROM busybox\nRUN echo built > /built.txt\nCOPY app.sh /app/app.sh\nRUN sh /app/app.sh > /out\nENV GREETING=hello\nCMD ["cat", "/out"]\n',
    });
    const first = build(['--progress', 'json', '-t', 'pj:1', dir]);
    assert.equal(first.status, 0, first.stderr);
    const lines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = lines[lines.length - 1] as { image: string; tags: string[] };
    assert.match(last.image, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(last.tags, ['pj:1']);
    const rs = reports(first.stdout);
    assert.deepEqual(rs.map((r) => [r.step, r.total, r.instruction]), [
      [1, 6, 'FROM busybox'], [2, 6, 'RUN echo built > /built.txt'], [3, 6, 'COPY app.sh /app/app.sh'],
      [4, 6, 'RUN sh /app/app.sh > /out'], [5, 6, 'ENV GREETING=hello'], [6, 6, 'CMD ["cat", "/out"]'],
    ]);
    assert.ok(rs.every((r) => typeof r.durationMs === 'number' && r.durationMs >= 0));
    assert.deepEqual(rs.filter((r) => r.step > 1).map((r) => r.cached), [false, false, false, false, false]);
    assert.deepEqual(build(['--progress', 'json', dir]).stdout.trim().split('\n').slice(0, -1).map((l) => (JSON.parse(l) as StepReport).cached), [true, true, true, true, true, true]);
    writeFileSync(join(dir, 'app.sh'), 'echo two; echo second line\n');
    const changed = reports(build(['--progress', 'json', '-t', 'pj:2', dir]).stdout);
    assert.deepEqual(changed.map((r) => [r.step, r.cached]), [[1, true], [2, true], [3, false], [4, false], [5, false], [6, false]]);
    assert.equal(cat('pj:2', '/out'), 'two\nsecond line');
    const out = reports(build(['--progress', 'json', '--no-cache', dir]).stdout).find((r) => r.step === 4);
    assert.deepEqual(out?.output, [], 'the output went to /out');
    const shown = reports(build(['--progress', 'json', '--no-cache', context({ Dockerfile: 'FROM busybox\nRUN echo line-a; echo line-b\n' })]).stdout);
    assert.deepEqual(shown[1]?.output, ['line-a', 'line-b']);
    const failed = build(['--progress', 'json', context({ Dockerfile: 'FROM busybox\nRUN echo before-fail; exit 4\n' })]);
    assert.notEqual(failed.status, 0);
    const bad = reports(failed.stdout)[1];
    assert.deepEqual(bad?.output, ['before-fail']);
    assert.match(bad?.error ?? '', /returned a non-zero code: 4/);
  });
});
