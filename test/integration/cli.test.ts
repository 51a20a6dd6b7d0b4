// CLI behaviours around the daemon and images (root).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { busyboxTarball, eventually, GANTRY_BIN, GANTRY_CMD, killCgroupTree, TestDaemon } from '../helpers/daemon.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { PortDnat } from '../../src/engine/network/port-dnat.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

describe('daemon start-up from the CLI', { skip }, () => {
  /** Runs `first` with nothing listening on a private socket (autostart forced on), then `version`; stops the daemon. */
  function autostarts(first: string[], expect: RegExp): void {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-autostart-'));
    const prefix = `gantry-a${randomBytes(3).toString('hex')}`;
    const env = { ...process.env, GANTRY_HOST: `unix://${dir}/run/gantry.sock`, GANTRY_ROOT: join(dir, 'root'), GANTRY_PREFIX: prefix, GANTRY_AUTOSTART: '1' };
    try {
      const r = spawnSync(first[0]!, first.slice(1), { env, encoding: 'utf8', timeout: 20_000, cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, expect);
      assert.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700, 'only root can enter the socket dir');
      assert.equal(statSync(join(dir, 'run', 'gantry.sock')).mode & 0o777, 0o660);
      const again = spawnSync(process.execPath, [GANTRY_BIN, 'version'], { env, encoding: 'utf8', timeout: 20_000 });
      assert.match(again.stdout, /Gantry Engine/);
    } finally {
      const pid = Number(readFileSync(join(dir, 'root', 'gantryd.pid'), 'utf8'));
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 100; i++) {
        try { process.kill(pid, 0); } catch { break; }
        spawnSync('sleep', ['0.05']);
      }
      killCgroupTree(prefix);
      PortDnat.drop(linkPrefixFor(prefix)); // the daemon's DNAT table outlives it
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('the CLI starts the daemon by itself when nothing listens, and the socket is private', () => {
    autostarts([process.execPath, GANTRY_BIN, 'ps'], /CONTAINER ID/);
  });

  test('so does the CLI started from its start-up snapshot (bin/gantry: a stack command)', () => {
    // a snapshot has no ES module loader: the daemon's spawn must not be a dynamic import
    autostarts([GANTRY_CMD, 'stack', 'ls'], /NAME/);
  });

  test('a daemon that cannot start says why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-nostart-'));
    try {
      writeFileSync(join(dir, 'not-a-dir'), '');
      const env = { ...process.env, GANTRY_HOST: `unix://${dir}/run/gantry.sock`, GANTRY_ROOT: join(dir, 'not-a-dir', 'root'), GANTRY_AUTOSTART: '1' };
      const r = spawnSync(process.execPath, [GANTRY_BIN, 'ps'], { env, encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /the gantry daemon could not start/);
      assert.match(r.stderr, /ENOTDIR|not a directory/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('images and network modes through the CLI', { skip }, () => {
  const d = new TestDaemon('cli');
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(() => d.dispose());

  test('import, images, tag, inspect, rmi with docker semantics', () => {
    d.ok(['import', busyboxTarball(), 'local/tools:1.0']);
    d.ok(['tag', 'local/tools:1.0', 'tools:latest']);
    const list = d.ok(['images']);
    assert.match(list, /local\/tools\s+1\.0/);
    assert.match(list, /tools\s+latest/);
    // `images REPO[:TAG]` lists only what matches, as docker's
    assert.deepEqual(d.ok(['images', 'tools']).trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(':')), ['tools:latest']);
    assert.equal(d.ok(['images', '-q', 'local/tools:1.0']).trim().split('\n').length, 1);
    assert.equal(d.ok(['images', '-q', 'no/such']).trim(), '');
    const [img] = JSON.parse(d.ok(['inspect', 'tools'])) as Array<{ Id: string; RootFS: { Layers: string[] } }>;
    assert.equal(img!.RootFS.Layers.length, 1);
    d.ok(['run', '--name', 'uses-tools', 'tools', 'true']);
    const inUse = d.gantry(['rmi', img!.Id.slice(7, 19)]);
    assert.equal(inUse.status, 1);
    assert.match(d.ok(['rmi', 'local/tools:1.0']), /Untagged: local\/tools:1.0/);
    d.ok(['rm', 'uses-tools']);
    assert.match(d.ok(['rmi', 'tools']), /Deleted: sha256:/);
    assert.doesNotMatch(d.ok(['images']), /tools/);
    assert.equal(d.gantry(['import', '/does/not/exist.tar', 'x']).status, 2);
  });

  test('events streams container events as they happen, filtered', async () => {
    const ev = d.gantryAsync(['events', '--format', 'json', '--filter', 'type=container', '--filter', 'container=evented']);
    let live = '';
    ev.proc.stdout!.on('data', (c: Buffer) => { live += c.toString(); });
    try {
      await new Promise((r) => setTimeout(r, 500)); // let the stream subscribe
      assert.equal(d.gantry(['run', '--name', 'evented', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
      d.ok(['run', '--rm', '--name', 'other', 'busybox', 'true']);
      d.ok(['rm', 'evented']);
      await eventually(() => assert.match(live, /"destroy"/), 10_000, 'the destroy event');
    } finally {
      ev.proc.kill('SIGTERM');
      await ev.done;
    }
    const out = live.trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } });
    assert.deepEqual(out.map((e) => e.Action), ['create', 'start', 'die', 'destroy']);
    assert.ok(out.every((e) => e.Actor.Attributes['name'] === 'evented'));
    assert.equal(out.find((e) => e.Action === 'die')?.Actor.Attributes['exitCode'], '3');
  });

  test('--network host shares the host network; --network none has only loopback', () => {
    const hostNetns = readlinkSync('/proc/self/ns/net');
    assert.equal(d.ok(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']).trim(), hostNetns);
    assert.notEqual(d.ok(['run', '--rm', '--network', 'none', 'busybox', 'readlink', '/proc/self/ns/net']).trim(), hostNetns);
    const none = d.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net; cat /sys/class/net/lo/operstate']);
    assert.match(none, /^lo\n/);
  });
});
