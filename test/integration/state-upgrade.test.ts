// Upgrades: a daemon started on a root written by the code before records were versioned (test/fixtures/root-v0)
// recovers what it finds; records it cannot use (a newer format, damage) are refused, reported and left alone —
// a running container whose record is damaged keeps running (root, real kernel).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { eventually, killCgroupTree, PROJECT_ROOT, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');
const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'root-v0');
/** Files of the fixture that are records of the root (the rest documents or feeds unit tests). */
const RECORD_DIRS = ['containers', 'networks', 'volumes', 'stacks', 'images', 'layers'];

const SLEEPER = '1c89697ab8f90e153cc17f61098d10baccf4d25276a85d8214840658b1bdd81a';
const EXITED = '479ffa0250dd5a270f3bee633e7c6063c032950d1657138cefb3d5e6d93968aa';
const WEB = '267f17d25fe023ada8f0bdd630a7c51f5611092fe27f024b12a24c99d1e23000';
const FUTURE = 'f0f0f0f0f0f0' + '9'.repeat(52);
/** The fixture daemon's prefix was gantry-fx0: its links start with this. */
const FIXTURE_LINK_PREFIX = 'gt82ba';

/** Deletes links of this daemon's that are left (the fixture's bridges are made at start, before anything can fail). */
function removeLinks(prefix: string): void {
  const names = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => n.startsWith(linkPrefixFor(prefix)));
  for (const n of names) spawnSync('ip', ['link', 'del', n]);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

interface Inspect {
  Id: string; Name: string; Config: { Env: string[]; Labels: Record<string, string> };
  HostConfig: { Memory: number }; Mounts: { Name?: string; Destination: string }[]; State: { Status: string; ExitCode: number; Pid: number };
}

