// Stacks with `build:`: up builds a service whose image is missing (named <project>-<service>), stack build
// rebuilds from the cache, a changed file in the context is seen by up --build and recreates only the service
// built from it; the long form's dockerfile, args and target.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
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
});
