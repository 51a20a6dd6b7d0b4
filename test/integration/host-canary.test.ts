// The host-safety catalogue (issue 9), as one suite with a host canary: a directory of files on the host is hashed
// (paths, modes, owners, sizes, contents, link targets) before the suite and after it, and every hostile step
// aims at it — from inside a default container (root in the container, no extra flags), from an image's links,
// from links a container leaves in a volume the daemon later removes, from an untrusted stack file. Each step
// also asserts what the user would notice (the error, the refusal), so a step that "passes" because it never ran
// shows up. No step writes anything outside the canary; the disk's block device is only ever opened for reading.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxTarball, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

/** A hash of everything about a directory tree that an escape could change, links never followed. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (path: string, rel: string): void => {
    const st = lstatSync(path);
    h.update(`${rel}\0${st.mode}\0${st.uid}:${st.gid}\0${st.size}\0`);
    if (st.isSymbolicLink()) h.update(readlinkSync(path));
    else if (st.isFile()) h.update(readFileSync(path));
    else if (st.isDirectory()) for (const e of readdirSync(path).sort()) walk(join(path, e), `${rel}/${e}`);
  };
  walk(dir, '.');
  return h.digest('hex');
}

/** major:minor of a real disk of this host (not loop/ram/zram), for the "open the host's disk" step. */
function hostDisk(): { major: number; minor: number } | undefined {
  for (const name of readdirSync('/sys/block').sort()) {
    if (/^(loop|ram|zram|nbd|dm-)/.test(name)) continue;
    const [major, minor] = readFileSync(`/sys/block/${name}/dev`, 'utf8').trim().split(':').map(Number);
    if (major !== undefined && minor !== undefined) return { major, minor };
  }
  return undefined;
}

