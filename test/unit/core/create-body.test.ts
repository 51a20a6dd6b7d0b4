import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import { parseBind, specFromDockerCreate } from '../../../src/api/docker/create-body.js';
import { mergeEnv, resolveContainerSpec } from '../../../src/engine/containers/container-spec.js';
import type { ImageRuntimeConfig } from '../../../src/engine/containers/deps.js';
import { isCode, removeDir, tempDir } from './helpers.js';

const NGINX: ImageRuntimeConfig = {
  Entrypoint: ['/docker-entrypoint.sh'], Cmd: ['nginx', '-g', 'daemon off;'],
  Env: ['PATH=/usr/local/sbin:/usr/bin:/bin', 'NGINX_VERSION=1.25.3'], WorkingDir: '/srv', StopSignal: 'SIGQUIT',
  ExposedPorts: { '80/tcp': {} }, Labels: { maintainer: 'nginx', tier: 'image' },
};
const BUSYBOX: ImageRuntimeConfig = { Cmd: ['sh'], Env: ['PATH=/bin'] };
const SCRATCH: ImageRuntimeConfig = {};

// A Docker create body through the API's mapping and the engine's resolution against the image, as a request takes.
const create = (body: ContainerCreateOptions, config: ImageRuntimeConfig = NGINX, name?: string) =>
  resolveContainerSpec(specFromDockerCreate({ name, body: { Image: 'img', ...body } }), { id: 'sha256:abc', config });

describe('validateCreate: command resolution (docker rules)', () => {
  test('nothing given: the image entrypoint and cmd', () => {
    const v = create({});
    assert.deepEqual(v.config.entrypoint, ['/docker-entrypoint.sh']);
    assert.deepEqual(v.config.cmd, ['nginx', '-g', 'daemon off;']);
  });

  test('a Cmd replaces the image Cmd and keeps its Entrypoint', () => {
    const v = create({ Cmd: ['nginx', '-T'] });
    assert.deepEqual(v.config.entrypoint, ['/docker-entrypoint.sh']);
    assert.deepEqual(v.config.cmd, ['nginx', '-T']);
  });

  test('an empty Cmd list counts as no Cmd', () => {
    assert.deepEqual(create({ Cmd: [] }).config.cmd, ['nginx', '-g', 'daemon off;']);
  });

  test('a given Entrypoint resets the image Cmd', () => {
    const v = create({ Entrypoint: ['/bin/sh'] });
    assert.deepEqual(v.config.entrypoint, ['/bin/sh']);
    assert.deepEqual(v.config.cmd, []);
  });

  test('Entrypoint and Cmd both given: both used', () => {
    const v = create({ Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'] });
    assert.deepEqual([...v.config.entrypoint, ...v.config.cmd], ['/bin/sh', '-c', 'echo hi']);
  });

  test('a string Entrypoint or Cmd (allowed by the API) becomes a one-element list', () => {
    const v = create({ Entrypoint: '/bin/true' as unknown as string[] });
    assert.deepEqual(v.config.entrypoint, ['/bin/true']);
  });

  test('no command anywhere: "no command specified"', () => {
    assert.throws(() => create({}, SCRATCH), isCode('INVALID_ARGUMENT', /no command specified/));
  });

  test('a scratch image runs a command given by the user', () => {
    assert.deepEqual(create({ Cmd: ['/hello'] }, SCRATCH).config.cmd, ['/hello']);
  });

  test('a non-string Cmd element is rejected', () => {
    assert.throws(() => create({ Cmd: ['ls', 3 as unknown as string] }), isCode('INVALID_ARGUMENT', /Cmd must be a list of strings/));
  });
});

describe('validateCreate: environment', () => {
  test('image env first, a user KEY replaces the image value in place, new keys follow', () => {
    const v = create({ Env: ['NGINX_VERSION=custom', 'EXTRA=1', 'PATH=/opt/bin'] });
    assert.deepEqual(v.config.env, ['PATH=/opt/bin', 'NGINX_VERSION=custom', 'EXTRA=1']);
  });

  test('a value may contain = and be empty', () => {
    assert.deepEqual(create({ Env: ['A=b=c', 'EMPTY='] }, BUSYBOX).config.env, ['PATH=/bin', 'A=b=c', 'EMPTY=']);
  });

  for (const bad of ['NOEQUALS', '=value']) {
    test(`"${bad}" is not KEY=VALUE`, () => {
      assert.throws(() => create({ Env: [bad] }), isCode('INVALID_ARGUMENT', /invalid environment variable/));
    });
  }

  test('mergeEnv: the last definition of a key wins', () => {
    assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'A=4', 'B=5']), ['A=4', 'B=5']);
  });
});

