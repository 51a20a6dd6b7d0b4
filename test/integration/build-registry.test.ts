// FROM an image that is only in a registry: the build pulls it through the registry service, with the
// credentials the CLI sends in X-Registry-Config (from config.json after gantry login); without them it fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox', 'overlayfs') ?? haveRegistryTools();

describe('build FROM a registry image', { skip }, () => {
  let reg: TestRegistry | undefined;
  let d: TestDaemon | undefined;
  const ctx = mkdtempSync(join(tmpdir(), 'gantry-build-reg-'));
  const password = 'b1ld-Pa55';
  before(async () => {
    reg = await TestRegistry.start({ users: { bob: password } });
    d = new TestDaemon('build-reg');
    d.extraEnv = { DOCKER_CONFIG: join(d.dir, 'docker'), GANTRY_INSECURE_REGISTRIES: reg.host };
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d?.dispose();
    await reg?.dispose();
    rmSync(ctx, { recursive: true, force: true });
  });

  test('pulled with the stored credentials; refused without them, the password never shown', () => {
    const image = `${reg!.host}/team/box:1`;
    d!.ok(['login', '-u', 'bob', '--password-stdin', reg!.host], { input: `${password}\n` });
    d!.ok(['tag', 'busybox', image]);
    d!.ok(['push', image]);
    d!.ok(['rmi', image]);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${image}\nRUN echo on top > /top\nCMD ["cat", "/top"]\n`);
    const out = d!.ok(['build', '-t', 'ontop:1', ctx]);
    assert.match(out, /Step 1\/3 : FROM 127\.0\.0\.1:\d+\/team\/box:1/);
    assert.equal(d!.ok(['run', '--rm', 'ontop:1']).trim(), 'on top');
    assert.ok(d!.ok(['images']).includes(`${reg!.host}/team/box`), 'the base image is in the store now');

    d!.ok(['rmi', image]);
    d!.ok(['logout', reg!.host]);
    const anon = d!.gantry(['build', '--no-cache', ctx]);
    assert.notEqual(anon.status, 0);
    assert.match(anon.stderr, /unauthorized|authentication required|access denied/i);
    assert.doesNotMatch(anon.stderr + anon.stdout + d!.logText, new RegExp(password));
  });
});
