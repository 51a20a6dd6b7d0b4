// gantry watch's `rebuild` rule against a real daemon (root): a change in a service's build context rebuilds its
// image and recreates only its containers; the service it depends on is left running as it was; a Dockerfile that
// fails to build keeps the running container and says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestDaemon, type RunResult } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const STACK = `name: rebuilddemo
services:
  db:
    image: busybox
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
  app:
    build: ./app
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
    depends_on: [db]
    develop:
      watch:
        - path: ./app
          action: rebuild
`;

describe('gantry watch: rebuild', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('watch-rebuild');
  let proj = '';
  let watcher: { proc: import('node:child_process').ChildProcess; done: Promise<RunResult> } | undefined;
  let out = '';
  const file = (): string => join(proj, 'compose.yaml');
  const idOf = (name: string): string => d.ok(['inspect', '-f', '{{.Id}}', name]).trim();
  const msg = (): string => d.ok(['stack', '-f', file(), 'exec', '-T', 'app', 'cat', '/msg']);

  before(async () => {
    await d.start();
    d.importBusybox();
    proj = join(d.dir, 'proj');
    mkdirSync(join(proj, 'app'), { recursive: true });
    writeFileSync(file(), STACK);
    writeFileSync(join(proj, 'app', 'Dockerfile'), 'FROM busybox\nCOPY msg /msg\n');
    writeFileSync(join(proj, 'app', 'msg'), 'v1\n');
  });
  after(async () => {
    watcher?.proc.kill('SIGKILL');
    await d.dispose();
  });

  test('a changed source rebuilds and recreates only app; db keeps its container; a broken Dockerfile keeps app running', async () => {
    watcher = d.gantryAsync(['stack', '-f', file(), 'watch']);
    watcher.proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    watcher.proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    await eventually(() => assert.match(out, /watching 1 rule/), 60_000, `watch to start: ${out}`);
    assert.equal(msg(), 'v1\n');
    const db = idOf('rebuilddemo-db-1');
    const app = idOf('rebuilddemo-app-1');
    const oldImage = d.ok(['inspect', '-f', '{{.Image}}', 'rebuilddemo-app-1']).trim();

    writeFileSync(join(proj, 'app', 'msg'), 'v2\n');
    await eventually(() => assert.match(out, /app: rebuilt; its containers were recreated/), 60_000, `the rebuild: ${out}`);
    await eventually(() => assert.equal(msg(), 'v2\n'), 20_000, 'the new image runs');
    assert.notEqual(idOf('rebuilddemo-app-1'), app, 'app was recreated');
    assert.equal(idOf('rebuilddemo-db-1'), db, 'its dependency was not touched');
    assert.match(out, /app: removed the image the rebuild replaced/, out);
    assert.notEqual(d.gantry(['image', 'inspect', oldImage]).status, 0, 'the replaced image is gone (--prune is the default)');

    const running = idOf('rebuilddemo-app-1');
    writeFileSync(join(proj, 'app', 'Dockerfile'), 'FROM busybox\nRUN exit 3\n');
    await eventually(() => assert.match(out, /app: the build failed; the running containers are kept/), 60_000, `the failed build: ${out}`);
    assert.equal(idOf('rebuilddemo-app-1'), running);
    assert.equal(msg(), 'v2\n');

    watcher.proc.kill('SIGINT');
    const r = await watcher.done;
    watcher = undefined;
    assert.equal(r.status, 0, out);
    assert.match(d.ok(['stack', '-f', file(), 'ps']), /rebuilddemo-app-1/, 'the stack stays up after Ctrl-C');
    d.ok(['down', '-f', file(), '-v']);
  });
});