describe('parseBind', () => {
  const ok: Array<[string, { type: 'bind' | 'volume'; source: string; target: string; readOnly: boolean }]> = [
    ['/a:/b', { type: 'bind', source: '/a', target: '/b', readOnly: false }],
    ['/a:/b:ro', { type: 'bind', source: '/a', target: '/b', readOnly: true }],
    ['/a:/b:rw', { type: 'bind', source: '/a', target: '/b', readOnly: false }],
    ['/a:/b:ro,z', { type: 'bind', source: '/a', target: '/b', readOnly: true }],
    ['data:/var/lib/data', { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: false }],
    ['data:/var/lib/data:ro', { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: true }],
  ];
  for (const [spec, want] of ok) test(`"${spec}"`, () => assert.deepEqual(parseBind(spec), want));

  const bad: Array<[string, RegExp]> = [
    ['/only', /invalid volume spec/], [':/b', /invalid volume spec/], ['/a:', /invalid volume spec/],
    ['/a:/b:ro:x', /invalid volume spec/], ['/a:/b:rx', /invalid mode "rx"/], ['/a:/b:ro,bogus', /invalid mode/],
    ['/a:relative', /target must be an absolute path/], ['data:data', /target must be an absolute path/],
  ];
  for (const [spec, re] of bad) {
    test(`"${spec}" is rejected`, () => assert.throws(() => parseBind(spec), isCode('INVALID_ARGUMENT', re)));
  }
});

describe('validateCreate: mounts', () => {
  let dir = '';
  before(() => { dir = tempDir(); });
  after(() => removeDir(dir));

  test('an existing bind source is accepted; a named volume needs no host path', () => {
    const v = create({ HostConfig: { Binds: [`${dir}:/host:ro`, 'cache:/cache'] } });
    assert.deepEqual(v.host.mounts, [
      { type: 'bind', source: dir, target: '/host', readOnly: true },
      { type: 'volume', source: 'cache', target: '/cache', readOnly: false },
    ]);
  });

  test('a missing bind source is BIND_SOURCE_MISSING naming the path', () => {
    const missing = join(dir, 'does-not-exist');
    assert.throws(() => create({ HostConfig: { Binds: [`${missing}:/x`] } }), isCode('BIND_SOURCE_MISSING', new RegExp(missing)));
  });

  test('two mounts on one target are rejected', () => {
    assert.throws(() => create({ HostConfig: { Binds: [`${dir}:/data`, 'vol:/data'] } }), isCode('INVALID_ARGUMENT', /duplicate mount point: \/data/));
    assert.throws(() => create({ HostConfig: { Binds: ['vol:/run'], Tmpfs: { '/run': '' } } }), isCode('INVALID_ARGUMENT', /duplicate mount point: \/run/));
  });

  test('--tmpfs entries become tmpfs mounts with their options', () => {
    const v = create({ HostConfig: { Tmpfs: { '/run': 'size=64m,mode=1777', '/tmp': '' } } });
    assert.deepEqual(v.host.mounts, [
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, tmpfsOptions: 'size=64m,mode=1777' },
      { type: 'tmpfs', source: '', target: '/tmp', readOnly: false, tmpfsOptions: '' },
    ]);
  });

  test('a relative tmpfs target is rejected', () => {
    assert.throws(() => create({ HostConfig: { Tmpfs: { run: '' } } }), isCode('INVALID_ARGUMENT', /tmpfs target "run" must be an absolute path/));
  });

  test('Mounts of type tmpfs carry size and an octal mode', () => {
    const v = create({ HostConfig: { Mounts: [{ Type: 'tmpfs', Source: '', Target: '/scratch', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } }] } });
    assert.deepEqual(v.host.mounts, [{ type: 'tmpfs', source: '', target: '/scratch', readOnly: false, tmpfsOptions: 'size=1048576,mode=1777' }]);
  });

  test('Mounts: unsupported type and relative target are rejected', () => {
    assert.throws(() => create({ HostConfig: { Mounts: [{ Type: 'npipe' as 'bind', Source: '', Target: '/x' }] } }), isCode('INVALID_ARGUMENT', /unsupported mount type "npipe"/));
    assert.throws(() => create({ HostConfig: { Mounts: [{ Type: 'volume', Source: 'v', Target: 'x' }] } }), isCode('INVALID_ARGUMENT', /must be an absolute path/));
  });

  test('Volumes without a mount become anonymous volumes; those with a mount do not', () => {
    const v = create({ Volumes: { '/data': {}, '/cache': {} }, HostConfig: { Binds: ['named:/cache'] } });
    assert.deepEqual(v.anonymousVolumeTargets, ['/data']);
  });

  test('a bare absolute target in Binds is an anonymous volume (docker-py volumes=[\'/x\']); a bare name is refused', () => {
    const v = create({ HostConfig: { Binds: ['/scratch', 'named:/cache'] } });
    assert.deepEqual(v.anonymousVolumeTargets, ['/scratch']);
    assert.deepEqual(v.host.mounts.map((m) => m.target), ['/cache']);
    assert.throws(() => create({ HostConfig: { Binds: ['scratch'] } }), isCode('INVALID_ARGUMENT', /invalid volume spec "scratch"/));
  });
});

