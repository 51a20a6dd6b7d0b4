// A container's root without pivot_root (root, real kernel). pivot_root visits every task of the host, so each
// start cost more the more containers ran; the spawner now holds a template mount namespace whose root is an empty
// read-only tmpfs, and each container init moves its finished root into a copy of it and chroots there. What a
// user would notice: nothing of the host is reachable. A chroot escape (CAP_SYS_CHROOT, in the default set) ends
// at the container's own root, as with pivot_root. A process that can unmount (CAP_SYS_ADMIN) detaches the mount
// on `/` and joins its own mount namespace again, which gives it what is under the container's root: the
// template's empty read-only tmpfs (with pivot_root, the host's initial root filesystem, as in Docker). The
// container's mount table is the same as before; runtimes nested in a privileged container can still pivot_root.
// With GANTRY_SHIM_SPAWNER=0 (no template) the init pivots as before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { probeImageTar } from '../helpers/probe-image.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');
const EROFS = 30;

interface Inspect { State: { Pid: number } }

/** A private daemon for the enclosing suite, with the probe image, started before its tests and removed after. */
function probeDaemon(name: string, env: Record<string, string> = {}): TestDaemon {
  const d = new TestDaemon(name, [], env);
  before(async () => {
    await d.start();
    d.ok(['import', probeImageTar(d.dir, 'test/integration/rootfs/escape.c', 'escape'), 'escape']);
  });
  after(() => d.dispose());
  return d;
}

/** What the escape reached: its entries and the errno of a mkdir there (0: made). */
function escape(d: TestDaemon, how: 'chroot' | 'uncover', ...flags: string[]): { umount?: number; entries: string[]; mkdir: number } {
  const out = d.ok(['run', '--rm', '--network', 'none', ...flags, 'escape', '/escape', how]);
  const umount = /^umount (\d+)$/m.exec(out)?.[1];
  const entries = /^entries(.*)$/m.exec(out)?.[1]?.trim();
  const mkdir = /^mkdir (\d+)$/m.exec(out)?.[1];
  assert.ok(entries !== undefined && mkdir !== undefined, `probe output: ${out}`);
  return { ...(umount !== undefined ? { umount: Number(umount) } : {}), entries: entries === '' ? [] : entries.split(' ').sort(), mkdir: Number(mkdir) };
}

/** What `/` of a new container holds, with the chroot escape's jail dir (it makes it there). */
function ownRoot(d: TestDaemon): string[] {
  return [...d.ok(['run', '--rm', '--network', 'none', 'escape', 'ls', '-A', '/']).trim().split('\n'), 'escape-jail'].sort();
}

/** The mount namespaces (`mnt:[INODE]`) a process holds open as fds. */
function heldMountNamespaces(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).map((fd) => { try { return readlinkSync(join(dir, fd)); } catch { return ''; } }).filter((l) => l.startsWith('mnt:'));
}

describe('container roots from the template mount namespace', { skip }, () => {
  const d = probeDaemon('rootfs-tmpl');

  test('a chroot escape ends at the container\'s own root', () => {
    assert.deepEqual(escape(d, 'chroot'), { entries: ownRoot(d), mkdir: 0 });
  });

  test('under the container\'s root is an empty read-only directory, nothing of the host', () => {
    assert.deepEqual(escape(d, 'uncover', '--cap-add', 'SYS_ADMIN'), { umount: 0, entries: [], mkdir: EROFS });
    assert.deepEqual(escape(d, 'uncover', '--privileged'), { umount: 0, entries: [], mkdir: EROFS });
    assert.doesNotMatch(d.logText, /could not make the template/);
  });

  test('the mount table starts at the container root and shows no template; masks and a read-only root as before', () => {
    const lines = d.ok(['run', '--rm', '--network', 'none', 'escape', 'cat', '/proc/self/mountinfo']).trim().split('\n');
    const fields = lines.map((l) => l.split(' '));
    assert.equal(fields[0]![4], '/', `the first mount is the root: ${lines[0]}`);
    assert.equal(fields[0]![fields[0]!.indexOf('-') + 1], 'overlay');
    assert.equal(fields.filter((f) => f[4] === '/').length, 1, 'one mount on `/`');
    assert.equal(fields.filter((f) => f[f.indexOf('-') + 1] === 'tmpfs' && f[4] === '/').length, 0, 'no template tmpfs');
    assert.equal(d.ok(['run', '--rm', '--network', 'none', 'escape', 'sh', '-c', 'ls -A /proc/acpi /sys/firmware | wc -w']).trim(), '2', 'masked dirs are empty');
    const ro = d.gantry(['run', '--rm', '--read-only', '--network', 'none', 'escape', 'touch', '/x']);
    assert.match(ro.stderr, /Read-only file system/);
  });

  test('a runtime in a privileged container can still pivot_root', () => {
    const script = 'mkdir /tmp/n && mount -t tmpfs t /tmp/n && mkdir /tmp/n/old /tmp/n/bin && cp /bin/busybox /tmp/n/bin/ '
      + '&& cd /tmp/n && pivot_root . old && /bin/busybox umount -l /old && /bin/busybox echo pivoted';
    assert.equal(d.ok(['run', '--rm', '--privileged', '--network', 'none', 'escape', 'unshare', '-m', 'sh', '-c', script]).trim(), 'pivoted');
  });

  test('the shim holds the mount namespace the container runs in, not the one it was cloned in', () => {
    d.ok(['run', '-d', '--name', 'held', '--network', 'none', 'escape', 'sleep', '300']);
    try {
      const init = (JSON.parse(d.ok(['inspect', 'held'])) as Inspect[])[0]!.State.Pid;
      const shim = Number(spawnSync('ps', ['-o', 'ppid=', '-p', String(init)], { encoding: 'utf8' }).stdout.trim());
      assert.deepEqual(heldMountNamespaces(shim), [readlinkSync(`/proc/${init}/ns/mnt`)]);
      const own = d.ok(['run', '--rm', '--network', 'none', 'escape', 'ls', '-A', '/']);
      assert.equal(d.ok(['exec', 'held', 'ls', '-A', '/']), own, 'exec sees the container\'s root');
    } finally {
      d.ok(['rm', '-f', 'held']);
    }
  });
});

describe('container roots without a spawner (GANTRY_SHIM_SPAWNER=0: pivot_root)', { skip }, () => {
  const d = probeDaemon('rootfs-pivot', { GANTRY_SHIM_SPAWNER: '0' });

  // What is under the root here is the host's initial root filesystem (the `rootfs` at the bottom of every mount
  // tree), as in Docker: a process that can unmount reaches it (docs/shim-protocol.md, Container root).
  test('a chroot escape ends at the container\'s own root', () => {
    assert.deepEqual(escape(d, 'chroot'), { entries: ownRoot(d), mkdir: 0 });
  });
});
