// Debian's docker-compose 1.29 (the Python one, API "auto") driving a private gantryd: one project through
// up -d twice, up in the foreground, run, logs, exec, ps, restart, scale and down -v; pull from a registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_COMPOSE, dockerOk, runClient } from '../helpers/clients.js';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox', 'docker-cli', 'docker-compose');

const COMPOSE_FILE = `version: "3.7"
services:
  web:
    image: busybox
    command: sh -c 'echo web up; trap "exit 0" TERM; while :; do sleep 1; done'
    volumes: [data:/data]
    labels: { tier: front }
  job:
    image: busybox
    command: sh -c 'echo job ran'
volumes:
  data: {}
`;

describe('docker-compose 1.29 against gantryd', { skip }, () => {
  let d: TestDaemon;
  let project: string;
  before(async () => {
    d = new TestDaemon('compose');
    await d.start();
    d.importBusybox();
    project = join(d.dir, 'shop');
    mkdirSync(project);
    writeFileSync(join(project, 'docker-compose.yml'), COMPOSE_FILE);
  });
  after(async () => {
    if (project !== undefined) runClient(d, DOCKER_COMPOSE, ['down', '-v', '-t', '1'], { cwd: project });
    await d?.dispose();
  });

  const compose = (args: string[], timeoutSeconds = 60): { status: number; stdout: string; stderr: string } =>
    runClient(d, DOCKER_COMPOSE, ['--ansi', 'never', ...args], { cwd: project, timeoutSeconds });
  const composeOk = (args: string[], timeoutSeconds = 60): string => {
    const r = compose(args, timeoutSeconds);
    if (r.status !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}\ndaemon log:\n${d.logText.slice(-2000)}`);
    return r.stdout + r.stderr;
  };
  const webId = (): string => dockerOk(d, ['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.service=web']).trim();

  test('up -d creates the network, volume and containers; the second up -d recreates nothing', () => {
    const first = composeOk(['up', '-d']);
    assert.match(first, /Creating network "shop_default"/);
    assert.match(first, /Creating volume "shop_data"/);
    assert.match(first, /Creating shop_web_1 \.\.\. done/);
    const id = webId();
    assert.match(id, /^[0-9a-f]{64}$/);
    const second = composeOk(['up', '-d']);
    assert.match(second, /shop_web_1 is up-to-date/);
    assert.doesNotMatch(second, /Recreating|needs to be recreated/);
    assert.equal(webId(), id, 'the same container is still running');
  });

  test('ps, logs and exec', () => {
    assert.match(composeOk(['ps']), /shop_web_1 .* Up/);
    assert.match(composeOk(['logs', '--no-color', 'web']), /web_1 +\| web up/);
    assert.equal(compose(['exec', '-T', 'web', 'sh', '-c', 'echo inside; exit 3']).status, 3);
    assert.equal(composeOk(['exec', '-T', 'web', 'cat', '/proc/1/cmdline']).includes('sh'), true);
  });

  test('run a one-off (and --rm leaves none behind)', () => {
    const r = compose(['run', '--rm', 'job', 'sh', '-c', 'echo one-off; exit 4']);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stdout, /one-off/);
    assert.equal(dockerOk(d, ['ps', '-aq', '--filter', 'label=com.docker.compose.oneoff=True']), '');
  });

  test('up in the foreground shows the logs and ends with the service', () => {
    const r = compose(['up', '--no-color', 'job'], 60);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /job_1 +\| job ran/);
    assert.match(r.stdout, /shop_job_1 exited with code 0/);
    assert.match(composeOk(['logs', '-f', '--no-color', 'job'], 30), /job_1 +\| job ran/, 'logs -f ends with the exited service');
  });

  test('restart and scale', () => {
    const started = dockerOk(d, ['inspect', '-f', '{{.State.StartedAt}}', webId()]).trim();
    composeOk(['restart', '-t', '1', 'web']);
    assert.notEqual(dockerOk(d, ['inspect', '-f', '{{.State.StartedAt}}', webId()]).trim(), started);
    composeOk(['up', '-d', '--scale', 'web=2']);
    assert.deepEqual(dockerOk(d, ['ps', '--filter', 'label=com.docker.compose.service=web', '--format', '{{.Names}}']).trim().split('\n').sort(), ['shop_web_1', 'shop_web_2']);
  });

  test('down -v removes containers, network and volume', () => {
    composeOk(['down', '-v', '-t', '1']);
    assert.equal(dockerOk(d, ['ps', '-aq', '--filter', 'label=com.docker.compose.project=shop']), '');
    assert.equal(dockerOk(d, ['volume', 'ls', '-q', '--filter', 'name=shop_data']), '');
    assert.doesNotMatch(dockerOk(d, ['network', 'ls', '--format', '{{.Name}}']), /shop_default/);
  });

  test('pull fetches a service\'s image from a registry', { skip: haveRegistryTools() }, async () => {
    const reg = await TestRegistry.start();
    try {
      const ref = `${reg.host}/shop/busybox:compose`;
      dockerOk(d, ['tag', 'busybox', ref]);
      dockerOk(d, ['push', ref], { timeoutSeconds: 120 });
      dockerOk(d, ['rmi', ref]);
      const dir = join(d.dir, 'pulled');
      mkdirSync(dir);
      writeFileSync(join(dir, 'docker-compose.yml'), `version: "3.7"\nservices:\n  app:\n    image: ${ref}\n    command: echo from-registry\n`);
      const r = runClient(d, DOCKER_COMPOSE, ['--ansi', 'never', 'pull'], { cwd: dir, timeoutSeconds: 120 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /Pulling app .*done/);
      assert.equal(dockerOk(d, ['images', '-q', ref]).trim().length > 0, true, 'the image is there afterwards');
      const up = runClient(d, DOCKER_COMPOSE, ['--ansi', 'never', 'run', '--rm', 'app'], { cwd: dir, timeoutSeconds: 60 });
      assert.equal(up.status, 0, up.stderr);
      assert.match(up.stdout, /from-registry/);
      runClient(d, DOCKER_COMPOSE, ['down', '-t', '1'], { cwd: dir });
    } finally {
      await reg.dispose();
    }
  });

  // build: test/conformance/docker-build.test.ts (a project with build: sections)
});
