// The versioned parts of the shim contract (spec `version`, `ready` and `v` protocol announcements) and the
// cgroup view's place in the spec.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { hierarchiesView, unifiedView } from '../../../src/engine/cgroups/view.js';
import { STREAM_EXIT, STREAM_PROTOCOL, shimProtocol } from '../../../src/engine/runtime/shim-socket.js';
import { checkShimProtocol, parseProtocolVersion, SHIM_PROTOCOL_VERSION } from '../../../src/engine/runtime/shim-version.js';
import {
  DEFAULT_DEVICES, DEFAULT_SYMLINKS, MS, SHIM_SPEC_VERSION, baseMounts, containerSpecEntries, execSpecEntries,
  type ContainerRuntimeSpec,
} from '../../../src/engine/runtime/spec.js';
import { isCode, removeDir, tempDir } from './helpers.js';

function spec(over: Partial<ContainerRuntimeSpec> = {}): ContainerRuntimeSpec {
  return {
    id: 'c0ffee', rootfs: '/r', overlayOptions: 'lowerdir=/l,upperdir=/u,workdir=/w', namespaces: ['pid', 'mount', 'cgroup'],
    hostname: 'c0ffee', devices: DEFAULT_DEVICES, symlinks: DEFAULT_SYMLINKS, maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'],
    mounts: [...baseMounts(1 << 20), { source: '/h', target: '/etc/hosts', fstype: 'none', flags: MS.BIND, data: '' }],
    sysctls: {}, readonlyRootfs: false, rlimits: [], oomScoreAdj: 0, init: false, logPath: '/log',
    args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, groups: [], capsMask: 0n, noNewPrivs: false, tty: false, stdin: false,
    exitFile: '/exit', socket: '/sock', cgroupProcs: [], cgroupSelf: [],
    ...over,
  };
}

const { NOSUID, NODEV, NOEXEC, RDONLY, BIND } = MS;
const keysOf = (s: ContainerRuntimeSpec): string[] => containerSpecEntries(s).map((e) => e[0]);

describe('spec version', () => {
  test('every spec starts with `version 3` (2 added `seccomp`, 3 `cgroup_self` and `cgroup_into`)', () => {
    assert.equal(SHIM_SPEC_VERSION, 3);
    assert.deepEqual(containerSpecEntries(spec())[0], ['version', '3']);
    assert.deepEqual(execSpecEntries({ ...spec(), targetPid: 7 })[0], ['version', '3']);
  });
  test('a seccomp filter travels as hex, in run and exec specs alike; none without one', () => {
    const filter = Buffer.from([0x06, 0, 0, 0, 0, 0, 0xff, 0x7f]);
    assert.deepEqual(containerSpecEntries({ ...spec(), seccompFilter: filter }).filter((e) => e[0] === 'seccomp'), [['seccomp', '060000000000ff7f']]);
    assert.deepEqual(execSpecEntries({ ...spec(), targetPid: 7, seccompFilter: filter }).filter((e) => e[0] === 'seccomp'), [['seccomp', '060000000000ff7f']]);
    assert.equal(containerSpecEntries(spec()).some((e) => e[0] === 'seccomp'), false);
  });
});

