import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSize, shellSplit } from '../../../src/stack/units.js';
import { parsePortShort, parseVolumeShort, SyntaxProblem } from '../../../src/stack/short-syntax.js';

test('memory sizes in bytes (binary units)', () => {
  assert.equal(parseSize('512m'), 512 * 1024 ** 2);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.equal(parseSize('1.5k'), 1536);
  assert.equal(parseSize('100'), 100);
  assert.equal(parseSize('64mb'), 64 * 1024 ** 2);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('lots'), undefined);
});

test('commands split like a shell', () => {
  assert.deepEqual(shellSplit(`nginx -g 'daemon off;'`), ['nginx', '-g', 'daemon off;']);
  assert.deepEqual(shellSplit(`sh -c "echo \\"hi\\" && ls"`), ['sh', '-c', 'echo "hi" && ls']);
  assert.deepEqual(shellSplit('  a\\ b   c '), ['a b', 'c']);
  assert.deepEqual(shellSplit(`''`), ['']);
  assert.equal(shellSplit(`echo 'open`), undefined);
});

test('short port syntax', () => {
  assert.deepEqual(parsePortShort('80'), [{ target: 80, published: undefined, host_ip: undefined, protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort(80), [{ target: 80, published: undefined, host_ip: undefined, protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort('8080:80'), [{ target: 80, published: '8080', host_ip: undefined, protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort('127.0.0.1:53:53/udp'), [{ target: 53, published: '53', host_ip: '127.0.0.1', protocol: 'udp' }]);
  assert.deepEqual(parsePortShort('[::1]:8080:80'), [{ target: 80, published: '8080', host_ip: '::1', protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort('127.0.0.1::80'), [{ target: 80, published: undefined, host_ip: '127.0.0.1', protocol: 'tcp' }]);
  assert.deepEqual(parsePortShort('9000-9001:8000-8001').map((p) => [p.published, p.target]), [['9000', 8000], ['9001', 8001]]);
  assert.deepEqual(parsePortShort('9000-9010:80').map((p) => [p.published, p.target]), [['9000-9010', 80]]);
  for (const bad of ['abc', '80/xyz', '1:2:3:4', '70000', '8000-8001:90-92', '0']) {
    assert.throws(() => parsePortShort(bad), SyntaxProblem, bad);
  }
});

test('short volume syntax', () => {
  assert.deepEqual(parseVolumeShort('/data'), { type: 'volume', source: undefined, target: '/data', read_only: false, propagation: undefined, selinux: undefined, nocopy: false });
  assert.equal(parseVolumeShort('./d:/d').type, 'bind');
  assert.equal(parseVolumeShort('~/d:/d').type, 'bind');
  assert.equal(parseVolumeShort('named:/d').type, 'volume');
  const v = parseVolumeShort('/h:/c:ro,z,rshared');
  assert.equal(v.read_only, true);
  assert.equal(v.selinux, 'z');
  assert.equal(v.propagation, 'rshared');
  assert.equal(parseVolumeShort('n:/c:nocopy').nocopy, true);
  assert.throws(() => parseVolumeShort('/h:/c:bogus'), SyntaxProblem);
  assert.throws(() => parseVolumeShort('a:b:c:d'), SyntaxProblem);
});

test('short volume syntax: a Windows drive in the source is a host path, a one-letter volume name stays a volume', () => {
  const table: Array<[string, string, string | undefined, string, boolean]> = [
    // spec, type, source, target, read_only
    ['C:\\data:/data', 'bind', 'C:\\data', '/data', false],
    ['C:/data:/data:ro', 'bind', 'C:/data', '/data', true],
    ['d:\\x\\y:/y:ro', 'bind', 'd:\\x\\y', '/y', true],
    ['a:/data', 'volume', 'a', '/data', false],
    ['a:/data:ro', 'volume', 'a', '/data', true],
  ];
  for (const [spec, type, source, target, ro] of table) {
    const v = parseVolumeShort(spec);
    assert.deepEqual([v.type, v.source, v.target, v.read_only], [type, source, target, ro], spec);
  }
});
