// Pull, push and login against a real registry (Debian's docker-registry, distribution 2.8) on loopback, with
// skopeo as the independent client: plain HTTP, htpasswd + TLS from a CA made here, bearer tokens from a token
// server of the test's own, and a proxy that cuts downloads. Each registry and daemon is removed, failure or not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTarball, GANTRY_CMD, TestDaemon } from '../helpers/daemon.js';
import { requires } from '../helpers/privileged.js';
import { CuttingProxy, haveRegistryTools, ociLayout, skopeo, TestRegistry, TokenServer } from '../helpers/registry.js';

const missingTools = haveRegistryTools();
// Removed when the process ends (a file-level after() would run before the later suites here).
const work = mkdtempSync(join(tmpdir(), 'gantry-registry-it-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** The CLI without blocking this process (a proxy or token server of the test must keep answering). */
async function gantryLive(d: TestDaemon, args: string[], input = ''): Promise<{ status: number; stdout: string; stderr: string }> {
  const { proc, done } = d.gantryAsync(args);
  proc.stdin!.end(input);
  return done;
}

async function okLive(d: TestDaemon, args: string[], input = ''): Promise<string> {
  const r = await gantryLive(d, args, input);
  if (r.status !== 0) throw new Error(`gantry ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log:\n${d.logText.slice(-3000)}`);
  return r.stdout;
}

/** `skopeo copy` without blocking this process. */
async function skopeoLive(args: string[]): Promise<void> {
  const { spawn } = await import('node:child_process');
  const p = spawn('/usr/bin/skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const code = await new Promise<number | null>((r) => p.on('close', r));
  if (code !== 0) throw new Error(`skopeo ${args.join(' ')}: ${err}`);
}

function canRun(t: import('node:test').TestContext): boolean {
  if (!requires(t, 'root', 'busybox')) return false;
  if (missingTools !== undefined) {
    if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') assert.fail(missingTools);
    t.skip(missingTools);
    return false;
  }
  return true;
}

/** busybox into `repo:tag` of the registry, by skopeo from an OCI layout. */
function seed(reg: TestRegistry, repo: string, tag: string, creds?: string, extraLayers?: Buffer[]): void {
  const dir = mkdtempSync(join(work, 'oci-'));
  ociLayout(dir, busyboxTarball(), tag, { extraLayers });
  skopeo(['copy', `oci:${dir}:${tag}`, `docker://${reg.host}/${repo}:${tag}`, ...reg.skopeoFlags('dest', creds)]);
}

async function seedLive(reg: TestRegistry, repo: string, tag: string, creds?: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'oci-'));
  ociLayout(dir, busyboxTarball(), tag);
  await skopeoLive(['copy', `oci:${dir}:${tag}`, `docker://${reg.host}/${repo}:${tag}`, ...reg.skopeoFlags('dest', creds)]);
}

/** A tar holding one file of `size` random (incompressible) bytes: a layer no other test has. */
function randomLayer(size: number): Buffer {
  const src = mkdtempSync(join(work, 'layer-'));
  writeFileSync(join(src, 'random.bin'), randomBytes(size));
  return execFileSync('tar', ['-c', '-f', '-', '-C', src, 'random.bin'], { maxBuffer: 64 * 1024 * 1024 });
}

/** The docker CLI, when installed: it talks to gantryd's socket as to dockerd. */
function dockerCli(): string | undefined {
  for (const p of ['/usr/local/bin/docker', '/usr/bin/docker']) if (existsSync(p)) return p;
  return undefined;
}

function docker(d: TestDaemon, args: string[], input = ''): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(dockerCli()!, args, { env: { ...d.env, DOCKER_HOST: `unix://${d.socket}` }, input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function storeFiles(d: TestDaemon): { blobs: string[]; layers: string[] } {
  const list = (p: string): string[] => (existsSync(p) ? readdirSync(p).filter((n) => !n.startsWith('.')) : []);
  return { blobs: list(join(d.root, 'blobs', 'sha256')), layers: list(join(d.root, 'layers')) };
}

describe('registry: plain HTTP on loopback', () => {
  let reg: TestRegistry | undefined;
  let d: TestDaemon | undefined;
  before(async () => {
    if (missingTools !== undefined || process.getuid?.() !== 0) return;
    reg = await TestRegistry.start();
    d = new TestDaemon('registry');
    d.extraEnv = { GANTRY_CONFIG: join(d.dir, 'config'), DOCKER_CONFIG: join(d.dir, 'docker') };
    await d.start();
    seed(reg, 'tools/busybox', 'v1');
  });
  after(async () => { await d?.dispose(); await reg?.dispose(); });

  test('pull of an image skopeo pushed: runs, has RepoDigests; a second pull downloads no layer bytes', async (t) => {
    if (!canRun(t)) return;
    const ref = `${reg!.host}/tools/busybox:v1`;
    const mark = await reg!.mark();
    const out = d!.ok(['pull', ref]);
    assert.match(out, /Pull complete/);
    assert.match(out, /Status: Downloaded newer image/);
    await reg!.sync();
    assert.ok(reg!.blobBytesSent(mark) > 1_000_000, 'the busybox layer came from the registry');
    assert.equal(d!.ok(['run', '--rm', ref, 'echo', 'pulled']).trim(), 'pulled');

    const inspect = JSON.parse(d!.ok(['inspect', ref])) as Array<{ RepoDigests: string[]; RepoTags: string[] }>;
    const skopeoDigest = (JSON.parse(skopeo(['inspect', `docker://${ref}`, ...reg!.skopeoFlags('inspect')])) as { Digest: string }).Digest;
    assert.deepEqual(inspect[0]!.RepoDigests, [`${reg!.host}/tools/busybox@${skopeoDigest}`]);
    assert.match(d!.ok(['images', '--digests']), new RegExp(`tools/busybox +v1 +${skopeoDigest}`));

    const again = await reg!.mark();
    const second = d!.ok(['pull', ref]);
    assert.match(second, /Already exists/);
    assert.match(second, /Image is up to date/);
    await reg!.sync();
    assert.equal(reg!.blobBytesSent(again), 0, 'nothing downloaded the second time');
    assert.deepEqual(reg!.requests(/GET \/v2\/[^ ]+\/blobs\//, again), []);

    // By digest: the same image, no download.
    const byDigest = d!.ok(['pull', `${reg!.host}/tools/busybox@${skopeoDigest}`]);
    assert.match(byDigest, new RegExp(`Digest: ${skopeoDigest}`));
  });

  test('the docker CLI pulls and pushes through gantryd (its own progress rendering of our messages)', async (t) => {
    if (!canRun(t)) return;
    if (dockerCli() === undefined) { t.skip('no docker CLI installed'); return; }
    seed(reg!, 'dockercli/box', 'v1', undefined, [randomLayer(100_000)]);
    const pull = docker(d!, ['pull', `${reg!.host}/dockercli/box:v1`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, /Pull complete/);
    assert.match(pull.stdout, /Status: Downloaded newer image/);
    assert.equal(docker(d!, ['tag', `${reg!.host}/dockercli/box:v1`, `${reg!.host}/dockercli/copy:v2`]).status, 0);
    const push = docker(d!, ['push', `${reg!.host}/dockercli/copy:v2`]);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stdout, /Mounted from dockercli\/box/);
    assert.match(push.stdout, /v2: digest: sha256:[a-f0-9]{64} size: \d+/);
    const missing = docker(d!, ['pull', `${reg!.host}/dockercli/none:v1`]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /not found/);
  });

  test('a multi-platform index (skopeo copy --all): linux/amd64 by default, --platform picks another, a missing one is named', async (t) => {
    if (!canRun(t)) return;
    const dir = mkdtempSync(join(work, 'oci-'));
    ociLayout(dir, busyboxTarball(), 'multi', { platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'amd64' }] });
    skopeo(['copy', '--all', `oci:${dir}:multi`, `docker://${reg!.host}/multi/box:v1`, ...reg!.skopeoFlags('dest')]);
    const indexDigest = (JSON.parse(skopeo(['inspect', '--raw', `docker://${reg!.host}/multi/box:v1`, ...reg!.skopeoFlags('inspect')])) as { manifests: unknown[] }).manifests.length;
    assert.equal(indexDigest, 2);
    d!.ok(['pull', `${reg!.host}/multi/box:v1`]);
    const amd = JSON.parse(d!.ok(['inspect', `${reg!.host}/multi/box:v1`])) as Array<{ Architecture: string; RepoDigests: string[] }>;
    assert.equal(amd[0]!.Architecture, 'amd64');
    d!.ok(['pull', '--platform', 'linux/arm64', `${reg!.host}/multi/box:v1`]);
    const arm = JSON.parse(d!.ok(['inspect', `${reg!.host}/multi/box:v1`])) as Array<{ Architecture: string; Variant?: string; RepoDigests: string[] }>;
    assert.equal(arm[0]!.Architecture, 'arm64');
    const ofRepo = (ds: string[]): string[] => ds.filter((x) => x.startsWith(`${reg!.host}/multi/box@`));
    assert.equal(ofRepo(arm[0]!.RepoDigests).length, 1);
    assert.deepEqual(ofRepo(arm[0]!.RepoDigests), ofRepo(amd[0]!.RepoDigests), 'RepoDigests name the index, as docker does');
    const none = d!.gantry(['pull', '--platform', 'linux/s390x', `${reg!.host}/multi/box:v1`]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no matching manifest for linux\/s390x/);
    assert.match(none.stderr, /linux\/arm64\/v8, linux\/amd64/);
  });

  test('pull of a missing tag and of a missing repository: clear errors, nothing stored', async (t) => {
    if (!canRun(t)) return;
    const before = storeFiles(d!);
    const r = d!.gantry(['pull', `${reg!.host}/tools/busybox:nope`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /manifest for .*busybox:nope not found/);
    assert.deepEqual(storeFiles(d!), before);
  });

  test('zstd layers (copied in by skopeo): pulled, run, saved uncompressed, pushed on with their digest', async (t) => {
    if (!canRun(t)) return;
    const dir = mkdtempSync(join(work, 'oci-'));
    ociLayout(dir, busyboxTarball(), 'z1', { compression: 'zstd' });
    const ref = `${reg!.host}/tools/zbox:z1`;
    skopeo(['copy', `oci:${dir}:z1`, `docker://${ref}`, ...reg!.skopeoFlags('dest')]);
    const raw = JSON.parse(skopeo(['inspect', '--raw', `docker://${ref}`, ...reg!.skopeoFlags('inspect')])) as { layers: Array<{ mediaType: string }> };
    assert.match(raw.layers[0]!.mediaType, /zstd/, 'the registry holds a zstd layer');
    assert.match(d!.ok(['pull', ref]), /Pull complete/);
    assert.equal(d!.ok(['run', '--rm', ref, 'echo', 'from zstd']).trim(), 'from zstd');
    // docker save's format holds uncompressed layer tars: `load` of it gives the same image id.
    const archive = join(work, 'zbox.tar');
    d!.ok(['save', '-o', archive, ref]);
    const id = (JSON.parse(d!.ok(['inspect', ref])) as Array<{ Id: string }>)[0]!.Id;
    d!.ok(['rmi', '-f', ref]);
    assert.match(d!.ok(['load', '-i', archive]), /Loaded image/);
    assert.equal((JSON.parse(d!.ok(['inspect', ref])) as Array<{ Id: string }>)[0]!.Id, id);
    d!.ok(['rmi', '-f', ref]);
    d!.ok(['pull', ref]);
    const other = `${reg!.host}/moved/zbox:z1`;
    d!.ok(['tag', ref, other]);
    d!.ok(['push', other]);
    const moved = JSON.parse(skopeo(['inspect', '--raw', `docker://${other}`, ...reg!.skopeoFlags('inspect')])) as { layers: Array<{ mediaType: string; digest: string }> };
    assert.deepEqual(moved.layers, raw.layers, 'the same zstd blob, by digest');
  });

  test('push: skopeo reads what gantry pushed; an unchanged image uploads nothing; a new repository mounts the blobs', async (t) => {
    if (!canRun(t)) return;
    d!.importBusybox('localbox');
    const ref = `${reg!.host}/mine/box:1`;
    d!.ok(['tag', 'localbox', ref]);
    const mark = await reg!.mark();
    const out = d!.ok(['push', ref]);
    assert.match(out, /Pushed/);
    const pushed = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(out)?.[1];
    assert.ok(pushed, out);
    await reg!.sync();
    assert.ok(reg!.requests(/"PUT \/v2\/mine\/box\/blobs\/uploads\//, mark).length >= 2, 'layer and config uploaded');
    const info = JSON.parse(skopeo(['inspect', `docker://${ref}`, ...reg!.skopeoFlags('inspect')])) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, pushed);
    const local = JSON.parse(d!.ok(['inspect', 'localbox'])) as Array<{ RootFS: { Layers: string[] }; RepoDigests: string[] }>;
    assert.ok(local[0]!.RepoDigests.includes(`${reg!.host}/mine/box@${pushed}`));
    // skopeo copies it out again: the blobs are complete.
    skopeo(['copy', `docker://${ref}`, `dir:${mkdtempSync(join(work, 'dir-'))}`, ...reg!.skopeoFlags('src')]);

    const again = await reg!.mark();
    const second = d!.ok(['push', ref]);
    assert.match(second, /Layer already exists/);
    assert.match(second, new RegExp(`1: digest: ${pushed}`), 'same manifest bytes, same digest');
    await reg!.sync();
    assert.deepEqual(reg!.requests(/"(PUT|PATCH|POST) \/v2\/[^ ]+\/blobs\/uploads/, again), [], 'no blob uploaded');

    const other = `${reg!.host}/elsewhere/box:1`;
    d!.ok(['tag', 'localbox', other]);
    const mount = await reg!.mark();
    const third = d!.ok(['push', other]);
    assert.match(third, /Mounted from mine\/box/);
    await reg!.sync();
    assert.deepEqual(reg!.requests(/"(PUT|PATCH) \/v2\/[^ ]+\/blobs\/uploads/, mount), [], 'mounted, not uploaded');
  });

  test('a pull cut at any byte leaves no blob or layer, and the next pull works; one cut is resumed', async (t) => {
    if (!canRun(t)) return;
    seed(reg!, 'cut/box', 'v1', undefined, [randomLayer(4_000_000)]);
    const proxy = new CuttingProxy(reg!.port);
    await proxy.start();
    try {
      const ref = `${proxy.host}/cut/box:v1`;
      const before = storeFiles(d!);
      // Each attempt resumes where the last one broke (Range): 4 attempts cut at 400 kB do not reach 4 MB.
      for (const at of [300, 70_000, 400_000]) {
        proxy.cutAfter = at;
        proxy.cutsLeft = Infinity;
        const r = await gantryLive(d!, ['pull', ref]);
        assert.equal(r.status, 1, `cut at ${at}: ${r.stdout}`);
        assert.match(r.stdout, /Retrying in/);
        assert.match(r.stderr, /ECONNRESET|aborted|socket hang up|premature/i);
        assert.deepEqual(storeFiles(d!), before, `cut at ${at}: nothing left`);
        assert.equal(d!.gantry(['inspect', ref]).status, 1);
      }
      proxy.cutAfter = 1_500_000;
      proxy.cutsLeft = 1;
      const mark = await reg!.mark();
      const out = await okLive(d!, ['pull', ref]);
      assert.match(out, /Retrying in 1 second \(.*\), resuming at byte \d+/);
      assert.match(out, /Pull complete/);
      await reg!.sync();
      assert.equal(reg!.requests(/"GET \/v2\/cut\/box\/blobs\/sha256:[a-f0-9]{64} HTTP\/1\.1" 206 /, mark).length, 1, 'the rest was asked for with a Range');
      assert.equal(d!.ok(['run', '--rm', ref, 'echo', 'whole']).trim(), 'whole');
    } finally {
      await proxy.dispose();
    }
  });

  test('stack up pulls a missing image; stack pull and push; pull_policy never refuses', async (t) => {
    if (!canRun(t)) return;
    seed(reg!, 'stack/box', 'v1');
    const dir = mkdtempSync(join(work, 'stack-'));
    writeFileSync(join(dir, 'compose.yaml'), `services:\n  app:\n    image: ${reg!.host}/stack/box:v1\n    command: ["sleep", "300"]\n  lazy:\n    image: ${reg!.host}/stack/none:v1\n    pull_policy: never\n    profiles: [lazy]\n`);
    try {
      const up = d!.gantry(['up', '-d', '--project-directory', dir, '-f', join(dir, 'compose.yaml'), '-p', 'regstack']);
      assert.equal(up.status, 0, up.stderr);
      assert.match(up.stderr + up.stdout, /Image .*stack\/box:v1 +Pulled/);
      assert.match(d!.ok(['ps', '--format', 'json']), /regstack-app-1/);
      const files = ['--project-directory', dir, '-f', join(dir, 'compose.yaml'), '-p', 'regstack'];
      assert.match(d!.ok(['stack', ...files, 'pull', 'app']), /Image is up to date/);
      assert.match(d!.ok(['stack', ...files, 'push', 'app']), /Layer already exists/);
      const never = d!.gantry(['up', '-d', '--project-directory', dir, '-f', join(dir, 'compose.yaml'), '-p', 'regstack', '--profile', 'lazy']);
      assert.notEqual(never.status, 0);
      assert.doesNotMatch(never.stderr + never.stdout, /stack\/none:v1 +Pull/);
    } finally {
      d!.gantry(['down', '--project-directory', dir, '-f', join(dir, 'compose.yaml'), '-p', 'regstack']);
    }
  });
  test('on a terminal, pull and push show listr2 tasks with a line per layer, kept when done', async (t) => {
    if (!canRun(t) || !requires(t, 'script')) return;
    seed(reg!, 'tools/ttybox', 'v1', undefined, [randomLayer(3_000_000)]);
    const ref = `${reg!.host}/tools/ttybox:v1`;
    const inTty = (args: string): string => {
      const r = spawnSync('script', ['-qec', `stty cols 120 rows 40; ${GANTRY_CMD} ${args}`, '/dev/null'], { env: d!.env, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      return r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    };
    const pulled = inTty(`pull ${ref}`);
    assert.match(pulled, /✔ Pulled .*tools\/ttybox:v1/);
    assert.match(pulled, /[0-9a-f]{12}: Pull complete/);
    assert.match(pulled, /Digest: sha256:[0-9a-f]{64}/);
    assert.match(pulled, /Status: Downloaded newer image/);
    const other = `${reg!.host}/ttyrepo/ttybox:v1`;
    d!.ok(['tag', ref, other]);
    const pushed = inTty(`push ${other}`);
    assert.match(pushed, /✔ Pushed .*ttyrepo\/ttybox:v1/);
    assert.match(pushed, /[0-9a-f]{12}: (Mounted from|Layer already exists|Pushed)/);
    // Failure: the error says what went wrong, with its hint.
    const r = spawnSync('script', ['-qec', `stty cols 120 rows 40; ${GANTRY_CMD} pull ${reg!.host}/tools/ttybox:nope`, '/dev/null'], { env: d!.env, encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /not found|unknown/i);

    // `up` pulls with the same tasks, one per image, before its plan.
    seed(reg!, 'tools/ttyup', 'v1', undefined, [randomLayer(2_000_000)]);
    const upRef = `${reg!.host}/tools/ttyup:v1`;
    const project = mkdtempSync(join(work, 'ttyup-'));
    writeFileSync(join(project, 'compose.yaml'), `name: ttyup\nservices:\n  app:\n    image: ${upRef}\n    command: ["sleep", "300"]\n    network_mode: none\n`);
    try {
      const up = inTty(`up -d -f ${join(project, 'compose.yaml')}`);
      assert.match(up, new RegExp(`✔ Image ${upRef.replace(/[.]/g, '\\.')}  Pulled`));
      assert.match(up, /[0-9a-f]{12}: Pull complete/);
      assert.match(up, /Container ttyup-app-1 +Started|Started/);
    } finally {
      d!.gantry(['down', '-f', join(project, 'compose.yaml')]);
    }
  });
  test('pull --all-tags pulls every tag the registry lists; a tag with -a is a usage error', async (t) => {
    if (!canRun(t)) return;
    seed(reg!, 'tools/multi', 'one');
    seed(reg!, 'tools/multi', 'two');
    const out = d!.ok(['pull', '-a', `${reg!.host}/tools/multi`]);
    assert.match(out, /Status: Downloaded newer image for .*tools\/multi:one/);
    assert.match(out, /tools\/multi:two/);
    const tags = (d!.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter((l) => l.includes('tools/multi')).sort();
    assert.deepEqual(tags, [`${reg!.host}/tools/multi:one`, `${reg!.host}/tools/multi:two`]);
    const bad = d!.gantry(['pull', '-a', `${reg!.host}/tools/multi:one`]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /can't be used with --all-tags/);
  });
});

describe('registry: htpasswd auth over TLS with a CA of its own', () => {
  let reg: TestRegistry | undefined;
  let d: TestDaemon | undefined;
  const password = 'S3cret-Pa55';
  before(async () => {
    if (missingTools !== undefined || process.getuid?.() !== 0) return;
    reg = await TestRegistry.start({ users: { alice: password }, tls: true });
    d = new TestDaemon('registry-tls');
    d.extraEnv = { GANTRY_CONFIG: join(d.dir, 'config'), DOCKER_CONFIG: join(d.dir, 'docker') };
    await d.start();
    seed(reg, 'secure/box', 'v1', `alice:${password}`);
  });
  after(async () => { await d?.dispose(); await reg?.dispose(); });

  test('without the CA in certs.d: a TLS error that says where the CA goes', async (t) => {
    if (!canRun(t)) return;
    const r = d!.gantry(['login', '-u', 'alice', '--password-stdin', reg!.host], { input: `${password}\n` });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /TLS with 127\.0\.0\.1:\d+ failed/);
    assert.match(r.stderr, new RegExp(`certs\\.d/${reg!.host.replace('.', '\\.')}/ca\\.crt`));
  });

  test('login: a wrong password is refused without showing it; the right one is stored as docker stores it', async (t) => {
    if (!canRun(t)) return;
    const certs = join(d!.dir, 'config', 'certs.d', reg!.host);
    mkdirSync(certs, { recursive: true });
    copyFileSync(reg!.ca!, join(certs, 'ca.crt'));

    const wrong = d!.gantry(['login', '-u', 'alice', '--password-stdin', reg!.host], { input: 'not-the-Pa55word\n' });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /unauthorized: incorrect username or password/);
    assert.doesNotMatch(wrong.stderr + wrong.stdout + d!.logText, /not-the-Pa55word/);

    const anon = d!.gantry(['pull', `${reg!.host}/secure/box:v1`]);
    assert.equal(anon.status, 1);
    assert.match(anon.stderr, /unauthorized|access denied|pull access denied/i);

    const configPath = join(d!.dir, 'docker', 'config.json');
    mkdirSync(join(d!.dir, 'docker'), { recursive: true });
    writeFileSync(configPath, JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, detachKeys: 'ctrl-x,x' }));
    d!.ok(['login', '-u', 'alice', '--password-stdin', reg!.host], { input: `${password}\n` });
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { auths: Record<string, { auth: string }>; detachKeys: string };
    assert.equal(config.auths[reg!.host]!.auth, Buffer.from(`alice:${password}`).toString('base64'));
    assert.equal(config.auths['other.example']!.auth, 'eDp5', 'other entries kept');
    assert.equal(config.detachKeys, 'ctrl-x,x', 'other keys kept');
    assert.equal(statSync(configPath).mode & 0o777, 0o600);

    const out = d!.ok(['pull', `${reg!.host}/secure/box:v1`]);
    assert.match(out, /Pull complete/);
    assert.doesNotMatch(d!.logText, new RegExp(password));

    d!.ok(['tag', `${reg!.host}/secure/box:v1`, `${reg!.host}/secure/copy:v1`]);
    assert.match(d!.ok(['push', `${reg!.host}/secure/copy:v1`]), /Mounted from secure\/box|Layer already exists/);
    assert.equal((JSON.parse(skopeo(['inspect', `docker://${reg!.host}/secure/copy:v1`, ...reg!.skopeoFlags('inspect', `alice:${password}`)])) as { Layers: string[] }).Layers.length, 1);

    assert.match(d!.ok(['logout', reg!.host]), /Removing login credentials/);
    assert.equal((JSON.parse(readFileSync(configPath, 'utf8')) as { auths: Record<string, unknown> }).auths[reg!.host], undefined);
  });

  test('a docker login (through gantryd) is what gantry pull then uses', async (t) => {
    if (!canRun(t)) return;
    if (dockerCli() === undefined) { t.skip('no docker CLI installed'); return; }
    const wrong = docker(d!, ['login', '-u', 'alice', '--password-stdin', reg!.host], 'nope-nope\n');
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /incorrect username or password/);
    const login = docker(d!, ['login', '-u', 'alice', '--password-stdin', reg!.host], `${password}\n`);
    assert.equal(login.status, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    d!.ok(['rmi', '-f', `${reg!.host}/secure/box:v1`]);
    assert.match(d!.ok(['pull', `${reg!.host}/secure/box:v1`]), /Downloaded newer image|Image is up to date/);
  });
});

describe('registry: bearer tokens from a token server', () => {
  let tokens: TokenServer | undefined;
  let reg: TestRegistry | undefined;
  let d: TestDaemon | undefined;
  before(async () => {
    if (missingTools !== undefined || process.getuid?.() !== 0) return;
    tokens = new TokenServer({ bob: 'hunter22' });
    await tokens.start();
    reg = await TestRegistry.start({ token: tokens.auth });
    d = new TestDaemon('registry-token');
    d.extraEnv = { GANTRY_CONFIG: join(d.dir, 'config'), DOCKER_CONFIG: join(d.dir, 'docker') };
    await d.start();
    await seedLive(reg, 'tok/box', 'v1', 'bob:hunter22');
  });
  after(async () => { await d?.dispose(); await reg?.dispose(); await tokens?.dispose(); });

  test('login, pull and push with tokens scoped per repository; a token is reused while it is valid', async (t) => {
    if (!canRun(t)) return;
    const wrong = await gantryLive(d!, ['login', '-u', 'bob', '--password-stdin', reg!.host], 'hunter23');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /incorrect username or password/);
    assert.doesNotMatch(wrong.stderr, /hunter23/);
    await okLive(d!, ['login', '-u', 'bob', '--password-stdin', reg!.host], 'hunter22');
    await tokens!.sync();
    const served = tokens!.served.length;
    await okLive(d!, ['pull', `${reg!.host}/tok/box:v1`]);
    await tokens!.sync();
    const pullTokens = tokens!.served.slice(served).filter((s) => s.status !== 0);
    assert.ok(pullTokens.length >= 1);
    assert.ok(pullTokens.every((s) => s.user === 'bob' && s.status === 200));
    assert.ok(pullTokens.some((s) => s.scopes.includes('repository:tok/box:pull')), JSON.stringify(pullTokens));
    assert.equal(pullTokens.filter((s) => s.scopes.join(' ') === 'repository:tok/box:pull').length, 1, 'one token for the repository, cached for the blobs');
    await okLive(d!, ['tag', `${reg!.host}/tok/box:v1`, `${reg!.host}/tok/again:v2`]);
    const pushOut = await okLive(d!, ['push', `${reg!.host}/tok/again:v2`]);
    assert.match(pushOut, /Mounted from tok\/box/);
    await tokens!.sync();
    assert.ok(tokens!.served.some((s) => s.scopes.includes('repository:tok/again:pull,push') && s.scopes.includes('repository:tok/box:pull')));
  });
});
