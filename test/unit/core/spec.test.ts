import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_DEVICES, DEFAULT_SYMLINKS, INIT_PATH, MASKED_PATHS, MS, READONLY_PATHS, baseMounts, containerSpecEntries, encodeSpec,
  execSpecEntries, initMount, rlimitNumber, type ContainerRuntimeSpec, type ExecRuntimeSpec,
} from '../../../src/engine/runtime/spec.js';
import { isCode } from './helpers.js';

/** Arity of every key the shim accepts (docs/shim-protocol.md). */
const ARITY: Record<string, number> = {
  id: 1, rootfs: 1, overlay: 1, ns: 1, netns: 1, hostname: 1, mount: 5, device: 4, symlink: 2, mask: 1, ro_path: 1,
  sysctl: 2, readonly_rootfs: 1, cgroup_procs: 1, cgroup_self: 1, cgroup_into: 1, cwd: 1, user: 2, groups: 1, caps: 1, no_new_privs: 1, rlimit: 3,
  oom_score_adj: 1, env: 1, arg: 1, tty: 1, stdin: 1, init: 1, init_path: 1, log: 1, exit_file: 1, socket: 1, target_pid: 1,
  version: 1, remount: 2,
  log_max_size: 1, log_max_files: 1, log_attrs: 1,
};

