// gantry watch against a real daemon (root): busybox stack with a non-root USER; edits, adds, deletes and renames
// reach the running container through the engine (busybox's own tools are only used to look); editor temp files
// and .git stay out; sync+restart restarts; initial_sync brings what changed while watch was stopped; a container
// killed behind watch's back is restarted by its policy and resynced; the stack stays up after Ctrl-C.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TestDaemon, type RunResult } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const STACK = `name: watchdemo
services:
  web:
    image: busybox
    command: ["sleep", "100000"]
    stop_signal: SIGKILL
    user: "1000:1000"
    restart: always
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          initial_sync: true
          ignore: [build/]
        - path: ./conf.txt
          action: sync+restart
          target: /etc/app/conf.txt
`;

describe('gantry watch', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('watch');
  let proj = '';
  let watcher: { proc: import('node:child_process').ChildProcess; done: Promise<RunResult> } | undefined;
  let output = (): string => '';

  const inContainer = (script: string): RunResult => d.gantry(['stack', '-f', join(proj, 'compose.yaml'), 'exec', '-T', 'web', 'sh', '-c', script]);
  const cat = (path: string): string => {
    const r = inContainer(`cat ${path}`);
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  };
  const shows = (path: string, content: string): Promise<void> => eventually(() => assert.equal(cat(path), content, output()), 10_000, `${path} = ${JSON.stringify(content)}`);
  const gone = (path: string): Promise<void> => eventually(() => assert.notEqual(inContainer(`test -e ${path}`).status, 0), 10_000, `${path} to vanish`);

  async function startWatch(args: string[] = []): Promise<void> {
    watcher = d.gantryAsync(['stack', '-f', join(proj, 'compose.yaml'), 'watch', ...args]);
    let out = '';
    watcher.proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    watcher.proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    output = () => out;
    await eventually(() => assert.match(out, /watching 2 rules/), 30_000, `watch to start: ${out}`);
  }
  async function stopWatch(): Promise<RunResult> {
    const w = watcher!;
    w.proc.kill('SIGINT');
    watcher = undefined;
    return w.done;
  }

  before(async () => {
    await d.start();
    d.importBusybox();
    proj = join(d.dir, 'proj');
    mkdirSync(join(proj, 'src', 'lib'), { recursive: true });
    mkdirSync(join(proj, '.git'));
    writeFileSync(join(proj, 'compose.yaml'), STACK);
    writeFileSync(join(proj, 'src', 'app.txt'), 'v1\n');
    writeFileSync(join(proj, 'src', 'lib', 'util.txt'), 'util\n');
    writeFileSync(join(proj, 'conf.txt'), 'c1\n');
  });
  after(async () => {
    watcher?.proc.kill('SIGKILL');
    await d.dispose();
  });

  test('up, initial sync, then edits, adds, deletes and renames reach the container; temp files do not', async () => {
    await startWatch();
    await shows('/app/app.txt', 'v1\n');
    await shows('/app/lib/util.txt', 'util\n');
    writeFileSync(join(proj, 'src', 'app.txt'), 'v2\n');
    writeFileSync(join(proj, 'src', 'new.txt'), 'new\n');
    mkdirSync(join(proj, 'src', 'deep', 'er'), { recursive: true });
    writeFileSync(join(proj, 'src', 'deep', 'er', 'x.txt'), 'x\n');
    writeFileSync(join(proj, 'src', '.app.txt.swp'), 'swap');
    writeFileSync(join(proj, 'src', 'app.txt~'), 'backup');
    mkdirSync(join(proj, 'src', 'build'));
    writeFileSync(join(proj, 'src', 'build', 'out.o'), 'o');
    await shows('/app/app.txt', 'v2\n');
    await shows('/app/new.txt', 'new\n');
    await shows('/app/deep/er/x.txt', 'x\n');
    rmSync(join(proj, 'src', 'new.txt'));
    renameSync(join(proj, 'src', 'lib'), join(proj, 'src', 'lib2'));
    await gone('/app/new.txt');
    await gone('/app/lib');
    await shows('/app/lib2/util.txt', 'util\n');
    for (const p of ['/app/.app.txt.swp', '/app/app.txt~', '/app/build']) assert.notEqual(inContainer(`test -e ${p}`).status, 0, `${p} must not be synced`);
    await eventually(() => assert.match(output(), /web: .*→ watchdemo-web-1: synced \d+ files?, removed/), 10_000, 'the batch lines');
  });

  test('the non-root container user can read and overwrite synced files (compose #11304)', async () => {
    writeFileSync(join(proj, 'src', 'owned.txt'), 'mine\n');
    await shows('/app/owned.txt', 'mine\n');
    const r = inContainer('id -u && stat -c %u:%g /app/owned.txt /app/deep && echo changed > /app/owned.txt && cat /app/owned.txt && touch /app/deep/made-inside');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '1000\n1000:1000\n1000:1000\nchanged\n');
  });

  test('sync+restart restarts the container with the new file', async () => {
    const started = (): string => d.ok(['inspect', '-f', '{{.State.StartedAt}}', 'watchdemo-web-1']).trim();
    const before1 = started();
    writeFileSync(join(proj, 'conf.txt'), 'c2\n');
    await shows('/etc/app/conf.txt', 'c2\n');
    await eventually(() => assert.notEqual(started(), before1), 10_000, 'a restart');
    await eventually(() => assert.match(output(), /conf\.txt → watchdemo-web-1: synced 1 file, restarted/), 10_000, 'the batch line');
  });

  test('a container killed behind watch\'s back is restarted by its policy and resynced; a change made while it is down reaches it', async () => {
    const pidOf = (): number => Number(d.ok(['inspect', '-f', '{{.State.Pid}}', 'watchdemo-web-1']).trim());
    const pid = pidOf();
    process.kill(pid, 'SIGKILL');
    await eventually(() => assert.ok(pidOf() !== pid && pidOf() !== 0), 15_000, 'the restart policy to start it again');
    await eventually(() => assert.match(output(), /resync after restart/), 15_000, `a resync: ${output()}`);
    // killed again with a change right behind: the file goes into the stopped container (or the restarted one)
    process.kill(pidOf(), 'SIGKILL');
    writeFileSync(join(proj, 'src', 'while-down.txt'), 'down\n');
    await shows('/app/while-down.txt', 'down\n');
  });

  test('Ctrl-C stops watching and leaves the stack up; initial_sync brings changes and deletions made meanwhile, and leaves what watch never wrote', async () => {
    const r = await stopWatch();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /the stack is still up/);
    assert.match(d.ok(['inspect', '-f', '{{.State.Status}}', 'watchdemo-web-1']), /running/);
    assert.equal(inContainer('echo made by the app > /app/runtime.txt').status, 0);
    writeFileSync(join(proj, 'src', 'app.txt'), 'changed while stopped\n');
    rmSync(join(proj, 'src', 'while-down.txt'));
    rmSync(join(proj, 'src', 'deep'), { recursive: true });
    await startWatch(['--no-up']);
    await shows('/app/app.txt', 'changed while stopped\n');
    await gone('/app/while-down.txt');
    await gone('/app/deep');
    assert.equal(cat('/app/runtime.txt'), 'made by the app\n', 'a file watch never synced is not deleted');
    await stopWatch();
  });

  test('a watch of an unknown service is refused before anything starts', () => {
    const r = d.gantry(['stack', '-f', join(proj, 'compose.yaml'), 'watch', 'nosuch']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no such service: nosuch/);
  });
});