describe('validateCreate: limits, policies and names', () => {
  test('memory below 6 MB is rejected; 6 MB and 0 (no limit) are fine', () => {
    assert.throws(() => create({ HostConfig: { Memory: 6 * 1024 * 1024 - 1 } }), isCode('INVALID_ARGUMENT', /minimum memory limit allowed is 6MB/));
    assert.equal(create({ HostConfig: { Memory: 6 * 1024 * 1024 } }).host.memoryBytes, 6 * 1024 * 1024);
    assert.equal(create({ HostConfig: { Memory: 0 } }).host.memoryBytes, 0);
    assert.throws(() => create({ HostConfig: { Memory: -1 } }), isCode('INVALID_ARGUMENT', /invalid memory limit/));
  });

  test('memory+swap: -1 (unlimited) and a value at or above memory are kept', () => {
    assert.equal(create({ HostConfig: { Memory: 64 * 1024 * 1024, MemorySwap: -1 } }).host.memorySwapBytes, -1);
    assert.equal(create({ HostConfig: { Memory: 64 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024 } }).host.memorySwapBytes, 128 * 1024 * 1024);
  });

  test('memory+swap below the memory limit is rejected at create, like docker (not later at start)', () => {
    assert.throws(() => create({ HostConfig: { Memory: 64 * 1024 * 1024, MemorySwap: 32 * 1024 * 1024 } }),
      isCode('INVALID_ARGUMENT', /memory ?swap|memory\+swap/i));
  });

  test('memory+swap without a memory limit is rejected at create, like docker (not silently ignored)', () => {
    assert.throws(() => create({ HostConfig: { MemorySwap: 128 * 1024 * 1024 } }), isCode('INVALID_ARGUMENT', /memory/i));
  });

  test('CpuQuota/CpuPeriod become nano-CPUs when NanoCpus is not given', () => {
    assert.equal(create({ HostConfig: { CpuQuota: 50_000, CpuPeriod: 100_000 } }).host.nanoCpus, 500_000_000);
    assert.equal(create({ HostConfig: { NanoCpus: 1_500_000_000 } }).host.nanoCpus, 1_500_000_000);
  });

  test('--rm with a restart policy is rejected; --rm with "no" is fine', () => {
    assert.throws(() => create({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), isCode('INVALID_ARGUMENT', /--restart and --rm/));
    assert.throws(() => create({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } }), isCode('INVALID_ARGUMENT'));
    assert.equal(create({ HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'no' } } }).host.autoRemove, true);
  });

  test('restart policy: name and retry count kept; empty name is "no"; unknown name rejected', () => {
    assert.deepEqual(create({ HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } }).host.restartPolicy, { name: 'on-failure', maximumRetryCount: 3 });
    assert.deepEqual(create({ HostConfig: { RestartPolicy: { Name: '' } } }).host.restartPolicy, { name: 'no', maximumRetryCount: 0 });
    assert.throws(() => create({ HostConfig: { RestartPolicy: { Name: 'sometimes' } } }), isCode('INVALID_ARGUMENT', /invalid restart policy "sometimes"/));
  });

  test('valid names, with or without a leading slash', () => {
    assert.equal(create({}, NGINX, 'web').name, 'web');
    assert.equal(create({}, NGINX, '/web_1.a-b').name, 'web_1.a-b');
    assert.equal(create({}, NGINX, undefined).name, undefined);
  });

  for (const bad of ['a', '-web', '_web', 'has space', 'a/b', 'wéb', 'x:y']) {
    test(`name "${bad}" is rejected`, () => assert.throws(() => create({}, NGINX, bad), isCode('INVALID_ARGUMENT', /invalid container name/)));
  }

  test('an unknown capability or ulimit is a usage error; an invalid stop signal too', () => {
    assert.throws(() => create({ HostConfig: { CapAdd: ['FLY'] } }), isCode('USAGE', /unknown capability "FLY"/));
    assert.throws(() => create({ HostConfig: { CapDrop: ['NOPE'] } }), isCode('USAGE', /unknown capability "NOPE"/));
    assert.throws(() => create({ HostConfig: { Ulimits: [{ Name: 'files', Soft: 1, Hard: 1 }] } }), isCode('USAGE', /unknown ulimit "files"/));
    assert.throws(() => create({ StopSignal: 'SIGNOPE' }), isCode('USAGE', /invalid signal/));
  });

  test('an invalid --ip is rejected, naming the network', () => {
    assert.throws(() => create({ NetworkingConfig: { EndpointsConfig: { front: { IPAMConfig: { IPv4Address: '10.0.0.300' } } } } }),
      isCode('INVALID_ARGUMENT', /invalid IP address "10.0.0.300" for network front/));
  });
});

