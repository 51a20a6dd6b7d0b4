// Images from containers and files through a real daemon (root): import like Docker's, diff, commit, history,
// export.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTarball, eventually, GANTRY_BIN, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { craftTar } from '../helpers/craft-tar.js';

interface Inspect { Id: string; Comment: string; Author: string; Config: { Cmd: string[]; Env: string[]; Labels: Record<string, string>; ExposedPorts: Record<string, unknown>; WorkingDir: string; User: string; StopSignal?: string; OnBuild: string[]; Volumes: Record<string, unknown>; Entrypoint?: string[] } }

describe('images from containers and files', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const d = new TestDaemon('snapshots');
  before(async () => { await d.start(); d.importBusybox(); });
  after(() => d.dispose());
  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['image', 'inspect', ref])) as Inspect[])[0]!;

  test('import - NAME reads stdin; --change takes every instruction Docker allows, shell form when not JSON', () => {
    const r = spawnSync(process.execPath, [GANTRY_BIN, 'import',
      '-c', 'CMD [ -s "$X" ] || echo empty', '-c', 'ENV A=1 B="two words"', '-c', 'ENV C 3 4', '-c', 'EXPOSE 80 53/udp',
      '-c', 'LABEL team=web', '-c', 'ONBUILD RUN true', '-c', 'STOPSIGNAL SIGQUIT', '-c', 'USER nobody', '-c', 'VOLUME /data',
      '-c', 'WORKDIR /srv', '-m', 'from a pipe', '-', 'piped:1'], { env: d.env, input: readFileSync(busyboxTarball()), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const c = inspect('piped:1');
    assert.deepEqual(c.Config.Cmd, ['/bin/sh', '-c', '[ -s "$X" ] || echo empty']);
    assert.ok(c.Config.Env.includes('A=1') && c.Config.Env.includes('B=two words') && c.Config.Env.includes('C=3 4'), c.Config.Env.join());
    assert.deepEqual(Object.keys(c.Config.ExposedPorts).sort(), ['53/udp', '80/tcp']);
    assert.deepEqual([c.Config.Labels['team'], c.Config.OnBuild, c.Config.StopSignal, c.Config.User, c.Config.WorkingDir], ['web', ['RUN true'], 'SIGQUIT', 'nobody', '/srv']);
    assert.deepEqual(Object.keys(c.Config.Volumes), ['/data']);
    assert.equal(c.Comment, 'from a pipe');
    assert.equal(d.ok(['run', '--rm', '-e', 'X=/etc/passwd', '--user', 'root', 'piped:1']), '');
    const plain = spawnSync(process.execPath, [GANTRY_BIN, 'import', '-', 'piped:2'], { env: d.env, input: readFileSync(busyboxTarball()), encoding: 'utf8' });
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(inspect('piped:2').Comment, 'Imported from -', 'the comment names no temp file');
  });

  test('import options are checked before the upload; --help lists import flags', () => {
    const bad = d.gantry(['import', '-c', 'RUN rm -rf /', '/nonexistent.tar', 'x']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /RUN is not a valid change command/);
    const badName = d.gantry(['import', '-', 'UPPER/Case'], { input: 'not read' });
    assert.notEqual(badName.status, 0);
    const untagged = d.ok(['import', busyboxTarball()]).trim();
    assert.match(untagged, /^sha256:[a-f0-9]{64}$/, 'without a name the image is untagged, as docker import does');
    const help = d.ok(['import', '--help']);
    assert.match(help, /-c, --change VALUE/);
    assert.match(help, /-m, --message VALUE/);
  });

  test('a hostile tarball import is refused naming the entry, and leaves no image', () => {
    const file = join(d.dir, 'hostile.tar');
    writeFileSync(file, craftTar([{ name: 'ok', body: 'x' }, { name: 'root', type: '2', linkname: '/' }, { name: 'root/etc/cron.d/evil', body: 'x' }]));
    const r = d.gantry(['import', file, 'hostile']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /"root\/etc\/cron\.d\/evil" is below the symlink "root"/);
    assert.doesNotMatch(d.ok(['images']), /hostile/);
  });

  test('diff lists A/C/D; commit makes an image that has the change and not the deleted file; history shows it', () => {
    d.ok(['run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo new > /added && echo more >> /etc/passwd && rm /bin/vi && mkdir -p /tmp/d && echo x > /tmp/d/f']);
    const diff = d.ok(['diff', 'changer']).trim().split('\n');
    for (const line of ['A /added', 'C /etc', 'C /etc/passwd', 'C /bin', 'D /bin/vi', 'C /tmp', 'A /tmp/d', 'A /tmp/d/f']) assert.ok(diff.includes(line), `${line} in\n${diff.join('\n')}`);
    const id = d.ok(['commit', '-m', 'my change', '-a', 'Ann <ann@example.com>', '-c', 'ENV MODE=committed', '-c', 'CMD ["cat", "/added"]', 'changer', 'changed:v1']).trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    assert.equal(d.ok(['run', '--rm', 'changed:v1']), 'new\n');
    assert.equal(d.ok(['run', '--rm', 'changed:v1', 'sh', '-c', 'test -e /bin/vi && echo present || echo gone; tail -1 /etc/passwd; echo $MODE; cat /tmp/d/f']), 'gone\nmore\ncommitted\nx\n');
    const c = inspect('changed:v1');
    assert.equal(c.Id, id);
    assert.equal(c.Author, 'Ann <ann@example.com>');
    assert.equal(c.Comment, 'my change');
    const history = d.ok(['history', 'changed:v1']).split('\n');
    assert.match(history[0]!, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT/);
    assert.match(history[1]!, new RegExp(`^${id.slice(7, 19)} .*sh -c echo new > /added && echo more >>.*… .*my change`));
    assert.match(history[2]!, /^<missing> .*Imported from -/);
    assert.match(d.ok(['history', '--no-trunc', 'changed:v1']), /sh -c echo new > \/added && echo more >> \/etc\/passwd && rm \/bin\/vi/);
    assert.equal(d.ok(['history', '-q', 'changed:v1']).trim().split('\n')[0], id.slice(7, 19));
    // a commit of the committed image's container stacks a third layer
    d.ok(['run', '--name', 'changer2', 'changed:v1', 'rm', '/added']);
    d.ok(['commit', 'changer2', 'changed:v2']);
    assert.equal(d.ok(['run', '--rm', 'changed:v2', 'sh', '-c', 'ls /added 2>&1 || true; cat /tmp/d/f']).includes('x'), true);
    assert.match(d.ok(['run', '--rm', 'changed:v2', 'sh', '-c', 'test -e /added && echo present || echo gone']), /gone/);
    // rolling back is tagging the earlier id again, read from history or images
    assert.match(d.ok(['images', '--digests']), /^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE\n/);
    d.ok(['tag', id.slice(7, 19), 'changed:rollback']);
    assert.equal(d.ok(['run', '--rm', 'changed:rollback', 'sh', '-c', 'test -e /added && echo back']), 'back\n');
    d.ok(['rm', 'changer', 'changer2']);
  });

  test('a directory deleted and made again (opaque in overlay) commits as .wh..wh..opq: nothing of the old one shows', () => {
    d.ok(['run', '--name', 'opaque', 'busybox', 'sh', '-c', 'rm -rf /usr && mkdir -p /usr/only && echo o > /usr/only/f']);
    assert.ok(d.ok(['diff', 'opaque']).split('\n').includes('A /usr/only/f'));
    d.ok(['commit', 'opaque', 'opaque:1']);
    const file = join(d.dir, 'opaque.tar');
    d.ok(['save', '-o', file, 'opaque:1']);
    const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' })) as Array<{ Layers: string[] }>;
    const top = manifest[0]!.Layers[1]!;
    const entries = execFileSync('sh', ['-c', 'tar -xOf "$1" "$2" | tar -t', 'sh', file, top], { encoding: 'utf8' }).split('\n');
    assert.ok(entries.includes('usr/.wh..wh..opq'), entries.join('\n'));
    for (const mountpoint of ['etc/hosts', 'etc/hostname', 'etc/resolv.conf']) assert.ok(!entries.includes(mountpoint), `${mountpoint} (the runtime's) is not in the layer`);
    assert.equal(d.ok(['run', '--rm', 'opaque:1', 'ls', '-A', '/usr']), 'only\n');
    d.ok(['rm', 'opaque']);
  });

  test('commit of a running container freezes it meanwhile and leaves it running', async () => {
    d.ok(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo up > /state; sleep 600']);
    const events = d.gantryAsync(['events']);
    let seen = '';
    events.proc.stdout!.on('data', (c: Buffer) => { seen += c.toString(); });
    // the stream is subscribed once it shows an event made after it started
    await eventually(() => { d.ok(['create', '--name', `probe-${Date.now()}`, 'busybox', 'true']); return seen.includes('probe-'); }, 10_000, 'events subscribed');
    const from = seen.length;
    d.ok(['commit', 'live', 'live:snap']);
    await eventually(() => /pause[\s\S]*unpause/.test(seen.slice(from)), 10_000, 'pause and unpause events');
    events.proc.kill();
    await events.done;
    assert.equal(JSON.parse(d.ok(['inspect', 'live']))[0].State.Status, 'running');
    assert.equal(d.ok(['run', '--rm', 'live:snap', 'cat', '/state']), 'up\n');
    d.ok(['rm', '-f', 'live']);
  });

  test('export writes the merged root: image files, the container\'s changes, not the deleted ones', () => {
    d.ok(['run', '--name', 'exp', 'busybox', 'sh', '-c', 'echo hi > /hello && rm /bin/vi']);
    const out = join(d.dir, 'exp.tar');
    d.ok(['export', '-o', out, 'exp']);
    const names = execFileSync('tar', ['-tf', out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
    assert.ok(names.includes('hello'));
    assert.ok(names.includes('bin/busybox'));
    assert.ok(!names.includes('bin/vi'));
    assert.ok(!names.some((n) => n.includes('.wh.')));
    assert.equal(execFileSync('tar', ['-xOf', out, 'hello'], { encoding: 'utf8' }), 'hi\n');
    // what export wrote imports again
    d.ok(['import', out, 'reimported']);
    assert.equal(d.ok(['run', '--rm', 'reimported', 'cat', '/hello']), 'hi\n');
    d.ok(['rm', 'exp']);
  });
});
