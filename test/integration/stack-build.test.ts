// Stacks with `build:`: up builds a service whose image is missing (named <project>-<service>), stack build
// rebuilds from the cache, a changed file in the context is seen by up --build and recreates only the service
// built from it; the long form's dockerfile, args and target; build.secrets from top-level file/environment secrets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { GANTRY_BIN, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

describe('stack build', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('stack-build');
  const dir = mkdtempSync(join(tmpdir(), 'gantry-stack-build-'));
  const stack = (...args: string[]): string[] => [...args.slice(0, 1), '--project-directory', dir, '-f', join(dir, 'compose.yaml'), '-p', 'shop', ...args.slice(1)];
  before(async () => {
    await d.start();
    d.importBusybox();
    mkdirSync(join(dir, 'app'));
    mkdirSync(join(dir, 'worker'));
    writeFileSync(join(dir, 'app', 'Dockerfile'), 'FROM busybox\nCOPY msg /msg\nCMD ["sh", "-c", "cat /msg; sleep 3600"]\n');
    writeFileSync(join(dir, 'app', 'msg'), 'v1\n');
    writeFileSync(join(dir, 'worker', 'build.Dockerfile'), 'FROM busybox AS base\nARG WHO=nobody\nRUN echo "worker for $WHO" > /w\nFROM base AS final\nCMD ["sh", "-c", "cat /w; sleep 3600"]\n');
    writeFileSync(join(dir, 'compose.yaml'), [
      'services:',
      '  app:',
      '    build: ./app',
      '  worker:',
      '    image: shop/worker:dev',
      '    build:',
      '      context: ./worker',
      '      dockerfile: build.Dockerfile',
      '      args: { WHO: team }',
      '      target: final',
      '',
    ].join('\n'));
  });
  after(async () => {
    d.gantry(stack('down', '-t', '0'));
    await d.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const containerId = (service: string): string =>
    d.ok(['ps', '-q', '--no-trunc', '--filter', `label=gantry.service=${service}`]).trim();

  test('up builds the missing images and runs them; stack build is cached; up --build recreates only what changed', async () => {
    const up = d.ok(stack('up', '-d'));
    void up;
    assert.ok(d.ok(['images']).includes('shop-app'), 'the app image is named <project>-<service>');
    assert.equal(d.ok(['image', 'inspect', 'shop/worker:dev']).includes('"Id"'), true);
    const appId = containerId('app');
    const workerId = containerId('worker');
    assert.match(appId, /^[0-9a-f]{12,64}$/);
    assert.match(d.ok(['logs', appId]), /v1/);
    assert.match(d.ok(['logs', workerId]), /worker for team/);

    const rebuilt = d.ok(stack('stack', 'build'));
    assert.doesNotMatch(rebuilt, /Running in/, 'a cached rebuild runs nothing');
    assert.match(rebuilt, /Using cache/);

    writeFileSync(join(dir, 'app', 'msg'), 'v2\n');
    d.ok(stack('up', '-d', '--build'));
    const appAfter = containerId('app');
    assert.notEqual(appAfter, appId, 'app was recreated from its new image');
    assert.equal(containerId('worker'), workerId, 'worker was left alone');
    assert.match(d.ok(['logs', appAfter]), /v2/);
  });

  test('build.secrets: top-level file and environment secrets reach RUN --mount=type=secret (target renames the id), never the image', () => {
    const proj = mkdtempSync(join(tmpdir(), 'gantry-stack-build-sec-'));
    try {
      mkdirSync(join(proj, 'app'));
      writeFileSync(join(proj, 'token.txt'), 'stack-file-secret\n');
      writeFileSync(join(proj, 'app', 'Dockerfile'), [
        'FROM busybox',
        'RUN --mount=type=secret,id=tok,required=true --mount=type=secret,id=api_id,env=API,required=true sh -c \'wc -c < /run/secrets/tok > /lens; echo ${#API} >> /lens\'',
        'CMD ["cat", "/lens"]', '',
      ].join('\n'));
      writeFileSync(join(proj, 'compose.yaml'), [
        'services:',
        '  app:',
        '    build:',
        '      context: ./app',
        '      secrets: [tok, { source: api, target: api_id }]',
        'secrets:',
        '  tok: { file: ./token.txt }',
        '  api: { environment: STACK_API_TOKEN }',
        '',
      ].join('\n'));
      const r = spawnSync(process.execPath, [GANTRY_BIN, 'stack', '--project-directory', proj, '-f', join(proj, 'compose.yaml'), '-p', 'sec', 'build'],
        { env: { ...d.env, STACK_API_TOKEN: 'stack-env-secret-value' }, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.equal(d.ok(['run', '--rm', 'sec-app']).trim(), '18\n22');
      assert.ok(!d.ok(['history', '--no-trunc', 'sec-app']).includes('stack-'), 'no value in the history');
      const missing = spawnSync(process.execPath, [GANTRY_BIN, 'stack', '--project-directory', proj, '-f', join(proj, 'compose.yaml'), '-p', 'sec', 'build', '--no-cache'],
        { env: d.env, encoding: 'utf8', timeout: 120_000 });
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /build secret api takes the variable STACK_API_TOKEN, which is not set/);
    } finally {
      rmSync(proj, { recursive: true, force: true });
    }
  });
});