describe('the cgroup view in the spec', () => {
  test('v2: one cgroup2 mount right after /sys, before the /etc files and user mounts that may cover it', () => {
    const mounts = containerSpecEntries(spec({ cgroupView: unifiedView(false) })).filter((e) => e[0] === 'mount');
    assert.deepEqual(mounts.map((m) => m[2]), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup', '/etc/hosts']);
    assert.deepEqual(mounts[6], ['mount', 'cgroup', '/sys/fs/cgroup', 'cgroup2', String(NOSUID | NODEV | NOEXEC | RDONLY), '']);
    assert.ok(!keysOf(spec({ cgroupView: unifiedView(false) })).includes('remount'), 'nothing to seal on v2');
  });

  test('v1: tmpfs, a read-only bind of the container\'s dir per hierarchy, then symlinks, then the tmpfs remounted read-only before the masks', () => {
    const view = hierarchiesView([{ controllers: ['cpu', 'cpuacct'], dir: '/cg/cpu,cpuacct/g/c1' }, { controllers: ['memory'], dir: '/cg/memory/g/_unlimited' }], false);
    const entries = containerSpecEntries(spec({ cgroupView: view }));
    const mounts = entries.filter((e) => e[0] === 'mount').map((e) => e.slice(1));
    assert.deepEqual(mounts.slice(5, 9), [
      ['sysfs', '/sys', 'sysfs', String(NOSUID | NODEV | NOEXEC | RDONLY), ''],
      ['tmpfs', '/sys/fs/cgroup', 'tmpfs', String(NOSUID | NODEV | NOEXEC), 'mode=755'],
      ['/cg/cpu,cpuacct/g/c1', '/sys/fs/cgroup/cpu,cpuacct', 'none', String(BIND | NOSUID | NODEV | NOEXEC | RDONLY), ''],
      ['/cg/memory/g/_unlimited', '/sys/fs/cgroup/memory', 'none', String(BIND | NOSUID | NODEV | NOEXEC | RDONLY), ''],
    ]);
    const symlinks = entries.filter((e) => e[0] === 'symlink').map((e) => e.slice(1));
    assert.deepEqual(symlinks.slice(-2), [['cpu,cpuacct', '/sys/fs/cgroup/cpu'], ['cpu,cpuacct', '/sys/fs/cgroup/cpuacct']]);
    assert.equal(symlinks.length, DEFAULT_SYMLINKS.length + 2);
    assert.deepEqual(entries.filter((e) => e[0] === 'remount'), [['remount', '/sys/fs/cgroup', String(BIND | NOSUID | NODEV | NOEXEC | RDONLY)]]);
    const keys = entries.map((e) => e[0]);
    assert.ok(keys.lastIndexOf('symlink') < keys.indexOf('remount') && keys.indexOf('remount') < keys.indexOf('mask'),
      'the shim applies symlinks, remounts and masks in that order');
  });

  test('--network host: after the bind of the host\'s /sys that replaces sysfs', () => {
    const mounts = [...baseMounts(1 << 20)];
    mounts[5] = { source: '/sys', target: '/sys', fstype: 'none', flags: BIND | RDONLY, data: '' };
    const targets = containerSpecEntries(spec({ mounts, cgroupView: unifiedView(false) })).filter((e) => e[0] === 'mount').map((e) => e[2]);
    assert.deepEqual(targets.slice(5), ['/sys', '/sys/fs/cgroup']);
  });

  test('privileged: writable mounts, no remount', () => {
    const entries = containerSpecEntries(spec({ cgroupView: hierarchiesView([{ controllers: ['memory'], dir: '/cg/memory/g/c1' }], true) }));
    const cg = entries.filter((e) => e[0] === 'mount' && e[2]!.startsWith('/sys/fs/cgroup'));
    assert.ok(cg.every((m) => (Number(m[4]) & RDONLY) === 0));
    assert.ok(!entries.some((e) => e[0] === 'remount'));
  });

  test('without a view the mounts are as given', () => {
    assert.deepEqual(containerSpecEntries(spec()).filter((e) => e[0] === 'mount').map((e) => e[2]),
      ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/etc/hosts']);
  });
});

describe('shim protocol version', () => {
  test('announcements parse; anything but a positive decimal is refused', () => {
    assert.equal(parseProtocolVersion('1\n', 'x'), 1);
    assert.equal(parseProtocolVersion('12', 'x'), 12);
    for (const bad of ['', '0', '-1', '1.0', 'one', '01']) {
      assert.throws(() => parseProtocolVersion(bad, 'the shim at /s'), isCode('SHIM_FAILED', /the shim at \/s announced an unreadable protocol version/));
    }
  });

  test('versions up to this build\'s are accepted; a newer one is refused naming both', () => {
    assert.equal(SHIM_PROTOCOL_VERSION, 1);
    checkShimProtocol(1, 'x');
    assert.throws(() => checkShimProtocol(2, 'the shim of abc'),
      isCode('UNSUPPORTED', /^the shim of abc speaks shim protocol 2; this daemon speaks up to 1$/));
  });
});

describe('shimProtocol (asking a running shim)', () => {
  const dir = tempDir();
  after(() => removeDir(dir));
  let n = 0;

  /** A pretend shim: `reply` decides what it answers once the client's `v` frame and EOF arrived. */
  async function ask(reply: (sock: Socket, received: Buffer) => void): Promise<number | undefined> {
    const path = join(dir, `s${n++}.sock`);
    const server = createServer((sock) => {
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
      sock.on('end', () => reply(sock, got));
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      return await shimProtocol(path);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }
  const frameOf = (stream: number, text: string): Buffer => {
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(Buffer.byteLength(text), 4);
    return Buffer.concat([head, Buffer.from(text)]);
  };

  test('sends one `v` frame then ends its side; a shim that answers gives its version', async () => {
    let sent: Buffer | undefined;
    const v = await ask((sock, got) => { sent = got; sock.end(frameOf(STREAM_PROTOCOL, '1\n')); });
    assert.equal(v, 1);
    assert.deepEqual(sent, Buffer.from([0x76, 0, 0, 0, 0]));
  });

  test('a shim from before versions closes without an answer: version 1', async () => {
    assert.equal(await ask((sock) => sock.end()), 1);
  });

  test('a newer shim\'s version is reported as such (the caller refuses it)', async () => {
    assert.equal(await ask((sock) => sock.end(frameOf(STREAM_PROTOCOL, '3\n'))), 3);
  });

  test('an exit frame instead of an answer: the process is gone, nothing to adopt', async () => {
    assert.equal(await ask((sock) => sock.end(frameOf(STREAM_EXIT, '0\n'))), undefined);
  });

  test('a garbled answer is an error, not a guess', async () => {
    await assert.rejects(ask((sock) => sock.end(frameOf(STREAM_PROTOCOL, 'x'))), isCode('SHIM_FAILED', /unreadable protocol version/));
  });

  test('nothing listening: rejects', async () => {
    await assert.rejects(shimProtocol(join(dir, 'none.sock')));
  });
});
