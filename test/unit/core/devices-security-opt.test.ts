import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerCreateOptions } from 'dockerode';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../../src/cli/args.js';
import { buildCreateBody, CREATE_FLAGS } from '../../../src/cli/commands/containers.js';
import { specFromDockerCreate } from '../../../src/api/docker/create-body.js';
import { inspectContainer } from '../../../src/api/docker/container-inspect.js';
import { resolveContainerSpec } from '../../../src/engine/containers/container-spec.js';
import { isCode } from './helpers.js';

const cliBody = (argv: string[]) => buildCreateBody(parseArgs(argv, CREATE_FLAGS, { stopAfterPositionals: 1 })).body;
const host = (hc: ContainerCreateOptions['HostConfig']) =>
  resolveContainerSpec(specFromDockerCreate({ body: { Image: 'img', HostConfig: hc } }), { id: 'sha256:abc', config: { Cmd: ['sh'] } }).host;

describe('--device', () => {
  test("the CLI reads Docker's HOST[:CONTAINER][:PERMS] forms", () => {
    const devices = cliBody(['--device', '/dev/null', '--device', '/dev/null:/dev/mynull', '--device', '/dev/zero:r',
      '--device=/dev/full:/dev/f:rw', 'busybox']).HostConfig?.Devices;
    assert.deepEqual(devices, [
      { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' },
      { PathOnHost: '/dev/zero', PathInContainer: '/dev/zero', CgroupPermissions: 'r' },
      { PathOnHost: '/dev/full', PathInContainer: '/dev/f', CgroupPermissions: 'rw' },
    ]);
    assert.throws(() => cliBody(['--device', '/a:/b:rw:x', 'busybox']), isCode('USAGE', /invalid device specification/));
  });

  test('the API body becomes typed host settings; defaults are the host path and rwm; none means none', () => {
    assert.deepEqual(host({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }] }).devices,
      [{ pathOnHost: '/dev/null', pathInContainer: '/dev/mynull', cgroupPermissions: 'rw' }]);
    assert.deepEqual(host({ Devices: [{ PathOnHost: '/dev/zero' }] }).devices,
      [{ pathOnHost: '/dev/zero', pathInContainer: '/dev/zero', cgroupPermissions: 'rwm' }]);
    assert.equal('devices' in host({}), false);
    assert.equal('devices' in host({ Devices: [] }), false);
  });

  test('bad permissions, relative paths, missing paths and non-device files are refused at create', () => {
    assert.throws(() => host({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'rx' }] }),
      isCode('INVALID_ARGUMENT', /invalid device permissions "rx"/));
    assert.throws(() => host({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'rrw' }] }), isCode('INVALID_ARGUMENT'));
    assert.throws(() => host({ Devices: [{ PathOnHost: 'dev/null' }] }), isCode('INVALID_ARGUMENT', /host path must be absolute/));
    assert.throws(() => host({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: 'n' }] }), isCode('INVALID_ARGUMENT', /container path must be absolute/));
    assert.throws(() => host({ Devices: [{ PathOnHost: '/dev/no-such-device-here' }] }), isCode('INVALID_ARGUMENT', /"\/dev\/no-such-device-here": ENOENT/));
    assert.throws(() => host({ Devices: [{ PathOnHost: '/etc/hostname' }] }), isCode('INVALID_ARGUMENT', /"\/etc\/hostname" is not a device node/));
  });
});

