// The pure and local parts of RUN --mount and build secrets: cache mount dirs and their sharing, mount targets,
// what mounts add to a step's key (a secret's presence, never its value), the mount stubs left out of a layer,
// `--secret` parsing and the X-Gantry-Build-Secrets header.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { CacheMounts, type CacheMountLease } from '../../../src/engine/build/cache-mounts.js';
import { BuildCache } from '../../../src/engine/build/cache.js';
import { walkContext } from '../../../src/engine/build/context.js';
import { cacheMountKey, mountsDigest, mountTarget } from '../../../src/engine/build/run-mounts.js';
import { parseMount } from '../../../src/engine/build/mounts.js';
import type { RunMount } from '../../../src/engine/build/model.js';
import { runtimeMountpointsIn, upperChanges } from '../../../src/engine/snapshot/changes.js';
import { parseSecrets, secretsHeader } from '../../../src/cli/commands/build.js';
import { buildSecrets } from '../../../src/api/routes/build.js';

const scratch = mkdtempSync(join(tmpdir(), 'gantry-run-mounts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const mount = (text: string): RunMount => {
  const r = parseMount(text);
  if (!('mount' in r)) throw new Error(r.problem);
  return r.mount;
};
const owner = { mode: 0o755, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

describe('cache mount dirs', () => {
  test('one dir per key, kept by a new instance (a restarted daemon); prune removes those not in use', async () => {
    const root = mkdtempSync(join(scratch, 'cm-'));
    const cm = new CacheMounts(join(root, 'build-cache'));
    const a = await cm.acquire('id:go', 'shared', owner);
    assert.equal(a.fresh, true);
    writeFileSync(join(a.dir, 'kept'), 'x');
    a.release();
    const again = await new CacheMounts(join(root, 'build-cache')).acquire('id:go', 'shared', owner);
    assert.equal(again.fresh, false);
    assert.equal(again.dir, a.dir);
    assert.ok(existsSync(join(again.dir, 'kept')));
    const other = await cm.acquire('id:other/with/slashes', 'shared', { ...owner, mode: 0o700 });
    assert.equal(statSync(other.dir).mode & 0o777, 0o700);
    assert.equal(cm.prune(), 1, 'the one in use (other) stays');
    assert.ok(existsSync(other.dir));
    other.release();
    again.release();
  });

  test('shared: at once; locked: one at a time; private: another instance while one is in use', async () => {
    const cm = new CacheMounts(join(mkdtempSync(join(scratch, 'cm-')), 'build-cache'));
    const s1 = await cm.acquire('id:s', 'shared', owner);
    const s2 = await cm.acquire('id:s', 'shared', owner);
    assert.equal(s1.dir, s2.dir);
    const l1 = await cm.acquire('id:l', 'locked', owner);
    let got = false;
    const waiting = cm.acquire('id:l', 'locked', owner).then((l) => { got = true; return l; });
    await new Promise((r) => setImmediate(r));
    assert.equal(got, false, 'the second locked user waits');
    l1.release();
    const second: CacheMountLease = await waiting;
    assert.equal(second.dir, l1.dir);
    const p1 = await cm.acquire('id:p', 'private', owner);
    const p2 = await cm.acquire('id:p', 'private', owner);
    assert.notEqual(p1.dir, p2.dir);
    p1.release();
    const p3 = await cm.acquire('id:p', 'private', owner);
    assert.equal(p3.dir, p1.dir, 'a free instance is reused');
    const aborted = new AbortController();
    const blocked = cm.acquire('id:l', 'locked', owner, aborted.signal);
    aborted.abort(new Error('gone'));
    await assert.rejects(blocked, /gone/);
    for (const l of [s1, s2, second, p2, p3]) l.release();
  });

  test('builder prune of the step cache leaves the cache mounts to CacheMounts', () => {
    const root = mkdtempSync(join(scratch, 'cm-'));
    const cache = new BuildCache(root);
    const cm = new CacheMounts(cache.dir);
    cache.put(`sha256:${'b'.repeat(64)}`, 'sha256:img');
    assert.equal(cache.prune().length, 1);
    assert.ok(existsSync(cm.dir));
  });
});

describe('mount targets and keys', () => {
  test('relative targets are taken from the WORKDIR; / is refused', () => {
    assert.equal(mountTarget('cache', '/app'), '/app/cache');
    assert.equal(mountTarget('/abs/../x', '/app'), '/x');
    assert.equal(mountTarget('c', undefined), '/c');
    assert.throws(() => mountTarget('/', '/app'), (e: unknown) => e instanceof GantryError && /cannot be \//.test(e.message));
  });

  test('a cache key is its id, plus its seed when from= is given', () => {
    assert.equal(cacheMountKey(mount('type=cache,target=/x,id=go') as Extract<RunMount, { type: 'cache' }>, undefined), 'id:go');
    assert.notEqual(cacheMountKey(mount('type=cache,target=/x,id=go,from=img,source=/s') as Extract<RunMount, { type: 'cache' }>, 'sha256:1'),
      cacheMountKey(mount('type=cache,target=/x,id=go,from=img,source=/s') as Extract<RunMount, { type: 'cache' }>, 'sha256:2'));
  });

  test('bind content and a secret\'s presence count in the key; a secret\'s value and tmpfs do not', async () => {
    const ctx = mkdtempSync(join(scratch, 'ctx-'));
    mkdirSync(join(ctx, 'data'));
    writeFileSync(join(ctx, 'data', 'f'), 'one');
    writeFileSync(join(ctx, 'other'), 'x');
    const from = async (): Promise<{ layers: string[]; id: string }> => ({ layers: [], id: 'sha256:stage' });
    const digest = async (mounts: RunMount[], secrets: Map<string, Buffer>): Promise<string | undefined> =>
      mountsDigest(mounts, { listing: await walkContext(ctx), secrets, from });
    const bind = [mount('type=bind,source=data,target=/d')];
    const first = await digest(bind, new Map());
    writeFileSync(join(ctx, 'other'), 'changed');
    assert.equal(await digest(bind, new Map()), first, 'a file outside the bound source does not count');
    writeFileSync(join(ctx, 'data', 'f'), 'two');
    assert.notEqual(await digest(bind, new Map()), first);
    const secret = [mount('type=secret,id=tok')];
    const given = await digest(secret, new Map([['tok', Buffer.from('v1')]]));
    assert.equal(await digest(secret, new Map([['tok', Buffer.from('v2')]])), given);
    assert.ok(!given?.includes('v1'));
    assert.notEqual(await digest(secret, new Map()), given);
    assert.equal(await digest([mount('type=tmpfs,target=/t')], new Map()), undefined);
    assert.match(await digest([mount('type=bind,from=build,source=/out,target=/o')], new Map()) ?? '', /from:sha256:stage:\/out/);
    await assert.rejects(digest([mount('type=bind,source=nope,target=/n')], new Map()), (e: unknown) => e instanceof GantryError && e.code === 'BUILD_SOURCE_NOT_FOUND');
  });
});

describe('mount stubs stay out of the layer', () => {
  test('empty stubs the runtime made for targets, and made parents that hold only stubs; not a dir the step wrote in', async () => {
    const lower = mkdtempSync(join(scratch, 'lower-'));
    const upper = mkdtempSync(join(scratch, 'upper-'));
    mkdirSync(join(lower, 'etc'));
    mkdirSync(join(lower, 'run'));
    mkdirSync(join(upper, 'run', 'secrets'), { recursive: true });
    writeFileSync(join(upper, 'run', 'secrets', 'tok'), '');
    mkdirSync(join(upper, 'var', 'cache', 'apt'), { recursive: true });
    mkdirSync(join(upper, 'work', 'cache'), { recursive: true });
    writeFileSync(join(upper, 'work', 'result'), 'made by the step');
    mkdirSync(join(upper, 'etc'));
    writeFileSync(join(upper, 'etc', 'hosts'), '');
    const hidden = await runtimeMountpointsIn(upper, [lower], ['/run/secrets/tok', '/var/cache/apt', '/work/cache']);
    assert.deepEqual([...hidden].sort(), ['etc', 'etc/hosts', 'run', 'run/secrets', 'run/secrets/tok', 'var', 'var/cache', 'var/cache/apt', 'work/cache']);
    const changes = await upperChanges(upper, [lower], 1000, hidden);
    assert.deepEqual(changes.map((c) => c.Path), ['/work', '/work/result']);
    rmSync(join(upper, 'work'), { recursive: true });
    assert.deepEqual(await upperChanges(upper, [lower], 1000, await runtimeMountpointsIn(upper, [lower], ['/run/secrets/tok', '/var/cache/apt'])), [], 'only stubs: no change');
    assert.deepEqual(readdirSync(upper).sort(), ['etc', 'run', 'var']);
  });
});

describe('build secrets', () => {
  test('--secret: src=FILE, env=VAR, id alone (its variable, else the file), type=; errors name the id, never a value', () => {
    const file = join(scratch, 'secret-file');
    writeFileSync(file, 'file-value');
    const got = parseSecrets([`id=a,src=${file}`, 'id=b,env=B_VAR', 'id=C_ONLY', `id=d,source=${file},type=file`, 'id=e,type=env,src=E_VAR'],
      { B_VAR: 'b-value', C_ONLY: 'c-value', E_VAR: 'e-value' });
    assert.deepEqual(Object.fromEntries([...got].map(([k, v]) => [k, v.toString()])), { a: 'file-value', b: 'b-value', C_ONLY: 'c-value', d: 'file-value', e: 'e-value' });
    assert.throws(() => parseSecrets(['id=x,env=NOT_SET'], {}), /--secret id=x: the environment variable NOT_SET is not set/);
    assert.throws(() => parseSecrets([`id=x,src=${join(scratch, 'missing')}`], {}), /--secret id=x: .*missing is not a file/);
    assert.throws(() => parseSecrets(['src=/etc/hostname'], {}), /id=NAME is missing/);
    assert.throws(() => parseSecrets(['id=x,bogus=1'], {}), /unknown key bogus/);
  });

  test('the header round-trips any bytes; a bad or oversized one is refused without echoing it', () => {
    const secrets = new Map([['tok', Buffer.from('s3cret\n')], ['bin', Buffer.from([0, 255, 10])]]);
    const header = secretsHeader(secrets)['X-Gantry-Build-Secrets'];
    assert.deepEqual(buildSecrets(header), secrets);
    assert.deepEqual(buildSecrets(undefined), new Map());
    assert.deepEqual(secretsHeader(new Map()), {});
    const bad = Buffer.from(JSON.stringify({ '../x': 'eA==' })).toString('base64');
    assert.throws(() => buildSecrets(bad), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT' && !e.message.includes('eA=='));
    assert.throws(() => buildSecrets('x'.repeat(200_000)), (e: unknown) => e instanceof GantryError && e.code === 'TOO_LARGE');
    const big = new Map(Array.from({ length: 2 }, (_, i) => [`s${i}`, Buffer.alloc(60 * 1024, 1)] as const));
    assert.throws(() => secretsHeader(big), /the build's secrets \(s0, s1\) are \d+ bytes encoded/);
  });
});
