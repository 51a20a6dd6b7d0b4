// Docker's clients building through gantryd's POST /build (the classic builder API): docker-compose 1.29's
// `build` (docker-py underneath: a gzip'ed context, its own query parameters) and the docker CLI with
// DOCKER_BUILDKIT=0, build args and a target; the images run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_COMPOSE, dockerOk, runClient } from '../helpers/clients.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox', 'docker-cli', 'docker-compose');

describe('docker clients build through gantryd', { skip }, () => {
  let d: TestDaemon;
  let project: string;
  before(async () => {
    d = new TestDaemon('dockerbuild');
    await d.start();
    d.importBusybox();
    project = join(d.dir, 'shop');
    mkdirSync(join(project, 'web'), { recursive: true });
    writeFileSync(join(project, 'web', 'Dockerfile'), 'FROM busybox AS base\nARG GREETING=hi\nRUN echo "$GREETING from compose" > /msg\nFROM base AS final\nCMD ["cat", "/msg"]\n');
    writeFileSync(join(project, 'docker-compose.yml'), 'version: "3.7"\nservices:\n  web:\n    build:\n      context: ./web\n      args: { GREETING: hello }\n      target: final\n    image: shop-web:1\n');
  });
  after(async () => { await d?.dispose(); });

  test('docker-compose build (build args, target), then the image runs', () => {
    const r = runClient(d, DOCKER_COMPOSE, ['--ansi', 'never', 'build'], { cwd: project, timeoutSeconds: 120 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}\n${d.logText.slice(-2000)}`);
    assert.match(r.stdout + r.stderr, /Successfully tagged shop-web:1/);
    assert.equal(dockerOk(d, ['run', '--rm', 'shop-web:1']).trim(), 'hello from compose');
    const again = runClient(d, DOCKER_COMPOSE, ['--ansi', 'never', 'build'], { cwd: project, timeoutSeconds: 120 });
    assert.match(again.stdout + again.stderr, /Using cache/);
  });

  test('DOCKER_BUILDKIT=0 docker build --build-arg --target -q', () => {
    const id = dockerOk(d, ['build', '-q', '--build-arg', 'GREETING=howdy', '--target', 'final', join(project, 'web')], { env: { DOCKER_BUILDKIT: '0' } }).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(dockerOk(d, ['run', '--rm', id]).trim(), 'howdy from compose');
    const history = dockerOk(d, ['history', '--no-trunc', id]);
    assert.match(history, /\|1 GREETING=howdy \/bin\/sh -c echo "\$GREETING from compose" > \/msg/);
  });
});