describe('validateCreate: port bindings', () => {
  test('container port/protocol keys, fixed, random and loopback host ports', () => {
    const v = create({ HostConfig: { PortBindings: {
      '80/tcp': [{ HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }], '443': [{ HostPort: '8443' }, { HostPort: '9443' }],
    } } });
    // (a bare "443" key is integer-like, so JS enumerates it first: compare sorted)
    const sorted = [...v.host.portBindings].sort((a, b) => a.containerPort - b.containerPort || a.hostPort - b.hostPort);
    assert.deepEqual(sorted, [
      { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 0 },
      { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 },
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 8443 },
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 9443 },
    ]);
  });

  test('a key without bindings publishes on a random port', () => {
    const v = create({ HostConfig: { PortBindings: { '8000/tcp': null as unknown as [] } } });
    assert.deepEqual(v.host.portBindings, [{ containerPort: 8000, protocol: 'tcp', hostIp: '', hostPort: 0 }]);
  });

  test('a host port range keeps its end', () => {
    const v = create({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } } });
    assert.deepEqual(v.host.portBindings, [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8000, hostPortEnd: 8010 }]);
  });

  const bad: Array<[Record<string, Array<{ HostPort?: string }>>, RegExp]> = [
    [{ '80/sctp': [] }, /invalid port "80\/sctp"/], [{ http: [] }, /invalid port "http"/],
    [{ '80/tcp': [{ HostPort: '70000' }] }, /invalid host port "70000"/], [{ '80/tcp': [{ HostPort: 'x' }] }, /invalid host port "x"/],
    [{ '80/tcp': [{ HostPort: '8010-8000' }] }, /invalid host port "8010-8000"/],
  ];
  for (const [pb, re] of bad) {
    test(`rejected: ${JSON.stringify(pb)}`, () => assert.throws(() => create({ HostConfig: { PortBindings: pb } }), isCode('INVALID_ARGUMENT', re)));
  }
});