describe('a root written before records were versioned', { skip }, () => {
  const d = new TestDaemon('upgrade');
  const futureRecord = `${JSON.stringify({ version: 999, id: FUTURE, name: 'from-the-future', layout: 'unknown to this build' }, null, 2)}\n`;
  const futureStack = `${JSON.stringify({ version: 999, project: 'futurestack' })}\n`;

  before(async () => {
    // The image comes from a real import (blobs and layers are not in the fixture); the fixture's image id,
    // manifest and layer (they depend on the import's time) and link names (on the daemon prefix) are rewritten
    // to this daemon's. Everything else is byte for byte what the old code wrote.
    await d.start();
    d.importBusybox();
    await d.stop();
    const index = JSON.parse(readFileSync(join(d.root, 'images', 'index.json'), 'utf8')) as { images: Record<string, { manifest: string }> };
    const [imageId, entry] = Object.entries(index.images)[0]!;
    const oldIndex = JSON.parse(readFileSync(join(FIXTURE, 'images', 'index.json'), 'utf8')) as { images: Record<string, { manifest: string }> };
    const [oldImageId, oldEntry] = Object.entries(oldIndex.images)[0]!;
    const layer = readdirSync(join(d.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    const oldLayer = readdirSync(join(FIXTURE, 'layers'));
    assert.equal(layer.length, 1);
    const rewrites: [string, string][] = [
      [oldImageId, imageId], [oldEntry.manifest, entry.manifest], [oldLayer[0]!, layer[0]!], [`"${FIXTURE_LINK_PREFIX}`, `"${linkPrefixFor(d.prefix)}`],
    ];
    // A root as the old daemon left it: only the image store is this daemon's.
    for (const dir of ['containers', 'networks', 'volumes', 'stacks']) rmSync(join(d.root, dir), { recursive: true, force: true });
    for (const file of RECORD_DIRS.flatMap((dir) => filesUnder(join(FIXTURE, dir)))) {
      let rel = relative(FIXTURE, file);
      let text = readFileSync(file, 'utf8');
      for (const [from, to] of rewrites) { text = text.split(from).join(to); rel = rel.split(from).join(to); }
      mkdirSync(dirname(join(d.root, rel)), { recursive: true });
      writeFileSync(join(d.root, rel), text);
    }
    // The fixture keeps records and the small files create() writes (hostname, hosts, resolv.conf); the dirs
    // holding data are made empty here, as create() and `volume create` made them.
    for (const id of [SLEEPER, EXITED, WEB]) {
      for (const sub of ['upper', 'work', 'rootfs']) mkdirSync(join(d.root, 'containers', id, sub), { recursive: true, mode: sub === 'upper' ? 0o755 : 0o700 });
    }
    for (const name of ['fxdata', 'fxstack_cache']) mkdirSync(join(d.root, 'volumes', name, '_data'), { mode: 0o755 });
    // Records a newer gantry wrote.
    mkdirSync(join(d.root, 'containers', FUTURE), { recursive: true });
    writeFileSync(join(d.root, 'containers', FUTURE, 'container.json'), futureRecord);
    writeFileSync(join(d.root, 'stacks', 'futurestack.json'), futureStack);
    await d.start();
  });
  after(async () => {
    await d.dispose();
    removeLinks(d.prefix);
  });

  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['inspect', ref])) as Inspect[])[0]!;

  test('ps -a and inspect show the containers the old daemon made, with their config', () => {
    const ps = d.ok(['ps', '-a', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as { Id: string; Names: string[]; State: string; Status: string });
    assert.deepEqual(ps.map((c) => c.Id).sort(), [SLEEPER, WEB, EXITED, FUTURE].sort());
    // The container whose record is too new is listed as dead, with the reason; commands on it say why they refuse.
    const held = ps.find((c) => c.Id === FUTURE)!;
    assert.equal(held.State, 'dead');
    assert.match(held.Status, /^Dead \(record refused: containers\/f0f0f0f0f0f0\w+\/container.json was written by a newer gantry \(format 999/);
    const start = d.gantry(['start', FUTURE.slice(0, 12)]);
    assert.notEqual(start.status, 0);
    assert.match(start.stderr, /container f0f0f0f0f0f0 cannot be used: .*written by a newer gantry/);
    const sleeper = inspect('fx-sleeper');
    assert.equal(sleeper.Id, SLEEPER);
    assert.ok(sleeper.Config.Env.includes('FIXTURE=v0'));
    assert.equal(sleeper.Config.Labels['fixture'], 'v0');
    assert.equal(sleeper.HostConfig.Memory, 64 * 1024 * 1024);
    assert.deepEqual(sleeper.Mounts.map((m) => [m.Name, m.Destination]), [['fxdata', '/data']]);
    // It ran when the old daemon stopped; its processes are gone here (no shim): it is recorded as exited.
    assert.equal(sleeper.State.Status, 'exited');
    const exited = inspect('fx-exited');
    assert.equal(exited.State.Status, 'exited');
    assert.equal(exited.State.ExitCode, 3);
  });

  test('network ls, volume ls, images and the stored stack show what the old daemon wrote', () => {
    const networks = d.ok(['network', 'ls', '--format', 'json']).trim().split('\n').map((l) => (JSON.parse(l) as { Name: string }).Name);
    assert.deepEqual(networks.sort(), ['bridge', 'fxnet', 'fxstack_back', 'host', 'none']);
    const fxnet = (JSON.parse(d.ok(['network', 'inspect', 'fxnet'])) as { Id: string; Labels: Record<string, string>; IPAM: { Config: { Subnet: string }[] } }[])[0]!;
    assert.equal(fxnet.Id, '15487b47de569315b8b4400e79d6712cb39ed6d4681b0994b572b3d999655865');
    assert.deepEqual(fxnet.Labels, { fixture: 'v0' });
    assert.equal(fxnet.IPAM.Config[0]!.Subnet, '10.231.7.0/24');
    assert.deepEqual(d.ok(['volume', 'ls', '-q']).trim().split('\n').sort(), ['fxdata', 'fxstack_cache']);
    const vol = (JSON.parse(d.ok(['volume', 'inspect', 'fxdata'])) as { Labels: Record<string, string>; CreatedAt: string }[])[0]!;
    assert.deepEqual(vol.Labels, { fixture: 'v0' });
    assert.equal(vol.CreatedAt, (JSON.parse(readFileSync(join(FIXTURE, 'volumes', 'fxdata', 'volume.json'), 'utf8')) as { createdAt: string }).createdAt);
    assert.match(d.ok(['images']), /^busybox\s+latest\s/m);
    const stacks = d.ok(['stack', 'ls', '-a']);
    assert.match(stacks, /^fxstack\s+exited\(1\)\s+\/tmp\/gantry-fx\/stk\/compose.yaml$/m);
    assert.doesNotMatch(stacks, /futurestack/);
  });

  test('an exited container can be started, on its network, and its record is written back in the current format', () => {
    const r = d.gantry(['start', '-a', 'fx-exited']);
    assert.equal(r.stdout, 'hello-from-v0\n');
    assert.equal(r.status, 3);
    const onDisk = JSON.parse(readFileSync(join(d.root, 'containers', EXITED, 'container.json'), 'utf8')) as { version: number; state: { generation: number } };
    assert.equal(onDisk.version, 1);
    assert.equal(onDisk.state.generation, 2);
  });

  test('`up` of the same stack file starts the old service container instead of recreating it (same config hash)', () => {
    const out = d.ok(['up', '-d', '-f', join(FIXTURE, 'stack-compose.yaml')]);
    assert.doesNotMatch(out, /Recreate/i);
    const web = inspect('fxstack-web-1');
    assert.equal(web.Id, WEB);
    assert.equal(web.State.Status, 'running');
    assert.equal(web.Config.Labels['gantry.config-hash'], '94d161dbce458048c9bade3f37e4dc76732732d9038099c673ef21a9bfa38624');
    d.ok(['stop', '-t', '0', 'fxstack-web-1']);
  });

  test('records in a newer format are refused with a clear message, reported, and left untouched', () => {
    assert.match(d.logText, new RegExp(`error\\[STATE_TOO_NEW\\]: containers/${FUTURE}/container.json was written by a newer gantry \\(format 999, this build reads up to 1\\); container f0f0f0f0f0f0 is left alone .*\\(hint: upgrade gantry, or move the file aside\\)`));
    assert.match(d.logText, /error\[STATE_TOO_NEW\]: stacks\/futurestack.json was written by a newer gantry \(format 999, this build reads up to 1\)/);
    assert.match(d.ok(['info']), /^Warnings: .*containers\/f0f0f0f0f0f0\S*\/container.json was written by a newer gantry/m);
    const r = d.gantry(['stack', 'down', '-p', 'futurestack']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /stacks\/futurestack.json was written by a newer gantry/);
    assert.equal(d.gantry(['inspect', FUTURE]).status, 1);
    assert.equal(readFileSync(join(d.root, 'containers', FUTURE, 'container.json'), 'utf8'), futureRecord);
    assert.equal(readFileSync(join(d.root, 'stacks', 'futurestack.json'), 'utf8'), futureStack);
  });
});

/**
 * A held container is unknown to the daemon: its processes are ended here, then the daemon (which drops its
 * endpoint once the processes are gone) cleans up its links.
 */
async function disposeWithHeld(d: TestDaemon, pid: number): Promise<void> {
  killCgroupTree(d.prefix);
  if (pid > 0) await eventually(() => assert.throws(() => process.kill(pid, 0)), 10_000, 'the held container to end');
  await d.stop().catch(() => undefined);
  await d.start().catch(() => undefined);
  await d.dispose();
  removeLinks(d.prefix);
}

describe('a damaged record of a running container', { skip }, () => {
  const d = new TestDaemon('quarantine');
  let pid = 0;
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => disposeWithHeld(d, pid));

  test('is quarantined and reported; the container keeps running, with its cgroup, files and network', async () => {
    d.ok(['run', '-d', '--name', 'live', 'busybox', 'sleep', '1000']);
    const info = (JSON.parse(d.ok(['inspect', 'live'])) as Inspect[])[0]!;
    pid = info.State.Pid;
    const id = info.Id;
    const endpoint = JSON.parse(readFileSync(join(d.root, 'networks', 'endpoints', `${id}.json`), 'utf8')) as { endpoints: { hostIfName: string }[] };
    const veth = endpoint.endpoints[0]!.hostIfName;
    await d.crash();
    const record = join(d.root, 'containers', id, 'container.json');
    const text = readFileSync(record, 'utf8');
    writeFileSync(record, text.slice(0, Math.floor(text.length / 2))); // torn by something outside gantry
    await d.start();
    assert.match(d.logText, new RegExp(`error\\[STATE_CORRUPT\\]: containers/${id}/container.json is damaged \\(not valid JSON\\); moved to quarantine/\\S+; container ${id.slice(0, 12)} is left alone`));
    const quarantined = readdirSync(join(d.root, 'quarantine'));
    assert.equal(quarantined.length, 1);
    assert.equal(readFileSync(join(d.root, 'quarantine', quarantined[0]!), 'utf8'), text.slice(0, Math.floor(text.length / 2)));
    process.kill(pid, 0); // still running
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`/${d.prefix}/${id}$`, 'm'));
    assert.doesNotMatch(d.ok(['ps', '-a']), /live/);
    assert.ok(existsSync(join(d.root, 'containers', id, 'upper')));
    assert.equal(spawnSync('ip', ['link', 'show', veth]).status, 0, `${veth} kept`);
    // And on the next start too: still held, still reported, still running.
    await d.stop();
    await d.start();
    assert.match(d.logText, new RegExp(`containers/${id}/container.json was damaged and is in quarantine/\\S+; container ${id.slice(0, 12)} is left alone`));
    process.kill(pid, 0);
    assert.equal(readdirSync(join(d.root, 'quarantine')).length, 1);
  });
});

