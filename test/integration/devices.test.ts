// What a container may do with device nodes, and its privileges (root): Docker's device cgroup list, --device,
// an empty inheritable capability set, --security-opt no-new-privileges. No test opens a real host device that
// could act on the host: the denied case uses a char major no driver has (open gives ENXIO when the cgroup lets
// it through, EPERM when the cgroup refuses), and --device uses /dev/null and /dev/fuse (opened, never read or written).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALLOW_ALL_DEVICES, DEFAULT_DEVICE_RULES } from '../../src/engine/cgroups/index.js';
import { ControlFiles, realCgroupSys } from '../../src/engine/cgroups/sys.js';
import { CgroupV2Driver } from '../../src/engine/cgroups/v2.js';
import { cgroupDeviceProgramIds } from '../../src/sys/bpf.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

/** A char major that no driver of this host registered (from the LOCAL/EXPERIMENTAL ranges, never given out). */
function unusedCharMajor(): number {
  const text = readFileSync('/proc/devices', 'utf8');
  const chars = text.slice(0, text.indexOf('Block devices:'));
  const used = new Set([...chars.matchAll(/^\s*(\d+) /gm)].map((m) => Number(m[1])));
  const free = [60, 61, 62, 63, 120, 121, 122, 123, 124, 125, 126, 127].find((m) => !used.has(m));
  if (free === undefined) throw new Error('no unused char major in 60-63/120-127 on this host');
  return free;
}

describe('device nodes and privileges', { skip }, () => {
  const d = new TestDaemon('devices');
  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d.dispose();
  });

  test('a node the default list does not allow can be made but not opened (EPERM), while /dev/null, /dev/zero work', () => {
    const major = unusedCharMajor();
    const r = d.gantry(['run', '--rm', 'busybox', 'sh', '-c',
      `echo x > /dev/null && head -c 3 /dev/zero | wc -c && mknod /tmp/t c ${major} 0 && echo made && : < /tmp/t`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /^3\nmade\n$/);
    assert.match(r.stderr, /Operation not permitted/);
    // The same node in a privileged container gets past the cgroup: the kernel then finds no driver.
    const p = d.gantry(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', `mknod /tmp/t c ${major} 0 && : < /tmp/t`]);
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /No such device/);
    assert.doesNotMatch(p.stderr, /Operation not permitted/);
  });

  test('a 0666 node in the container (as an image could ship one) cannot be opened by a non-root user either', async () => {
    const major = unusedCharMajor();
    const id = d.ok(['run', '-d', 'busybox', 'sh', '-c', `mknod -m 666 /tmp/t c ${major} 0 && sleep 60`]).trim();
    try {
      // The node exists once the container's shell has made it.
      await eventually(() => assert.match(d.ok(['exec', id, 'ls', '/tmp']), /\bt\b/), 10_000, 'the node to be made');
      const r = d.gantry(['exec', '-u', '1000', id, 'sh', '-c', 'ls -l /tmp/t && : < /tmp/t']);
      assert.match(r.stdout, /^crw-rw-rw-/);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Operation not permitted/);
    } finally {
      d.ok(['rm', '-f', id]);
    }
  });

  test('--privileged can make and use a node of its own (c 1:3, a null device)', () => {
    assert.equal(d.ok(['run', '--rm', '--privileged', 'busybox', 'sh', '-c', 'mknod /tmp/n c 1 3 && echo gone > /tmp/n && echo ok']), 'ok\n');
  });

  test('--device HOST:CONTAINER makes the node and allows it; PERMS limit what the container may do with it', () => {
    const out = d.ok(['run', '--rm', '--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c', 'echo x > /dev/mynull && ls -l /dev/mynull']);
    assert.match(out, /^crw-rw-rw-\s+1 root\s+root\s+1,\s+3 .*\/dev\/mynull\n$/);
    // /dev/fuse (c 10:229) is denied by the default list: with r it opens for reading, opening it for writing is refused.
    const k = d.gantry(['run', '--rm', '--device', '/dev/fuse:/dev/f:r', 'busybox', 'sh', '-c', ': < /dev/f && echo read-ok && : > /dev/f']);
    assert.notEqual(k.status, 0);
    assert.equal(k.stdout, 'read-ok\n');
    assert.match(k.stderr, /Operation not permitted/);
    // The node has the host node's mode and owner (/dev/fuse is 0600 root:root here), not the default nodes' 0666.
    const hostMode = (statSync('/dev/fuse').mode & 0o777).toString(8);
    assert.equal(d.ok(['run', '--rm', '--device', '/dev/fuse:/dev/f', 'busybox', 'stat', '-c', '%a %u %g %t:%T', '/dev/f']),
      `${hostMode} ${statSync('/dev/fuse').uid} ${statSync('/dev/fuse').gid} a:e5\n`);
    const none = d.gantry(['run', '--rm', 'busybox', 'sh', '-c', 'mknod /tmp/f c 10 229 && : < /tmp/f']);
    assert.match(none.stderr, /Operation not permitted/);
  });

  test('--device is shown by inspect; a path that is not a device is refused at create', () => {
    const id = d.ok(['create', '--device', '/dev/null:/dev/mynull:rw', 'busybox', 'true']).trim();
    const info = JSON.parse(d.ok(['inspect', id])) as Array<{ HostConfig: { Devices: unknown } }>;
    assert.deepEqual(info[0]?.HostConfig.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }]);
    d.ok(['rm', id]);
    const bad = d.gantry(['create', '--device', '/etc/hostname', 'busybox', 'true']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /"\/etc\/hostname" is not a device node/);
  });

  test('the inheritable and ambient capability sets are empty, in the container and in exec', () => {
    const out = d.ok(['run', '--rm', 'busybox', 'grep', 'Cap', '/proc/self/status']);
    assert.match(out, /^CapInh:\s+0000000000000000$/m);
    assert.match(out, /^CapAmb:\s+0000000000000000$/m);
    assert.match(out, /^CapEff:\s+00000000a80425fb$/m, "Docker's default set stays effective for root");
    const id = d.ok(['run', '-d', 'busybox', 'sleep', '60']).trim();
    try {
      assert.match(d.ok(['exec', id, 'grep', 'CapInh', '/proc/self/status']), /^CapInh:\s+0000000000000000$/m);
    } finally {
      d.ok(['rm', '-f', id]);
    }
  });

  test('--security-opt no-new-privileges sets NoNewPrivs for the container and its execs; without it, 0', () => {
    assert.match(d.ok(['run', '--rm', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /^NoNewPrivs:\s+0$/m);
    assert.match(d.ok(['run', '--rm', '--security-opt', 'no-new-privileges:true', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /^NoNewPrivs:\s+1$/m);
    const id = d.ok(['run', '-d', '--security-opt', 'no-new-privileges', 'busybox', 'sleep', '60']).trim();
    try {
      assert.match(d.ok(['exec', id, 'grep', 'NoNewPrivs', '/proc/self/status']), /^NoNewPrivs:\s+1$/m);
      const info = JSON.parse(d.ok(['inspect', id])) as Array<{ HostConfig: { SecurityOpt: unknown } }>;
      assert.deepEqual(info[0]?.HostConfig.SecurityOpt, ['no-new-privileges']);
    } finally {
      d.ok(['rm', '-f', id]);
    }
  });
});

/** A cgroup2 mount of this host (the unified tree, or a hybrid host's /sys/fs/cgroup/unified). */
function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre?.split(' ')[4];
  }
  return undefined;
}