describe('--security-opt', () => {
  test("no-new-privileges in Docker's spellings; false turns it off; the CLI passes the list through", () => {
    for (const opt of ['no-new-privileges', 'no-new-privileges:true', 'no-new-privileges=true', 'no-new-privileges=1']) {
      assert.equal(host({ SecurityOpt: [opt] }).noNewPrivileges, true, opt);
    }
    assert.equal(host({ SecurityOpt: ['no-new-privileges', 'no-new-privileges=false'] }).noNewPrivileges, undefined);
    assert.equal(host({}).noNewPrivileges, undefined);
    assert.deepEqual(cliBody(['--security-opt', 'no-new-privileges', 'busybox']).HostConfig?.SecurityOpt, ['no-new-privileges']);
  });

  test('seccomp: unconfined, builtin or a profile\'s JSON (checked at create); no option = the default', () => {
    assert.deepEqual(host({ SecurityOpt: ['seccomp=unconfined'] }).seccomp, { kind: 'unconfined' });
    assert.deepEqual(host({ SecurityOpt: ['seccomp:unconfined'] }).seccomp, { kind: 'unconfined' });
    assert.equal(host({ SecurityOpt: ['seccomp=builtin'] }).seccomp, undefined);
    assert.equal('seccomp' in host({}), false);
    assert.equal('securityOpt' in host({}), false);
    const json = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}';
    const h = host({ SecurityOpt: [`seccomp=${json}`, 'no-new-privileges'] });
    assert.deepEqual(h.seccomp, { kind: 'profile', json });
    assert.deepEqual(h.securityOpt, [`seccomp=${json}`, 'no-new-privileges'], 'kept as given, for inspect');
    assert.throws(() => host({ SecurityOpt: ['seccomp=/etc/profile.json'] }), isCode('SECCOMP_PROFILE_INVALID', /expected the profile's JSON/));
    assert.throws(() => host({ SecurityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOPE"}]}'] }),
      isCode('SECCOMP_PROFILE_INVALID', /syscalls\[0\]\.action/));
  });

  test('the CLI reads seccomp=FILE and sends its JSON in one line; unconfined passes as is; a missing file is a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-seccomp-'));
    try {
      writeFileSync(join(dir, 'p.json'), '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "comment": "a b"\n}\n');
      assert.deepEqual(cliBody(['--security-opt', `seccomp=${join(dir, 'p.json')}`, 'busybox']).HostConfig?.SecurityOpt, ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","comment":"a b"}']);
      assert.deepEqual(cliBody(['--security-opt', 'seccomp=unconfined', 'busybox']).HostConfig?.SecurityOpt, ['seccomp=unconfined']);
      assert.throws(() => cliBody(['--security-opt', `seccomp=${join(dir, 'none.json')}`, 'busybox']), isCode('USAGE', /cannot read the profile: ENOENT/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('asking for no AppArmor/SELinux profile is accepted; a profile gantry cannot apply, or an unknown option, is refused', () => {
    assert.equal(host({ SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'label=disable', 'label:disable'] }).noNewPrivileges, undefined);
    assert.throws(() => host({ SecurityOpt: ['apparmor=docker-default'] }), isCode('UNSUPPORTED', /no apparmor profile/));
    assert.throws(() => host({ SecurityOpt: ['no-new-privileges=maybe'] }), isCode('INVALID_ARGUMENT', /invalid --security-opt 2/));
    assert.throws(() => host({ SecurityOpt: ['bogus'] }), isCode('INVALID_ARGUMENT', /invalid --security-opt 1/));
    assert.throws(() => host({ SecurityOpt: ['bogus=1'] }), isCode('INVALID_ARGUMENT', /invalid --security-opt 2/));
  });
});

test('inspect shows HostConfig.Devices and SecurityOpt as Docker does ([] and null when none)', () => {
  const h = host({ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' }], SecurityOpt: ['no-new-privileges'] });
  const rec = { id: 'a'.repeat(64), name: 'x', created: '', config: { entrypoint: [], cmd: ['sh'], env: [], exposedPorts: [], labels: {} }, host: h, state: { status: 'created' } };
  const info = inspectContainer(rec as unknown as Parameters<typeof inspectContainer>[0], { dir: '/d', logPath: '/d/log', volumeDir: (n) => n });
  assert.deepEqual(info.HostConfig.Devices, [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' }]);
  assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
  const plain = inspectContainer({ ...rec, host: host({}) } as unknown as Parameters<typeof inspectContainer>[0], { dir: '/d', logPath: '/d/log', volumeDir: (n) => n });
  assert.deepEqual(plain.HostConfig.Devices, []);
  assert.equal(plain.HostConfig.SecurityOpt, null);
});