describe('a record deleted under a running container', { skip }, () => {
  const d = new TestDaemon('lostrecord');
  let pid = 0;
  before(async () => { await d.start(); d.importBusybox(); });
  after(() => disposeWithHeld(d, pid));

  test('the container is held (not removed with its upper layer), keeps running, and ps -a lists it as dead with why', async () => {
    d.ok(['run', '-d', '--name', 'orphan', '--network', 'none', 'busybox', 'sh', '-c', 'echo kept > /kept; exec sleep 1000']);
    const info = (JSON.parse(d.ok(['inspect', 'orphan'])) as Inspect[])[0]!;
    pid = info.State.Pid;
    await eventually(() => assert.ok(existsSync(join(d.root, 'containers', info.Id, 'upper', 'kept'))), 10_000, 'the file in the upper layer');
    await d.crash();
    rmSync(join(d.root, 'containers', info.Id, 'container.json'));
    await d.start();
    process.kill(pid, 0); // still running
    assert.ok(existsSync(join(d.root, 'containers', info.Id, 'upper', 'kept')), 'its upper layer is kept');
    assert.match(d.logText, new RegExp(`error\\[STATE_CORRUPT\\]: containers/${info.Id}/container.json is missing but the container's processes run`));
    const ps = d.ok(['ps', '-a', '--format', 'json']).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Id: string; State: string; Status: string });
    const held = ps.find((c) => c.Id === info.Id);
    assert.equal(held?.State, 'dead');
    assert.match(held?.Status ?? '', /record refused: .*is missing but the container's processes run/);
  });
});
