import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatPublishedPorts, parseExposedPort, parsePortSpec, parsePortSpecs, publishAllPorts, toDockerPortMap,
} from '../../../src/engine/network/ports.js';
import { GantryError, exitStatusFor } from '../../../src/common/errors.js';

const usage = (e: unknown): boolean => e instanceof GantryError && e.code === 'USAGE' && exitStatusFor(e) === 2;

describe('port specs', () => {
  test('container port only: random host port on all addresses', () => {
    assert.deepEqual(parsePortSpec('80'), [{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
  });
  test('host:container, udp, ip:host:container, ip::container', () => {
    assert.deepEqual(parsePortSpec('8080:80'), [{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('5353:53/udp'), [{ hostIp: '', hostPort: 5353, containerPort: 53, protocol: 'udp' }]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/TCP'), [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(parsePortSpec('[::1]:8080:80'), [{ hostIp: '::1', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
  });
  test('ranges pair up one to one', () => {
    assert.deepEqual(parsePortSpec('8000-8002:80-82/udp').map((b) => [b.hostPort, b.containerPort, b.protocol]),
      [[8000, 80, 'udp'], [8001, 81, 'udp'], [8002, 82, 'udp']]);
    assert.deepEqual(parsePortSpec('7000-7001').map((b) => [b.hostPort, b.containerPort]), [[0, 7000], [0, 7001]]);
  });
  test('host range for one container port: any free port of the range', () => {
    assert.deepEqual(parsePortSpec('8000-8010:80'), [{ hostIp: '', hostPort: 8000, hostPortEnd: 8010, containerPort: 80, protocol: 'tcp' }]);
  });
  test('invalid specs are usage errors', () => {
    for (const bad of ['', 'abc', '0', '65536', '80/sctp', '80/', ':80', '1.2.3:80:80', '8000-8002:80-81', '90-80',
      'a:b:c:d', '::1:80:80', '[::1:80:80', '127.0.0.1:8080:', 'x.y.z.w:1:2']) {
      assert.throws(() => parsePortSpec(bad), usage, bad);
    }
  });
  test('the same host port twice is refused; different protocol or address is fine', () => {
    assert.throws(() => parsePortSpecs(['8080:80', '8080:81']), usage);
    assert.throws(() => parsePortSpecs(['127.0.0.1:8080:80', '8080:81']), usage);
    assert.throws(() => parsePortSpecs(['8000-8005:80-85', '8005:90']), usage);
    assert.equal(parsePortSpecs(['8080:80', '8080:80/udp', '80', '81']).length, 4);
    assert.equal(parsePortSpecs(['127.0.0.1:8080:80', '127.0.0.2:8080:80']).length, 2);
  });
});

describe('-P and output shapes', () => {
  test('exposed ports expand to random host ports, once each', () => {
    assert.deepEqual(parseExposedPort('53/udp'), { ports: [53], protocol: 'udp' });
    assert.deepEqual(publishAllPorts(['80/tcp', '80', '53/udp', '9000-9001']).map((b) => `${b.containerPort}/${b.protocol}:${b.hostPort}`),
      ['80/tcp:0', '53/udp:0', '9000/tcp:0', '9001/tcp:0']);
    assert.throws(() => publishAllPorts(['http']), usage);
  });
  test('gantry port lines and Docker port map', () => {
    const ports = [
      { hostIp: '', hostPort: 32768, containerPort: 80, protocol: 'tcp' as const },
      { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' as const },
    ];
    assert.deepEqual(formatPublishedPorts(ports), ['53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:32768']);
    assert.deepEqual(toDockerPortMap(ports), {
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    });
  });
});
