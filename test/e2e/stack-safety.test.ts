// Data safety of stacks: a recreated container keeps its anonymous volumes, `down` keeps volumes (`down -v`
// removes only what the project made), objects of the stack's names made by hand are refused and survive, and
// a container restarted by its policy keeps its address so a peer that cached it keeps working.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipReason } from '../helpers/privileged.js';
import { busyboxTarball, eventually, TestDaemon } from '../helpers/daemon.js';
import { containersOf, scenarioFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

interface Inspect {
  Id: string;
  State: { Status: string; Pid: number };
  RestartCount: number;
  Mounts: Array<{ Type: string; Name?: string; Destination: string }>;
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

const inspect = (d: TestDaemon, ref: string): Inspect => (JSON.parse(d.ok(['inspect', '--type', 'container', ref])) as Inspect[])[0]!;
const volumeNames = (d: TestDaemon): string[] => d.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).sort();

describe('volumes survive recreate and down (test/e2e/VolumeSafety)', { skip }, () => {
  const d = new TestDaemon('stack-vols');
  const file = scenarioFile('VolumeSafety');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-vols-'));
  const exec = (...cmd: string[]): string => d.ok(['stack', '-f', file, 'exec', '-T', 'db', ...cmd]);
  const dataVolume = (): string => inspect(d, 'volsafety-db-1').Mounts.find((m) => m.Destination === '/data')!.Name!;
  before(async () => {
    await d.start();
    d.ok(['import', '--change', 'VOLUME /data', busyboxTarball(), 'withvol']);
  });
  after(async () => {
    d.gantry(['down', '-f', file, '-v', '-t', '0', '--progress', 'quiet']);
    await d.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  let firstAnonymous = '';

  test('a changed environment recreates the container; the image VOLUME\'s data is still there', () => {
    d.ok(['up', '-f', file, '-d', '--progress', 'quiet']);
    exec('sh', '-c', 'echo row-1 > /data/rows; echo kept-1 > /keep/rows');
    const before = containersOf(d, file).get('volsafety-db-1')!.Id;
    firstAnonymous = dataVolume();
    const env = join(tmp, 'gen2.env');
    writeFileSync(env, 'GENERATION=2\n');
    assert.match(d.ok(['up', '-f', file, '--env-file', env, '-d', '--dry-run']), /recreate-container container:volsafety-db-1 \(config hash changed\)/);
    d.ok(['up', '-f', file, '--env-file', env, '-d', '--progress', 'quiet']);
    assert.notEqual(containersOf(d, file).get('volsafety-db-1')!.Id, before, 'recreated');
    assert.equal(exec('sh', '-c', 'echo $GENERATION'), '2\n');
    assert.equal(exec('cat', '/data/rows'), 'row-1\n');
    assert.equal(exec('cat', '/keep/rows'), 'kept-1\n');
    assert.equal(dataVolume(), firstAnonymous, 'the same volume, not a copy');
    assert.deepEqual([...containersOf(d, file).keys()], ['volsafety-db-1'], 'the parked old container is gone');
  });

  test('-V (--renew-anon-volumes) gives the recreated container a fresh anonymous volume', () => {
    exec('sh', '-c', 'echo row-2 > /data/rows');
    d.ok(['up', '-f', file, '-d', '--force-recreate', '-V', '--progress', 'quiet']);
    assert.notEqual(dataVolume(), firstAnonymous);
    assert.equal(d.gantry(['stack', '-f', file, 'exec', '-T', 'db', 'cat', '/data/rows']).status, 1, 'empty');
    assert.equal(exec('cat', '/keep/rows'), 'kept-1\n', 'named volumes are never renewed');
    assert.ok(!volumeNames(d).includes(firstAnonymous), 'the replaced anonymous volume went with the old container');
    exec('sh', '-c', 'echo row-3 > /data/rows');
  });

  test('down keeps every volume; the next up finds the data of both, the image VOLUME\'s too', () => {
    const anonymous = dataVolume();
    d.ok(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    assert.equal(containersOf(d, file).size, 0);
    assert.deepEqual(volumeNames(d), [anonymous, 'volsafety_keep'].sort(), 'down without -v removes no volume');
    d.ok(['up', '-f', file, '-d', '--progress', 'quiet']);
    assert.equal(exec('cat', '/keep/rows'), 'kept-1\n');
    // Beyond compose (which gives the new container a fresh one and leaves the old unattached): the container that
    // takes the slot again takes over the anonymous volume the slot left.
    assert.equal(dataVolume(), anonymous, 'the same anonymous volume');
    assert.equal(exec('cat', '/data/rows'), 'row-3\n');
    assert.deepEqual(volumeNames(d), [anonymous, 'volsafety_keep'].sort(), 'no new volume');
  });

  test('down -v removes the project\'s named volume and the containers\' anonymous volumes', () => {
    d.ok(['down', '-f', file, '-v', '-t', '0', '--progress', 'quiet']);
    assert.deepEqual(volumeNames(d), []);
  });
});

describe('objects the stack did not create (test/e2e/ForeignObjects)', { skip }, () => {
  const d = new TestDaemon('stack-foreign');
  const file = scenarioFile('ForeignObjects');
  const external = join(file, '..', 'external.yaml');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    await d.dispose();
  });

  test('a hand-made <project>_default network is refused with how to declare it external, and survives down -v', () => {
    d.ok(['network', 'create', 'foreign_default']);
    const dry = d.gantry(['up', '-f', file, '-d', '--dry-run']);
    assert.equal(dry.status, 1);
    assert.match(dry.stdout, /^error: network "foreign_default" exists but was not created by gantry for project "foreign"$/m);
    const r = d.gantry(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /network "foreign_default" exists but was not created by gantry for project "foreign"/);
    assert.match(r.stderr, /hint: declare it external \(networks: \{ default: \{ name: foreign_default, external: true \} \}\) to use it, or remove it/);
    assert.equal(d.ok(['ps', '-aq']), '', 'nothing was created');
    assert.deepEqual(volumeNames(d), [], 'not even the volume');
    d.ok(['down', '-f', file, '-v', '--progress', 'quiet']);
    assert.match(d.ok(['network', 'ls']), /foreign_default/);
  });

  test('a hand-made volume of the stack\'s name likewise', () => {
    d.ok(['network', 'rm', 'foreign_default']);
    d.ok(['volume', 'create', 'foreign_data']);
    const r = d.gantry(['up', '-f', file, '-d', '--progress', 'plain']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /volume "foreign_data" exists but was not created by gantry for project "foreign"/);
    assert.match(r.stderr, /declare it external \(volumes: \{ data: \{ name: foreign_data, external: true \} \}\)/);
    assert.doesNotMatch(d.ok(['network', 'ls']), /foreign_default/, 'refused before anything was made');
    d.ok(['down', '-f', file, '-v', '--progress', 'quiet']);
    assert.deepEqual(volumeNames(d), ['foreign_data']);
  });

  test('declared external, both are used, and down -v leaves them', () => {
    d.ok(['network', 'create', 'foreign_default']);
    d.ok(['up', '-f', file, '-f', external, '-d', '--progress', 'quiet']);
    const c = inspect(d, 'foreign-app-1');
    assert.deepEqual(Object.keys(c.NetworkSettings.Networks), ['foreign_default']);
    assert.equal(c.Mounts.find((m) => m.Destination === '/data')?.Name, 'foreign_data');
    d.ok(['down', '-f', file, '-f', external, '-v', '-t', '0', '--progress', 'quiet']);
    assert.equal(d.ok(['ps', '-aq']), '');
    assert.match(d.ok(['network', 'ls']), /foreign_default/);
    assert.deepEqual(volumeNames(d), ['foreign_data']);
    d.ok(['network', 'rm', 'foreign_default']);
    d.ok(['volume', 'rm', 'foreign_data']);
  });

  test('the project\'s own objects are still adopted by a later up and removed by down -v', () => {
    d.ok(['up', '-f', file, '-d', '--progress', 'quiet']);
    d.ok(['stack', '-f', file, 'stop']);
    assert.equal(d.ok(['up', '-f', file, '-d', '--dry-run']), '#1 start-container container:foreign-app-1 (not running: exited (137))\n');
    d.ok(['down', '-f', file, '-v', '-t', '0', '--progress', 'quiet']);
    assert.doesNotMatch(d.ok(['network', 'ls']), /foreign_default/);
    assert.deepEqual(volumeNames(d), []);
  });
});

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => (res.statusCode === 200 && body !== '' ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: "${body}"`))));
    });
    req.on('timeout', () => req.destroy(new Error('HTTP timeout')));
    req.on('error', reject);
  });
}

describe('a restarted container keeps its address (test/e2e/StickyAddress)', { skip }, () => {
  const d = new TestDaemon('stack-sticky');
  const file = scenarioFile('StickyAddress');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    await d.dispose();
  });

  test('app killed and restarted by its policy: same address, and the proxy that cached it answers without a restart', async () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'quiet']);
    const line = d.ok(['stack', '-f', file, 'port', 'proxy', '8080']).trim();
    const port = Number(line.slice(line.lastIndexOf(':') + 1));
    assert.equal(await eventually(() => httpGet(port, '/cgi-bin/app'), 15_000, 'the proxy to answer'), 'hello-from-app\n');
    const app = inspect(d, 'sticky-app-1');
    const ip = app.NetworkSettings.Networks['sticky_default']!.IPAddress;
    assert.equal(d.ok(['stack', '-f', file, 'exec', '-T', 'proxy', 'cat', '/tmp/app-ip']).trim(), ip, 'the proxy resolved app once');
    const proxyPid = inspect(d, 'sticky-proxy-1').State.Pid;

    process.kill(app.State.Pid, 'SIGKILL');
    await eventually(() => {
      const now = inspect(d, 'sticky-app-1');
      assert.equal(now.State.Status, 'running');
      assert.ok(now.RestartCount >= 1, 'restarted by its policy');
    }, 15_000, 'app to be restarted');
    const after = inspect(d, 'sticky-app-1');
    assert.equal(after.Id, app.Id, 'the same container, not a recreated one');
    assert.equal(after.NetworkSettings.Networks['sticky_default']!.IPAddress, ip);
    assert.equal(await eventually(() => httpGet(port, '/cgi-bin/app'), 15_000, 'the proxy to answer again'), 'hello-from-app\n');
    assert.equal(inspect(d, 'sticky-proxy-1').State.Pid, proxyPid, 'the proxy was not restarted');
  });
});

describe('nginx in front of a restarted app answers without a restart (test/e2e/NginxProxy)', { skip: skip ?? skipReason('mmdebstrap') }, () => {
  const d = new TestDaemon('stack-nginx');
  const file = scenarioFile('NginxProxy');
  before(async () => { await d.start(); d.importBusybox(); d.importNginx(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    await d.dispose();
  });

  test('app killed, restarted by its policy on the same address: nginx (static upstream) answers 200 again', async () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'quiet']);
    const line = d.ok(['stack', '-f', file, 'port', 'proxy', '80']).trim();
    const port = Number(line.slice(line.lastIndexOf(':') + 1));
    assert.equal(await eventually(() => httpGet(port, '/'), 15_000, 'nginx to answer'), 'hello-from-app\n');
    const app = inspect(d, 'nginxproxy-app-1');
    const ip = app.NetworkSettings.Networks['nginxproxy_default']!.IPAddress;
    const nginxPid = inspect(d, 'nginxproxy-proxy-1').State.Pid;

    process.kill(app.State.Pid, 'SIGKILL');
    await eventually(() => {
      const now = inspect(d, 'nginxproxy-app-1');
      assert.equal(now.State.Status, 'running');
      assert.ok(now.RestartCount >= 1, 'restarted by its policy');
    }, 15_000, 'app to be restarted');
    assert.equal(inspect(d, 'nginxproxy-app-1').NetworkSettings.Networks['nginxproxy_default']!.IPAddress, ip, 'the same address');
    assert.equal(await eventually(() => httpGet(port, '/'), 15_000, 'nginx to answer again'), 'hello-from-app\n');
    assert.equal(inspect(d, 'nginxproxy-proxy-1').State.Pid, nginxPid, 'nginx was not restarted');
  });
});

describe('a database\'s rows survive recreate and down (test/e2e/RedisRows)', { skip: skip ?? skipReason('mmdebstrap') }, () => {
  const d = new TestDaemon('stack-redis');
  const file = scenarioFile('RedisRows');
  const tmp = mkdtempSync(join(tmpdir(), 'gantry-redis-'));
  const cli = (...args: string[]): string => d.ok(['stack', '-f', file, 'exec', '-T', 'redis', 'redis-cli', ...args]).trim();
  const up = (...extra: string[]): void => {
    d.ok(['up', '-f', file, ...extra, '-d', '--progress', 'quiet']);
  };
  const ready = (): Promise<unknown> => eventually(() => assert.equal(cli('ping'), 'PONG'), 15_000, 'redis to answer');
  before(async () => { await d.start(); d.importRedis(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-v', '-t', '0', '--progress', 'quiet']);
    await d.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a row written, the environment changed: recreated, the row is there; down, up: there; down -v: gone', async () => {
    up();
    await ready();
    assert.equal(cli('set', 'row', 'kept'), 'OK');
    const first = containersOf(d, file).get('redisrows-redis-1')!.Id;
    const env = join(tmp, 'gen2.env');
    writeFileSync(env, 'GENERATION=2\n');
    up('--env-file', env);
    assert.notEqual(containersOf(d, file).get('redisrows-redis-1')!.Id, first, 'recreated');
    await ready();
    assert.equal(cli('get', 'row'), 'kept', 'after recreate');

    d.ok(['down', '-f', file, '--progress', 'quiet']);
    up('--env-file', env);
    await ready();
    assert.equal(cli('get', 'row'), 'kept', 'after down and up');

    d.ok(['down', '-f', file, '-v', '--progress', 'quiet']);
    up('--env-file', env);
    await ready();
    assert.equal(cli('get', 'row'), '', 'after down -v: a new, empty database');
  });
});
