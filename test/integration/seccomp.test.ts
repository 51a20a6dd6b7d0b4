// Seccomp as a user meets it (root, real kernel): a static probe in a busybox image tries the syscalls Docker's
// default profile refuses and a few it allows, and prints the errno of each. The default refuses them (EPERM,
// ENOSYS for clone3); `seccomp=unconfined` and `--privileged` lift the filter; `--cap-add SYS_ADMIN` allows what
// Docker's profile allows with it; a profile file in Docker's format replaces the default; exec gets the filter.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { probeImageTar } from '../helpers/probe-image.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;
const EINVAL = 22;

type Probe = Record<string, number>;

function parseProbe(out: string): Probe {
  const probe: Probe = {};
  for (const line of out.trim().split('\n')) {
    const [name, errno] = line.split(' ');
    probe[name!] = Number(errno);
  }
  return probe;
}

function statusField(status: string, field: string): string | undefined {
  return new RegExp(`^${field}:\\s+(\\S+)$`, 'm').exec(status)?.[1];
}

describe('seccomp', { skip }, () => {
  const d = new TestDaemon('seccomp');
  let mkdirProfile = '';
  const probe = (flags: string[], ...args: string[]): Probe => parseProbe(d.ok(['run', '--rm', ...flags, 'probe', '/probe', ...args]));
  const status = (flags: string[]): string => d.ok(['run', '--rm', ...flags, 'probe', 'cat', '/proc/self/status']);

  before(async () => {
    // the probe, static, in a busybox image (with the empty dir its mount test uses)
    const tar = probeImageTar(d.dir, 'test/integration/seccomp/probe.c', 'probe', ['seccomp-probe-mnt']);
    // a profile in Docker's format that allows everything but mkdir, which fails with EACCES
    mkdirProfile = join(d.dir, 'no-mkdir.json');
    writeFileSync(mkdirProfile, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES, comment: 'no new directories' },
    ] }, null, 2));
    await d.start();
    d.ok(['import', tar, 'probe']);
  });
  after(async () => {
    await d.dispose();
  });

  test('the default refuses keyctl, add_key, io_uring, user namespaces, mount (EPERM) and clone3 (ENOSYS); the rest works', () => {
    const p = probe([]);
    for (const name of ['keyctl', 'add_key', 'io_uring_setup', 'unshare_user', 'clone_newuser', 'mount', 'socket_vsock', 'personality_norandom']) {
      assert.equal(p[name], EPERM, `${name}: ${JSON.stringify(p)}`);
    }
    assert.equal(p['clone3'], ENOSYS);
    for (const name of ['getpid', 'mkdir', 'socket_inet', 'personality_query']) assert.equal(p[name], 0, `${name}: ${JSON.stringify(p)}`);
    const s = status([]);
    assert.equal(statusField(s, 'Seccomp'), '2');
    assert.equal(statusField(s, 'Seccomp_filters'), '1');
  });

  test('32-bit syscalls (int 0x80) get the i386 part of the default; a profile without that ABI kills the process', () => {
    const p = probe([], 'i386');
    assert.deepEqual(p, { i386_getpid: 0, i386_keyctl: EPERM, i386_clone3: ENOSYS });
    assert.notEqual(probe(['--security-opt', 'seccomp=unconfined'], 'i386')['i386_keyctl'], EPERM);
    const killed = d.gantry(['run', '--rm', '--security-opt', `seccomp=${mkdirProfile}`, 'probe', '/probe', 'i386_getpid']);
    assert.equal(killed.status, 128 + 31, `SIGSYS: ${killed.stdout} ${killed.stderr}`);
  });

  test('seccomp=unconfined and --privileged run without a filter', () => {
    const p = probe(['--security-opt', 'seccomp=unconfined']);
    assert.notEqual(p['keyctl'], EPERM, JSON.stringify(p));
    assert.notEqual(p['add_key'], EPERM, JSON.stringify(p));
    assert.equal(p['io_uring_setup'], 0, JSON.stringify(p));
    assert.equal(p['clone3'], EINVAL, 'the kernel itself answers: no clone_args');
    assert.equal(p['personality_norandom'], 0);
    assert.equal(statusField(status(['--security-opt', 'seccomp=unconfined']), 'Seccomp'), '0');
    assert.equal(statusField(status(['--privileged']), 'Seccomp'), '0');
  });

  test('--cap-add SYS_ADMIN allows what Docker\'s profile allows with it (mount, unshare, namespaced clone, clone3), not keyctl', () => {
    const p = probe(['--cap-add', 'SYS_ADMIN']);
    assert.equal(p['mount'], 0, JSON.stringify(p));
    assert.equal(p['unshare_user'], 0, JSON.stringify(p));
    assert.equal(p['clone_newuser'], 0, JSON.stringify(p));
    assert.equal(p['clone3'], EINVAL, JSON.stringify(p));
    assert.equal(p['keyctl'], EPERM);
  });

  test('a profile file replaces the default: mkdir fails with its errno, keyctl is allowed; inspect shows the option as sent', () => {
    const p = probe(['--security-opt', `seccomp=${mkdirProfile}`]);
    assert.equal(p['mkdir'], EACCES, JSON.stringify(p));
    assert.notEqual(p['keyctl'], EPERM, JSON.stringify(p));
    const r = d.gantry(['run', '--rm', '--security-opt', `seccomp=${mkdirProfile}`, 'probe', 'mkdir', '/tmp/x']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Permission denied/);
    const id = d.ok(['create', '--security-opt', `seccomp=${mkdirProfile}`, 'probe', 'true']).trim();
    const opts = (JSON.parse(d.ok(['inspect', id])) as Array<{ HostConfig: { SecurityOpt: string[] | null } }>)[0]!.HostConfig.SecurityOpt;
    assert.deepEqual(opts, [`seccomp=${JSON.stringify(JSON.parse(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EACCES, comment: 'no new directories' }] })))}`]);
    d.ok(['rm', id]);
  });

  test('a broken profile is a clear error before anything is created; a missing file too', () => {
    const broken = join(d.dir, 'broken.json');
    writeFileSync(broken, '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_EPERM"}]}');
    const before = d.ok(['ps', '-aq']);
    const r = d.gantry(['run', '--name', 'never', '--security-opt', `seccomp=${broken}`, 'probe', 'true']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /seccomp profile: syscalls\[0\]\.action must be one of/);
    const m = d.gantry(['run', '--security-opt', `seccomp=${join(d.dir, 'none.json')}`, 'probe', 'true']);
    assert.equal(m.status, 2);
    assert.match(m.stderr, /cannot read the profile: ENOENT/);
    assert.equal(d.ok(['ps', '-aq']), before, 'no container was created');
  });

  test('exec (and so healthchecks) gets the container\'s filter; so do --init, no-new-privileges and a non-root user', () => {
    const id = d.ok(['run', '-d', 'probe', 'sleep', '1000']).trim();
    try {
      assert.equal(parseProbe(d.ok(['exec', id, '/probe', 'keyctl']))['keyctl'], EPERM);
      const s = d.ok(['exec', id, 'cat', '/proc/self/status']);
      assert.equal(statusField(s, 'Seccomp'), '2');
      assert.equal(statusField(s, 'Seccomp_filters'), '1');
      assert.equal(statusField(d.ok(['exec', '-u', '1000', id, 'cat', '/proc/self/status']), 'Seccomp_filters'), '1');
    } finally {
      d.ok(['rm', '-f', id]);
    }
    for (const flags of [['--init'], ['--security-opt', 'no-new-privileges'], ['-u', '1000'], ['-u', '1000', '--security-opt', 'no-new-privileges']]) {
      assert.equal(probe(flags, 'keyctl')['keyctl'], EPERM, flags.join(' '));
      const s = status(flags);
      assert.equal(statusField(s, 'Seccomp_filters'), '1', flags.join(' '));
    }
    assert.equal(statusField(status(['--security-opt', 'no-new-privileges']), 'NoNewPrivs'), '1');
  });

  test('a container started again after a daemon restart gets the same profile', async () => {
    const id = d.ok(['run', '-d', '--security-opt', `seccomp=${mkdirProfile}`, 'probe', 'sleep', '1000']).trim();
    try {
      await d.stop();
      await d.start();
      d.ok(['restart', '-t', '0', id]);
      assert.equal(parseProbe(d.ok(['exec', id, '/probe', 'mkdir']))['mkdir'], EACCES);
      assert.notEqual(parseProbe(d.ok(['exec', id, '/probe', 'keyctl']))['keyctl'], EPERM);
    } finally {
      d.ok(['rm', '-f', id]);
    }
  });
});