describe('host canary: hostile containers, images and stack files leave the host as it was', { skip }, () => {
  const d = new TestDaemon('host-canary');
  const scratch = mkdtempSync(join(tmpdir(), 'gantry-canary-'));
  const canary = join(scratch, 'canary');
  let before0 = '';

  before(async () => {
    await d.start();
    d.importBusybox();
    mkdirSync(join(canary, 'etc'), { recursive: true });
    writeFileSync(join(canary, 'secret'), 'HOST-CANARY-SECRET\n');
    writeFileSync(join(canary, 'etc', 'shadow'), 'root:HOST-CANARY-HASH:19000:0:99999:7:::\n');
    chmodSync(join(canary, 'etc', 'shadow'), 0o600);
    symlinkSync('secret', join(canary, 'link'));
    before0 = treeHash(canary);
  });
  after(async () => {
    try {
      assert.equal(treeHash(canary), before0, 'the host canary is unchanged after the whole suite');
    } finally {
      await d.dispose();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  const inContainer = (script: string, ...flags: string[]): string => {
    const r = d.gantry(['run', '--rm', ...flags, 'busybox', 'sh', '-c', script]);
    return `${r.stdout}${r.stderr}`;
  };

  test('device nodes: the host disk and tty0 can be made but not opened (EPERM)', () => {
    const disk = hostDisk();
    assert.ok(disk, 'this host has a block device to aim at');
    const out = inContainer([
      `mknod /tmp/disk b ${disk.major} ${disk.minor} && echo made-disk`,
      'dd if=/tmp/disk of=/dev/null bs=512 count=1 2>&1 && echo READ-DISK',
      'mknod /tmp/tty0 c 4 0 && echo made-tty',
      'echo X 2>&1 > /tmp/tty0 && echo WROTE-TTY',
      'mount /tmp/disk /mnt 2>&1 && echo MOUNTED-DISK',
      'true',
    ].join('; '));
    assert.match(out, /made-disk/);
    assert.match(out, /made-tty/);
    assert.match(out, /Operation not permitted/);
    assert.doesNotMatch(out, /READ-DISK|WROTE-TTY|MOUNTED-DISK/);
  });

  test('kernel knobs: /proc/sys, sysrq, sysfs and the cgroup view are read-only; proc and the disk cannot be mounted', () => {
    const out = inContainer([
      'echo h 2>/dev/null > /proc/sysrq-trigger && echo SYSRQ',
      'echo evil 2>/dev/null > /proc/sys/kernel/core_pattern && echo CORE-PATTERN',
      'echo /evil 2>/dev/null > /sys/kernel/uevent_helper && echo UEVENT',
      'mkdir /sys/fs/cgroup/gantry-escape 2>/dev/null && echo CGROUP-MKDIR',
      'mount -t proc proc /mnt 2>/dev/null && echo MOUNT-PROC',
      'mount -o remount,rw /sys 2>/dev/null && echo REMOUNT-SYS',
      'cat /proc/1/environ | tr "\\0" "\\n" | grep -c GANTRY_ROOT',
      'echo done',
    ].join('; '));
    assert.match(out, /done/);
    assert.doesNotMatch(out, /SYSRQ|CORE-PATTERN|UEVENT|CGROUP-MKDIR|MOUNT-PROC|REMOUNT-SYS/);
    assert.match(out, /^0$/m, "the container's pid 1 carries nothing of the daemon's environment");
  });

  test("an image whose VOLUME sits behind a link to the host's canary gets an empty volume, not the canary", () => {
    const stage = join(scratch, 'image');
    mkdirSync(stage);
    execFileSync('tar', ['-xf', busyboxTarball(), '-C', stage]);
    symlinkSync(canary, join(stage, 'data'));
    symlinkSync('/', join(stage, 'hostroot'));
    const tarball = join(scratch, 'hostile.tar');
    execFileSync('tar', ['-cf', tarball, '-C', stage, '.']);
    d.ok(['import', '--change', 'VOLUME /data', '--change', `VOLUME /hostroot${canary}/etc`, tarball, 'hostile']);
    const out = d.ok(['run', '--rm', 'hostile', 'sh', '-c', `ls -A /data; ls -A /hostroot${canary}/etc; echo end; touch /data/made-inside`]);
    // Both links land on one path inside the container's root, made there (as runc does): /data's volume holds
    // only the mount point of the second volume, and that one is empty. Nothing of the host was copied up.
    assert.equal(out, 'etc\nend\n');
    d.ok(['rmi', 'hostile']);
  });

  test('links a container leaves in a volume and its own /etc files are never followed by the daemon', () => {
    d.ok(['volume', 'create', 'trap']);
    const out = inContainer([
      `ln -s ${canary} /data/dir-link`,
      `ln -s ${canary}/secret /data/file-link`,
      `ln -s ${canary}/secret /data/secret; ln -s ${canary} /data/_data`,
      'rm -f /etc/hosts 2>&1; rm -f /etc/resolv.conf 2>&1; rm -f /etc/hostname 2>&1',
      'echo done',
    ].join('; '), '-v', 'trap:/data', '--network', 'bridge');
    assert.match(out, /done/);
    // /etc/hosts and friends are the daemon's bind mounts: the container cannot swap them for links
    assert.match(out, /Resource busy|Device or resource busy/);
    d.ok(['volume', 'rm', 'trap']);
    assert.ok(existsSync(join(canary, 'secret')), 'removing the volume removed the links, not what they point at');
  });

  test('a running container that replaced what it could with links: network connect and disconnect rewrite only its own files', () => {
    d.ok(['network', 'create', 'canary-net']);
    try {
      d.ok(['run', '-d', '--name', 'linker', 'busybox', 'sh', '-c',
        `mkdir -p /run/x; ln -sf ${canary}/secret /run/x/hosts; ln -sf ${canary}/secret /tmp/resolv.conf; sleep 60`]);
      d.ok(['network', 'connect', 'canary-net', 'linker']);
      d.ok(['network', 'disconnect', 'canary-net', 'linker']);
      const hostname = d.ok(['exec', 'linker', 'hostname']).trim();
      assert.match(d.ok(['exec', 'linker', 'cat', '/etc/hosts']), new RegExp(`\\s${hostname}$`, 'm'));
    } finally {
      d.gantry(['rm', '-f', 'linker']);
      d.gantry(['network', 'rm', 'canary-net']);
    }
  });

  test("an untrusted stack file: env_file and include outside the project are not echoed, --strict refuses them", () => {
    const project = join(scratch, 'project');
    mkdirSync(project);
    const file = join(project, 'compose.yaml');
    writeFileSync(file, [
      'services:',
      '  app:',
      '    image: busybox',
      '    env_file: ../canary/etc/shadow',
      `    volumes: ["${canary}:/host"]`,
      '    privileged: true',
      '',
    ].join('\n'));
    const plain = d.gantry(['stack', '-f', file, 'config']);
    assert.doesNotMatch(`${plain.stdout}${plain.stderr}`, /HOST-CANARY-HASH/, 'the file is read as env lines, its content never shown in a message');
    const strict = d.gantry(['up', '-f', file, '-d', '--strict', '--progress', 'plain']);
    assert.notEqual(strict.status, 0);
    assert.match(strict.stderr, /outside the project|privileged/);
    assert.doesNotMatch(`${strict.stdout}${strict.stderr}`, /HOST-CANARY/);
    assert.equal(d.ok(['ps', '-aq']).trim(), '', '--strict made nothing');
  });
});
