// Pure parts of the registry client: reference normalisation and endpoints, WWW-Authenticate, manifests and
// platform selection, X-Registry-Auth, the token cache.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import { normalizeReference, parseReference } from '../../../src/engine/images/reference.js';
import { credentialsOf, decodeRegistryAuth, encodeRegistryAuth } from '../../../src/engine/registry/auth-header.js';
import { apiHost, authKey, isLoopbackHost, loginDomain, splitHostPort } from '../../../src/engine/registry/endpoint.js';
import { MAX_MANIFEST_BYTES, layerKind, parseManifest, parsePlatform, selectManifest, type IndexEntry } from '../../../src/engine/registry/manifest.js';
import { TokenCache } from '../../../src/engine/registry/transport.js';
import { parseWwwAuthenticate } from '../../../src/engine/registry/www-authenticate.js';
import { registrySettingsFromEnv } from '../../../src/engine/registry/settings.js';
import { pullReference } from '../../../src/api/routes/registry.js';

const D = (c: string): string => `sha256:${c.repeat(64)}`;

describe('references and endpoints', () => {
  test('Docker normalisation', () => {
    assert.equal(normalizeReference('nginx'), 'docker.io/library/nginx:latest');
    assert.equal(normalizeReference('team/app:1'), 'docker.io/team/app:1');
    assert.equal(normalizeReference('localhost:5000/x'), 'localhost:5000/x:latest');
    assert.equal(normalizeReference('127.0.0.1:5000/a/b:t'), '127.0.0.1:5000/a/b:t');
    assert.equal(normalizeReference(`busybox@${D('a')}`), `docker.io/library/busybox@${D('a')}`);
    assert.equal(parseReference('index.docker.io/library/nginx').domain, 'docker.io');
  });

  test('Docker Hub is reached at registry-1 and stored under its v1 URL; other hosts as they are', () => {
    assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
    assert.equal(apiHost('127.0.0.1:5000'), '127.0.0.1:5000');
    assert.equal(authKey('docker.io'), 'https://index.docker.io/v1/');
    assert.equal(authKey('reg.example:443'), 'reg.example:443');
    for (const s of [undefined, '', 'docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io']) assert.equal(loginDomain(s), 'docker.io');
    assert.equal(loginDomain('https://Reg.Example:5000/v2/'), 'reg.example:5000');
  });

  test('loopback hosts (plain HTTP allowed without listing them)', () => {
    for (const h of ['localhost:5000', '127.0.0.1', '127.1.2.3:80', '[::1]:5000']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['10.0.0.1:5000', 'localhost.example.com', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
    assert.deepEqual(splitHostPort('[::1]:5000'), { hostname: '::1', port: 5000 });
  });

  test('settings: certs.d under GANTRY_CONFIG (default /etc/gantry), insecure registries from the environment', () => {
    assert.equal(registrySettingsFromEnv({}).certsDir, '/etc/gantry/certs.d');
    const s = registrySettingsFromEnv({ GANTRY_CONFIG: '/cfg', GANTRY_INSECURE_REGISTRIES: 'a:5000, B.example ,' });
    assert.equal(s.certsDir, '/cfg/certs.d');
    assert.deepEqual(s.insecure, ['a:5000', 'b.example']);
  });

  test('fromImage + tag as Docker combines them', () => {
    assert.equal(pullReference('busybox', 'latest'), 'busybox:latest');
    assert.equal(pullReference('busybox', D('b')), `busybox@${D('b')}`);
    assert.equal(pullReference('busybox:1', null), 'busybox:1');
  });
});

describe('WWW-Authenticate', () => {
  test('Docker Hub style bearer challenge', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
    ]);
  });

  test('basic, several challenges, escapes, commas in quotes, token values, odd spacing', () => {
    assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="a,b", scope="x:y:pull,push" , Basic realm=simple'), [
      { scheme: 'bearer', params: { realm: 'a,b', scope: 'x:y:pull,push' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Bearer  REALM = "q\\"uote"'), [{ scheme: 'bearer', params: { realm: 'q"uote' } }]);
    assert.deepEqual(parseWwwAuthenticate(''), []);
  });
});

describe('manifests', () => {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 10 };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('d'), size: 20 };

  test('OCI and Docker v2 schema 2 image manifests; the media type from the document or the header', () => {
    const oci = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })), undefined);
    assert.equal(oci.kind, 'image');
    const docker = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [layer] })), 'application/vnd.docker.distribution.manifest.v2+json; charset=utf-8');
    assert.equal(docker.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  });

  test('indexes and manifest lists', () => {
    const list = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [{ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: D('e'), size: 1, platform: { os: 'linux', architecture: 'amd64' } }] })), undefined);
    assert.equal(list.kind, 'index');
  });

  test('refused: too large, not JSON, schema 1, bad descriptors', () => {
    const code = (f: () => unknown): string => { try { f(); } catch (e) { return (e as GantryError).code; } return 'none'; };
    assert.equal(code(() => parseManifest(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), undefined)), 'TOO_LARGE');
    assert.equal(code(() => parseManifest(Buffer.from('{'), undefined)), 'INVALID_IMAGE_ARCHIVE');
    assert.equal(code(() => parseManifest(Buffer.from('{"schemaVersion":1}'), undefined)), 'UNSUPPORTED');
    assert.equal(code(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { ...config, digest: 'md5:x' }, layers: [] })), undefined)), 'INVALID_IMAGE_ARCHIVE');
    assert.equal(code(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [{ ...layer, size: -1 }] })), undefined)), 'INVALID_IMAGE_ARCHIVE');
  });

  test('layer kinds: gzip, tar, zstd (the zstd program is installed); foreign layers refused with a clear error', () => {
    assert.equal(layerKind(layer), 'gzip');
    assert.equal(layerKind({ ...layer, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }), 'gzip');
    assert.equal(layerKind({ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar' }), 'tar');
    assert.equal(layerKind({ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }), 'zstd');
    assert.throws(() => layerKind({ ...layer, urls: ['http://x/y'] } as never), /foreign layer/);
    assert.throws(() => layerKind({ ...layer, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }), /does not fetch foreign layer URLs/);
  });
});

describe('platforms', () => {
  const entry = (platform: IndexEntry['platform'], c: string): IndexEntry => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D(c), size: 1, platform });
  const index = [
    entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, '1'),
    entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, '2'),
    entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }, '3'),
    entry({ os: 'linux', architecture: 'amd64' }, '4'),
    entry({ os: 'unknown', architecture: 'unknown' }, '5'),
    entry({ os: 'windows', architecture: 'amd64' }, '6'),
  ];

  test('parse and normalise', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64', variant: undefined });
    assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
    assert.deepEqual(parsePlatform('x86_64'), { os: 'linux', architecture: 'amd64', variant: undefined });
    assert.throws(() => parsePlatform('linux/'), /invalid platform/);
  });

  test('selection: exact variant, arm64 without variant, amd64 by default; none names what is offered', () => {
    assert.equal(selectManifest(index, parsePlatform('linux/amd64')).digest, D('4'));
    assert.equal(selectManifest(index, parsePlatform('linux/arm/v6')).digest, D('1'));
    assert.equal(selectManifest(index, parsePlatform('linux/arm')).digest, D('2'));
    assert.equal(selectManifest([entry({ os: 'linux', architecture: 'arm64' }, '7')], parsePlatform('linux/arm64')).digest, D('7'));
    assert.equal(selectManifest(index, parsePlatform('windows/amd64')).digest, D('6'));
    assert.throws(() => selectManifest(index, parsePlatform('linux/s390x')), (e: unknown) => {
      assert.ok(e instanceof GantryError);
      assert.match(e.message, /no matching manifest for linux\/s390x/);
      assert.match(e.hint ?? '', /linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8, linux\/amd64, windows\/amd64/);
      return true;
    });
  });
});