const v2root = cgroup2Mount();

describe('cgroup v2 device program, in a cgroup of the host\'s cgroup2 mount', { skip: skip || (v2root === undefined ? 'no cgroup2 mount on this host' : false) }, () => {
  const path = `gantry-bpftest-${randomBytes(4).toString('hex')}/c`;
  const driver = new CgroupV2Driver(v2root ?? '/nonexistent', [], new ControlFiles(realCgroupSys), [], { freezeTimeoutMs: 2000, removeTimeoutMs: 5000 });
  const scratch = mkdtempSync(join(tmpdir(), 'gantry-bpftest-'));
  after(async () => {
    await driver.remove(path.split('/')[0]!);
    rmSync(scratch, { recursive: true, force: true });
    assert.equal(existsSync(join(v2root ?? '/nonexistent', path.split('/')[0]!)), false, 'the test cgroup is gone');
  });

  /** A shell that joins the cgroup, then opens /dev/null for writing and a node without a driver for reading. */
  function probe(): { stdout: string; stderr: string } {
    const node = join(scratch, `n${randomBytes(3).toString('hex')}`);
    const major = unusedCharMajor();
    const script = `echo $$ > ${join(v2root!, path, 'cgroup.procs')} && mknod ${node} c ${major} 0 && echo made && echo x > /dev/null && echo null-ok && : < ${node}`;
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 10_000 });
    return { stdout: r.stdout, stderr: r.stderr };
  }

  test("Docker's default list: /dev/null works, a node outside the list is made but not opened (EPERM)", () => {
    driver.create(path, { devicesAllowed: [...DEFAULT_DEVICE_RULES] });
    assert.equal(cgroupDeviceProgramIds(join(v2root!, path)).length, 1);
    const r = probe();
    assert.equal(r.stdout, 'made\nnull-ok\n');
    assert.match(r.stderr, /Operation not permitted/);
  });

  test('create again replaces the program (one attached, a new id); allow-all lets the open reach the kernel (ENXIO)', () => {
    const before = cgroupDeviceProgramIds(join(v2root!, path));
    driver.create(path, { devicesAllowed: [...ALLOW_ALL_DEVICES] });
    const now = cgroupDeviceProgramIds(join(v2root!, path));
    assert.equal(now.length, 1);
    assert.notDeepEqual(now, before);
    const r = probe();
    assert.equal(r.stdout, 'made\nnull-ok\n');
    assert.match(r.stderr, /No such device/);
  });
});
