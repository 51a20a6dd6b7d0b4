// Docker's config.json as the CLI reads and writes it: docker's keys for Docker Hub, other keys kept, 0600.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authsForImages, dockerConfigPath, removeAuth, saveAuth, storedAuth } from '../../../src/cli/docker-config.js';

test('config.json: found via DOCKER_CONFIG or HOME; login stores base64 user:pass; keys and entries kept; 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-dockercfg-'));
  try {
    assert.equal(dockerConfigPath({ DOCKER_CONFIG: '/x' }), '/x/config.json');
    assert.equal(dockerConfigPath({ HOME: '/home/u' }), '/home/u/.docker/config.json');
    const path = join(dir, 'sub', 'config.json');
    assert.equal(storedAuth('reg:5000', path), undefined);
    saveAuth('reg:5000', 'alice', 'pa:ss', path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { auths: { 'reg:5000': { auth: Buffer.from('alice:pa:ss').toString('base64') } } });

    writeFileSync(path, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: 'aHViOnB3' }, 'reg:5000': { auth: 'old', email: 'e' } }, credsStore: 'desktop', psFormat: 'x' }), { mode: 0o644 });
    saveAuth('https://reg:5000', 'bob', 'pw', path);
    const after = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(after, { auths: { 'https://index.docker.io/v1/': { auth: 'aHViOnB3' }, 'reg:5000': { auth: Buffer.from('bob:pw').toString('base64'), email: 'e' } }, credsStore: 'desktop', psFormat: 'x' });
    assert.equal(statSync(path).mode & 0o777, 0o600, 'rewritten 0600');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['config.json'], 'no temp file left');

    assert.deepEqual(storedAuth('docker.io', path), { auth: 'aHViOnB3', serveraddress: 'docker.io' });
    assert.deepEqual(Object.keys(authsForImages(['nginx', 'reg:5000/a/b:1', 'other:1/x', 'NOT VALID'], path)).sort(), ['docker.io', 'reg:5000']);
    assert.equal(removeAuth('reg:5000', path), true);
    assert.equal(removeAuth('reg:5000', path), false);
    assert.equal(storedAuth('reg:5000', path), undefined);
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as { credsStore: string }).credsStore, 'desktop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('credentials a docker credential helper keeps are read through it (credHelpers first, then credsStore)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-dockercfg-'));
  const oldPath = process.env['PATH'];
  try {
    const helper = (name: string, answer: string): void => {
      writeFileSync(join(dir, `docker-credential-${name}`), `#!/bin/sh\nread server\n[ "$1" = get ] || exit 1\n${answer}\n`, { mode: 0o755 });
    };
    helper('gtest', 'echo "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"helper-user\\",\\"Secret\\":\\"s3cret-for-$server\\"}"');
    helper('store', 'echo \'{"Username":"<token>","Secret":"refresh-token"}\'');
    process.env['PATH'] = `${dir}:${oldPath ?? ''}`;
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ auths: { 'reg:5000': {} }, credHelpers: { 'reg:5000': 'gtest' }, credsStore: 'store' }));
    assert.deepEqual(storedAuth('reg:5000', path), { username: 'helper-user', password: 's3cret-for-reg:5000', serveraddress: 'reg:5000' });
    assert.deepEqual(storedAuth('docker.io', path), { identitytoken: 'refresh-token', serveraddress: 'docker.io' });
    writeFileSync(path, JSON.stringify({ credsStore: 'missing-helper' }));
    assert.equal(storedAuth('reg:5000', path), undefined);
  } finally {
    process.env['PATH'] = oldPath;
    rmSync(dir, { recursive: true, force: true });
  }
});