describe('X-Registry-Auth and tokens', () => {
  test('round trip; base64url and base64; the auth member gives user and password', () => {
    const h = encodeRegistryAuth({ username: 'u', password: 'p?>~', serveraddress: 'r:5000' });
    assert.ok(!/[+/=]/.test(h));
    assert.deepEqual(credentialsOf(decodeRegistryAuth(h)), { username: 'u', password: 'p?>~' });
    assert.deepEqual(credentialsOf(decodeRegistryAuth(Buffer.from('{"auth":"YWxpY2U6czNjcjN0Og=="}').toString('base64'))), { username: 'alice', password: 's3cr3t:' });
    assert.equal(credentialsOf(decodeRegistryAuth('e30=')), undefined, '{} is anonymous');
    assert.equal(decodeRegistryAuth(''), undefined);
    assert.throws(() => decodeRegistryAuth('!!!not base64 json'), /X-Registry-Auth/);
    assert.deepEqual(credentialsOf({ identitytoken: 'refresh' }), { identityToken: 'refresh' });
  });

  test('a token is kept until shortly before it expires', () => {
    const c = new TokenCache();
    c.set('k', 'tok', 60, 1_000_000);
    assert.equal(c.get('k', 1_000_000 + 54_000), 'tok');
    assert.equal(c.get('k', 1_000_000 + 56_000), undefined);
    assert.equal(c.get('other', 1_000_000), undefined);
  });
});