describe('validateCreate: defaults taken from the image and from docker', () => {
  test('working dir, stop signal, labels, exposed ports, network mode, shm size, stop timeout', () => {
    const v = create({ Labels: { tier: 'user', app: 'web' }, ExposedPorts: { '443/tcp': {}, '80/tcp': {} } });
    assert.equal(v.config.workingDir, '/srv');
    assert.equal(v.config.stopSignal, 'SIGQUIT');
    assert.deepEqual(v.config.labels, { maintainer: 'nginx', tier: 'user', app: 'web' });
    assert.deepEqual(v.config.exposedPorts, ['80/tcp', '443/tcp']);
    assert.equal(v.host.networkMode, 'bridge');
    assert.equal(v.host.shmSizeBytes, 64 * 1024 * 1024);
    assert.equal(v.config.stopTimeout, 10);
    assert.equal(v.config.imageId, 'sha256:abc');
  });

  test('a busybox container works in / and stops with SIGTERM', () => {
    const v = create({}, BUSYBOX);
    assert.equal(v.config.workingDir, '/');
    assert.equal(v.config.stopSignal, 'SIGTERM');
  });

  test('healthcheck: durations in ns become ms with docker defaults; NONE disables the image\'s', () => {
    const image: ImageRuntimeConfig = { ...BUSYBOX, Healthcheck: { Test: ['CMD', 'true'], Interval: 5e9 } };
    assert.deepEqual(create({}, image).config.healthcheck,
      { test: ['CMD', 'true'], intervalMs: 5000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5000, retries: 3 });
    assert.equal(create({ Healthcheck: { Test: ['NONE'] } }, image).config.healthcheck, undefined);
    assert.deepEqual(create({ Healthcheck: { Test: ['CMD-SHELL', 'curl -f localhost'], Retries: 5, Timeout: 2e9 } }, image).config.healthcheck,
      { test: ['CMD-SHELL', 'curl -f localhost'], intervalMs: 30_000, timeoutMs: 2000, startPeriodMs: 0, startIntervalMs: 5000, retries: 5 });
  });
});

describe('validateCreate: logging (HostConfig.LogConfig)', () => {
  test('no LogConfig: json-file without options, as Docker', () => {
    // Without max-size the engine's default cap applies, so no container can fill the disk; an explicit one wins.
    assert.deepEqual(create({}).host.logConfig, { type: 'json-file', config: { 'max-size': '10m', 'max-file': '5' } });
    assert.deepEqual(create({ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-file': '2' } } } }).host.logConfig,
      { type: 'json-file', config: { 'max-size': '10m', 'max-file': '2' } });
    assert.deepEqual(create({ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '1g' } } } }).host.logConfig,
      { type: 'json-file', config: { 'max-size': '1g' } });
  });

  test('a json-file config with rotation is kept as given; none is kept', () => {
    assert.deepEqual(create({ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } } } }).host.logConfig,
      { type: 'json-file', config: { 'max-size': '1m', 'max-file': '3' } });
    assert.deepEqual(create({ HostConfig: { LogConfig: { Type: 'none', Config: {} } } }).host.logConfig, { type: 'none', config: {} });
  });

  test('an unsupported driver or a bad option fails the create', () => {
    assert.throws(() => create({ HostConfig: { LogConfig: { Type: 'gelf', Config: {} } } }), isCode('UNSUPPORTED_LOG_DRIVER', /"gelf"/));
    assert.throws(() => create({ HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': 'big' } } } }), isCode('INVALID_ARGUMENT', /max-size/));
  });
});
