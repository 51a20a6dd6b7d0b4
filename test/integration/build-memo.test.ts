// A rebuild with the same context and parameters as a fully cached build is answered from the daemon's memory
// (engine/build/build-memo.ts). What a user sees must not change: the same output as a cached rebuild, the same
// image, tags applied; and a change that the step cache would see (a base image moved, a build arg, a file,
// --no-cache, builder prune) gives a real build again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const DOCKERFILE = 'FROM base\nARG FLAVOUR=plain\nRUN echo "$FLAVOUR" > /flavour\nCOPY app.sh /app.sh\nCMD ["sh", "/app.sh"]\n';

describe('fully cached rebuilds from memory', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('buildmemo');
  const ctx = mkdtempSync(join(tmpdir(), 'gantry-memo-ctx-'));
  const build = (...args: string[]): string => d.ok(['build', ...args, ctx]);
  const ran = (out: string): boolean => /Running in/.test(out);
  before(async () => {
    await d.start();
    d.importBusybox();
    d.ok(['tag', 'busybox', 'base']);
    writeFileSync(join(ctx, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(ctx, 'app.sh'), 'echo one\n');
  });
  after(async () => {
    await d.dispose();
    rmSync(ctx, { recursive: true, force: true });
  });

  test('the replay prints what a cached rebuild prints, and tags again', () => {
    assert.ok(ran(build('-t', 'memo:1')), 'the first build runs its RUN');
    const cached = build('-t', 'memo:1');
    assert.ok(!ran(cached) && /Using cache/.test(cached));
    const replayed = build('-t', 'memo:1');
    assert.equal(replayed, cached);
    // the tag moved away meanwhile comes back
    d.ok(['tag', 'busybox', 'memo:1']);
    assert.equal(build('-t', 'memo:1'), cached);
    const id = /Successfully built (\w+)/.exec(cached)![1]!;
    assert.equal((JSON.parse(d.ok(['inspect', 'memo:1'])) as Array<{ Id: string }>)[0]!.Id.slice(7, 19), id, 'memo:1 is the built image again');
    assert.equal(d.ok(['run', '--rm', '--network', 'none', 'memo:1']).trim(), 'one');
  });

  test('a base image that moved, a build arg, a changed file, --no-cache and builder prune build for real', () => {
    build('-t', 'memo:2');
    build('-t', 'memo:2');
    // a new base image under the same name: the step cache misses from RUN on, and so does the memory
    writeFileSync(join(ctx, 'Dockerfile.base'), 'FROM busybox\nRUN touch /new-base\n');
    d.ok(['build', '-f', join(ctx, 'Dockerfile.base'), '-t', 'base', ctx]);
    assert.ok(ran(build('-t', 'memo:2')), 'the new base reruns RUN');
    assert.ok(!ran(build('-t', 'memo:2')));
    assert.ok(ran(build('-t', 'memo:2', '--build-arg', 'FLAVOUR=spicy')), 'another build arg reruns RUN');
    writeFileSync(join(ctx, 'app.sh'), 'echo two\n');
    const changed = build('-t', 'memo:2');
    assert.match(changed, /Step 4\/5 : COPY app.sh \/app.sh\n(?! ---> Using cache)/);
    assert.equal(d.ok(['run', '--rm', '--network', 'none', 'memo:2']).trim(), 'two');
    build('-t', 'memo:2');
    assert.ok(ran(build('-t', 'memo:2', '--no-cache')), '--no-cache builds');
    build('-t', 'memo:2');
    d.ok(['builder', 'prune', '-f']);
    assert.ok(ran(build('-t', 'memo:2')), 'after builder prune nothing is remembered');
  });
});