/** Decodes a spec buffer the way the shim reads it: a key, then ARITY[key] values, all NUL-terminated. */
function decode(buf: Buffer): string[][] {
  const text = buf.toString('utf8');
  assert.ok(text === '' || text.endsWith('\0'), 'every string is NUL-terminated');
  const words = text === '' ? [] : text.slice(0, -1).split('\0');
  const out: string[][] = [];
  for (let i = 0; i < words.length;) {
    const key = words[i]!;
    const n = ARITY[key];
    assert.ok(n !== undefined, `unknown key ${key}`);
    assert.ok(i + n < words.length, `key ${key} is missing values`);
    out.push(words.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

function spec(over: Partial<ContainerRuntimeSpec> = {}): ContainerRuntimeSpec {
  return {
    id: 'c0ffee', rootfs: '/var/lib/gantry/containers/c0ffee/rootfs', overlayOptions: 'lowerdir=/l1:/l2,upperdir=/u,workdir=/w',
    namespaces: ['pid', 'mount', 'uts', 'ipc'], hostname: 'c0ffee', mounts: baseMounts(64 * 1024 * 1024),
    devices: DEFAULT_DEVICES, symlinks: DEFAULT_SYMLINKS, maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS,
    sysctls: { 'net.ipv4.ip_forward': '1' }, readonlyRootfs: false, rlimits: [{ resource: 7, soft: 1024, hard: 2048 }],
    oomScoreAdj: 0, init: false, logPath: '/logs/c0ffee-json.log',
    args: ['sh', '-c', 'echo hi'], env: ['PATH=/bin', 'A=1'], cwd: '/', uid: 1000, gid: 100, groups: [10, 20],
    capsMask: 0xa80425fbn, noNewPrivs: true, tty: false, stdin: false, exitFile: '/run/c0ffee/exit',
    socket: '/run/c0ffee/sock', cgroupProcs: ['/sys/fs/cgroup/unified/gantry/c0ffee/cgroup.procs'], cgroupSelf: ['/sys/fs/cgroup/memory/gantry/c0ffee/tasks'],
    ...over,
  };
}

describe('encodeSpec', () => {
  test('writes each key then its values, every string NUL-terminated', () => {
    const buf = encodeSpec([['id', 'abc'], ['user', '0', '0'], ['groups', '']]);
    assert.equal(buf.toString('utf8'), 'id\0abc\0user\x000\x000\0groups\0\0');
  });

  test('an empty value survives as an empty string', () => {
    assert.deepEqual(decode(encodeSpec([['groups', ''], ['mount', 'proc', '/proc', 'proc', '14', '']])),
      [['groups', ''], ['mount', 'proc', '/proc', 'proc', '14', '']]);
  });

  test('UTF-8 values are kept byte for byte', () => {
    const buf = encodeSpec([['env', 'GREETING=héllo wörld ✓']]);
    assert.deepEqual(decode(buf), [['env', 'GREETING=héllo wörld ✓']]);
  });

  test('a NUL inside a value is rejected, naming the key', () => {
    assert.throws(() => encodeSpec([['arg', 'sh'], ['env', 'A=x\0y']]), isCode('INVALID_ARGUMENT', /"env" contains a NUL byte/));
  });
});

describe('containerSpecEntries', () => {
  test('every entry has the arity the shim expects and the whole spec decodes back', () => {
    const entries = containerSpecEntries(spec({ netnsPath: '/proc/42/ns/net', namespaces: ['pid', 'mount', 'uts', 'ipc'] }));
    for (const e of entries) assert.equal(e.length - 1, ARITY[e[0]], `arity of ${e[0]}`);
    assert.deepEqual(decode(encodeSpec(entries)), entries);
  });

  test('filesystem entries come in the order the shim applies them: overlay, ns, mounts, devices, symlinks, masks', () => {
    const keys = containerSpecEntries(spec()).map((e) => e[0]);
    const firstOf = (k: string): number => keys.indexOf(k);
    const lastOf = (k: string): number => keys.lastIndexOf(k);
    assert.deepEqual(keys.slice(0, 4), ['version', 'id', 'rootfs', 'overlay']);
    assert.ok(lastOf('ns') < firstOf('mount'));
    assert.ok(lastOf('mount') < firstOf('device'));
    assert.ok(lastOf('device') < firstOf('symlink'));
    assert.ok(lastOf('symlink') < firstOf('mask'));
    assert.ok(lastOf('mask') < firstOf('ro_path'));
    // the command comes last and keeps its order
    assert.deepEqual(containerSpecEntries(spec()).filter((e) => e[0] === 'arg').map((e) => e[1]), ['sh', '-c', 'echo hi']);
  });

  test('mounts keep their order and carry flags as decimal numbers', () => {
    const mounts = containerSpecEntries(spec()).filter((e) => e[0] === 'mount');
    assert.deepEqual(mounts.map((m) => m[2]), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']);
    const proc = mounts[0]!;
    assert.deepEqual(proc, ['mount', 'proc', '/proc', 'proc', String(MS.NOSUID | MS.NODEV | MS.NOEXEC), '']);
    const shm = mounts[3]!;
    assert.equal(shm[5], `mode=1777,size=${64 * 1024 * 1024}`);
    const sys = mounts[5]!;
    assert.ok((Number(sys[4]) & MS.RDONLY) !== 0, '/sys is read-only');
  });

  test('namespaces, devices and process fields are all spelled out', () => {
    const entries = containerSpecEntries(spec());
    const get = (k: string): string[][] => entries.filter((e) => e[0] === k).map((e) => e.slice(1));
    assert.deepEqual(get('ns'), [['pid'], ['mount'], ['uts'], ['ipc']]);
    assert.deepEqual(get('hostname'), [['c0ffee']]);
    assert.deepEqual(get('device')[0], ['/dev/null', 'c', '1', '3']);
    assert.equal(get('device').length, DEFAULT_DEVICES.length);
    assert.deepEqual(get('user'), [['1000', '100']]);
    assert.deepEqual(get('groups'), [['10,20']]);
    assert.deepEqual(get('caps'), [['a80425fb']]);
    assert.deepEqual(get('no_new_privs'), [['1']]);
    assert.deepEqual(get('rlimit'), [['7', '1024', '2048']]);
    assert.deepEqual(get('sysctl'), [['net.ipv4.ip_forward', '1']]);
    assert.deepEqual(get('env'), [['PATH=/bin'], ['A=1']]);
    assert.deepEqual(get('cgroup_procs'), [['/sys/fs/cgroup/unified/gantry/c0ffee/cgroup.procs']]);
    assert.deepEqual(get('cgroup_self'), [['/sys/fs/cgroup/memory/gantry/c0ffee/tasks']]);
    assert.deepEqual(get('cgroup_into'), [], 'only with cgroupInto (v2)');
    assert.deepEqual(get('log'), [['/logs/c0ffee-json.log']]);
    assert.deepEqual(get('readonly_rootfs'), [['0']]);
    assert.deepEqual(get('init'), [['0']]);
    assert.deepEqual(get('init_path'), []);
  });

  test('cgroup v2: the cgroup dir the init is cloned into travels as cgroup_into, beside cgroup_procs for a kernel that refuses it', () => {
    const entries = containerSpecEntries(spec({ cgroupInto: '/sys/fs/cgroup/gantry/c0ffee', cgroupProcs: ['/sys/fs/cgroup/gantry/c0ffee/cgroup.procs'], cgroupSelf: [] }));
    assert.deepEqual(entries.filter((e) => e[0].startsWith('cgroup_')), [
      ['cgroup_into', '/sys/fs/cgroup/gantry/c0ffee'], ['cgroup_procs', '/sys/fs/cgroup/gantry/c0ffee/cgroup.procs'],
    ]);
  });

  test('--init: the init path is given, and initMount binds the binary there read-only, nosuid, nodev, executable', () => {
    const entries = containerSpecEntries(spec({ init: true }));
    assert.deepEqual(entries.filter((e) => e[0] === 'init' || e[0] === 'init_path'), [['init', '1'], ['init_path', INIT_PATH]]);
    assert.equal(INIT_PATH, '/sbin/gantry-init');
    assert.deepEqual(initMount('/opt/gantry/gantry-shim'),
      { source: '/opt/gantry/gantry-shim', target: INIT_PATH, fstype: 'none', flags: MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV, data: '' });
  });

  test('no overlay entry without overlay options; no hostname without a uts namespace; netns only when given', () => {
    const keys = containerSpecEntries(spec({ overlayOptions: '', namespaces: ['pid', 'mount'] })).map((e) => e[0]);
    assert.ok(!keys.includes('overlay'));
    assert.ok(!keys.includes('hostname'));
    assert.ok(!keys.includes('netns'));
    const withNet = containerSpecEntries(spec({ netnsPath: '/var/run/netns/x' }));
    assert.deepEqual(withNet.filter((e) => e[0] === 'netns'), [['netns', '/var/run/netns/x']]);
  });

  test('an empty supplementary group list is an empty value (the shim accepts it)', () => {
    const groups = containerSpecEntries(spec({ groups: [] })).filter((e) => e[0] === 'groups');
    assert.deepEqual(groups, [['groups', '']]);
  });

  test('log rotation and attributes follow the log path; no log entries at all without a path (driver none)', () => {
    const entries = containerSpecEntries(spec({ logMaxSizeBytes: 1_000_000, logMaxFiles: 3, logAttrs: '{"tag":"web"}' }));
    const logKeys = entries.filter((e) => e[0].startsWith('log'));
    assert.deepEqual(logKeys, [['log', '/logs/c0ffee-json.log'], ['log_max_size', '1000000'], ['log_max_files', '3'], ['log_attrs', '{"tag":"web"}']]);
    assert.deepEqual(decode(encodeSpec(entries)), entries);
    const plain = containerSpecEntries(spec()).filter((e) => e[0].startsWith('log'));
    assert.deepEqual(plain, [['log', '/logs/c0ffee-json.log']], 'no rotation entries without a max size');
    const none = containerSpecEntries(spec({ logPath: undefined, logMaxSizeBytes: 5, logMaxFiles: 2 })).filter((e) => e[0].startsWith('log'));
    assert.deepEqual(none, []);
  });

  test('an unlimited rlimit (-1) is passed through as -1', () => {
    const r = containerSpecEntries(spec({ rlimits: [{ resource: 4, soft: -1, hard: -1 }] })).filter((e) => e[0] === 'rlimit');
    assert.deepEqual(r, [['rlimit', '4', '-1', '-1']]);
  });
});

describe('execSpecEntries', () => {
  test('an exec spec names the target pid and carries only process fields', () => {
    const s: ExecRuntimeSpec = {
      id: 'c0ffee', targetPid: 4242, args: ['ls', '/'], env: ['PATH=/bin'], cwd: '/tmp', uid: 0, gid: 0, groups: [],
      capsMask: 0n, noNewPrivs: false, tty: true, stdin: true, exitFile: '/e', socket: '/s', cgroupProcs: [], cgroupSelf: [],
    };
    const entries = execSpecEntries(s);
    assert.deepEqual(entries.slice(0, 3), [['version', '3'], ['id', 'c0ffee'], ['target_pid', '4242']]);
    const keys = new Set(entries.map((e) => e[0]));
    for (const runOnly of ['rootfs', 'overlay', 'ns', 'mount', 'log']) assert.ok(!keys.has(runOnly), runOnly);
    assert.deepEqual(entries.filter((e) => e[0] === 'caps'), [['caps', '0']]);
    assert.deepEqual(entries.filter((e) => e[0] === 'tty'), [['tty', '1']]);
    assert.deepEqual(decode(encodeSpec(entries)), entries);
  });
});

describe('rlimitNumber', () => {
  const cases: Array<[string, number]> = [['cpu', 0], ['core', 4], ['nproc', 6], ['nofile', 7], ['NOFILE', 7], ['memlock', 8], ['rttime', 15]];
  for (const [name, n] of cases) test(`${name} is RLIMIT ${n}`, () => assert.equal(rlimitNumber(name), n));
  test('an unknown ulimit is a usage error listing the known ones', () => {
    assert.throws(() => rlimitNumber('files'), (e: unknown) => isCode('USAGE', /unknown ulimit "files"/)(e)
      && /nofile/.test((e as { hint?: string }).hint ?? ''));
  });
});
