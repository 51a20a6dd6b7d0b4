// What a hostile registry can send, against the pull code in this process and a registry of the test's own
// (node:http): oversized manifests, content that does not match its digest, a redirect to another host, foreign
// layer URLs, a decompression bomb, tar entries that climb out of the layer, wrong credentials. Every case ends
// with an error naming the problem and an empty store (root: layers are extracted by tar with owners and devices).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GantryError } from '../../src/common/errors.js';
import { ImageStore, DEFAULT_LAYER_LIMITS } from '../../src/engine/images/index.js';
import { BLOCK, encodeHeader, paddedSize, type TarHeader } from '../../src/engine/images/tar.js';
import { pullImage, registryContext, type RegistryContext } from '../../src/engine/registry/pull.js';
import type { ProgressMessage } from '../../src/engine/registry/progress.js';
import { TokenCache } from '../../src/engine/registry/transport.js';
import { requires } from '../helpers/privileged.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MiB = 1024 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A registry of the test's own: exact paths → handlers; every request recorded with its Authorization. */
class FakeRegistry {
  readonly routes = new Map<string, Handler>();
  readonly hits: Array<{ method: string; url: string; authorization: string | undefined }> = [];
  /** When set, every /v2/ request needs `Authorization: Bearer <token>` (token from /token with these basic creds). */
  bearer: { user: string; pass: string; token: string; refresh?: string } | undefined;
  private server: http.Server | undefined;
  port = 0;

  get host(): string { return `127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.hits.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      const path = (req.url ?? '').split('?')[0]!;
      if (this.bearer !== undefined && path === '/token' && req.method === 'POST') {
        let form = '';
        req.on('data', (d: Buffer) => { form += d.toString(); });
        req.on('end', () => {
          const f = new URLSearchParams(form);
          const ok = f.get('grant_type') === 'refresh_token' && f.get('refresh_token') === this.bearer?.refresh && f.getAll('scope').length > 0;
          res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' }).end(ok ? JSON.stringify({ access_token: this.bearer!.token, expires_in: 300 }) : '{}');
        });
        return;
      }
      if (this.bearer !== undefined && path === '/token') {
        const ok = req.headers.authorization === `Basic ${Buffer.from(`${this.bearer.user}:${this.bearer.pass}`).toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'Content-Type': 'application/json' }).end(ok ? JSON.stringify({ token: this.bearer.token, expires_in: 300 }) : '{}');
        return;
      }
      if (this.bearer !== undefined && path.startsWith('/v2/') && req.headers.authorization !== `Bearer ${this.bearer.token}`) {
        res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${this.host}/token",service="fake",scope="repository:x:pull"`, 'Content-Type': 'application/json' })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      const h = this.routes.get(`${req.method} ${path}`) ?? (req.method === 'HEAD' ? undefined : undefined);
      if (h !== undefined) return h(req, res);
      if (path === '/v2/' || path === '/v2') { res.writeHead(200).end('{}'); return; }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}');
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  blob(repo: string, data: Buffer, digest = sha(data)): string {
    this.routes.set(`GET /v2/${repo}/blobs/${digest}`, (_q, res) => { res.writeHead(200, { 'Content-Length': data.length }).end(data); });
    return digest;
  }

  /** An image: config + gzip layers (`layers` are tar bytes), served under repo:tag. Returns the descriptors. */
  image(repo: string, tag: string, layers: Buffer[], opts: { layerDescriptors?: (d: Array<Record<string, unknown>>) => Array<Record<string, unknown>>; serveLayers?: boolean } = {}): Buffer {
    const gz = layers.map((l) => gzipSync(l));
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) } }));
    const configDigest = this.blob(repo, config);
    if (opts.serveLayers !== false) for (const g of gz) this.blob(repo, g);
    let descs: Array<Record<string, unknown>> = gz.map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(g), size: g.length }));
    if (opts.layerDescriptors) descs = opts.layerDescriptors(descs);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers: descs }));
    this.manifest(repo, tag, manifest);
    return manifest;
  }

  manifest(repo: string, tag: string, bytes: Buffer): void {
    const h: Handler = (_q, res) => { res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': bytes.length }).end(bytes); };
    this.routes.set(`GET /v2/${repo}/manifests/${tag}`, h);
    this.routes.set(`GET /v2/${repo}/manifests/${sha(bytes)}`, h);
  }

  async dispose(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const entry = (name: string, type: string, size: number, linkname = ''): Buffer =>
  encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size, mtime: 946684800, type, linkname, devmajor: 0, devminor: 0 } satisfies TarHeader);

/** A tar of (header, body) pairs, ended. */
function tar(...entries: Array<[Buffer, Buffer?]>): Buffer {
  const parts: Buffer[] = [];
  for (const [h, body] of entries) {
    parts.push(h);
    if (body !== undefined) parts.push(body, Buffer.alloc(paddedSize(body.length) - body.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

const okLayer = (): Buffer => tar([entry('hello.txt', '0', 6), Buffer.from('hello\n')]);

describe('pull from a hostile registry (root)', () => {
  let dir = '';
  let reg: FakeRegistry;
  let elsewhere: FakeRegistry;
  let n = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-hostile-'));
    reg = new FakeRegistry(); await reg.start();
    elsewhere = new FakeRegistry(); await elsewhere.start();
  });
  after(async () => { await reg.dispose(); await elsewhere.dispose(); rmSync(dir, { recursive: true, force: true }); });

  function context(limits = DEFAULT_LAYER_LIMITS): RegistryContext {
    const store = new ImageStore({ root: join(dir, `root-${n++}`), limits });
    return registryContext(store, { certsDir: join(dir, 'certs.d'), insecure: [] }, new TokenCache());
  }

  function emptyStore(ctx: RegistryContext): void {
    const list = (p: string): string[] => (existsSync(p) ? readdirSync(p) : []);
    assert.deepEqual(list(ctx.store.blobs.dir), [], 'no blob left');
    assert.deepEqual(list(ctx.store.layers.dir), [], 'no layer left');
    assert.deepEqual(ctx.store.list(), []);
  }

  async function pullFails(ctx: RegistryContext, ref: string, pattern: RegExp, code?: string, creds?: { username: string; password: string }): Promise<{ error: GantryError; messages: ProgressMessage[] }> {
    const messages: ProgressMessage[] = [];
    try {
      await pullImage(ctx, { reference: ref, credentials: creds }, (m) => messages.push(m));
    } catch (e) {
      assert.ok(e instanceof GantryError, `a typed error, got ${String(e)}`);
      assert.match(e.message, pattern);
      if (code !== undefined) assert.equal(e.code, code);
      return { error: e, messages };
    }
    assert.fail(`pull of ${ref} succeeded`);
  }

  test('a sound image pulls (the fixture works)', async (t) => {
    if (!requires(t, 'root')) return;
    reg.image('good/img', 'v1', [okLayer()]);
    const ctx = context();
    const r = await pullImage(ctx, { reference: `${reg.host}/good/img:v1` }, () => undefined);
    assert.equal(r.image.layers.length, 1);
  });

  test('two pulls of one image at once: each layer is downloaded once, both succeed', async (t) => {
    if (!requires(t, 'root')) return;
    const layer = tar([entry('big.bin', '0', 3 * MiB), Buffer.alloc(3 * MiB, 7)]);
    reg.image('twice/img', 'v1', [layer, okLayer()]);
    const ctx = context();
    const before = reg.hits.length;
    const [a, b] = await Promise.all([1, 2].map(() => pullImage(ctx, { reference: `${reg.host}/twice/img:v1` }, () => undefined)));
    assert.equal(a!.image.id, b!.image.id);
    const blobGets = reg.hits.slice(before).filter((h) => h.method === 'GET' && /\/blobs\//.test(h.url) && !h.url.includes(sha(Buffer.from(''))));
    const layerGets = blobGets.filter((h) => !h.url.endsWith(JSON.parse(ctx.store.blobs.read(a!.image.manifestDigest).toString()).config.digest));
    assert.equal(layerGets.length, 2, `each of the 2 layers once: ${layerGets.map((h) => h.url).join(', ')}`);
    assert.equal(a!.downloaded + b!.downloaded, a!.image.manifest.layers.reduce((n, l) => n + l.size, 0));
  });

  test('--platform that the single-platform image does not have: refused, nothing kept', async (t) => {
    if (!requires(t, 'root')) return;
    reg.image('plat/img', 'v1', [okLayer()]);
    const ctx = context();
    const messages: ProgressMessage[] = [];
    await assert.rejects(pullImage(ctx, { reference: `${reg.host}/plat/img:v1`, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, (m) => messages.push(m)),
      /its platform \(linux\/amd64\) does not match the specified platform \(linux\/arm64\/v8\)/);
    emptyStore(ctx);
  });

  test('a manifest over 4 MiB is refused before it is parsed: announced by Content-Length, or streamed', async (t) => {
    if (!requires(t, 'root')) return;
    const big = Buffer.alloc(4 * MiB + 1, 0x20);
    reg.manifest('big/img', 'announced', big);
    reg.routes.set('GET /v2/big/img/manifests/chunked', (_q, res) => {
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
      for (let i = 0; i < 5; i++) res.write(Buffer.alloc(MiB, 0x20));
      res.end();
    });
    const ctx = context();
    await pullFails(ctx, `${reg.host}/big/img:announced`, /manifest of 4194305 bytes; more than 4194304 are refused/, 'TOO_LARGE');
    await pullFails(ctx, `${reg.host}/big/img:chunked`, /manifest of more than 4194304 bytes/, 'TOO_LARGE');
    emptyStore(ctx);
  });

  test('a layer that does not match its digest: refused, nothing kept', async (t) => {
    if (!requires(t, 'root')) return;
    const real = gzipSync(okLayer());
    const other = Buffer.from(real); other[other.length - 9] = (other[other.length - 9]! + 1) & 0xff; // same size, other bytes
    reg.image('bad/digest', 'v1', [okLayer()], { serveLayers: false });
    reg.blob('bad/digest', other, sha(real));
    const ctx = context();
    await pullFails(ctx, `${reg.host}/bad/digest:v1`, /content does not match its descriptor: expected sha256:[a-f0-9]{64}/, 'INVALID_IMAGE_ARCHIVE');
    emptyStore(ctx);
  });

  test('a manifest pulled by digest must have that digest', async (t) => {
    if (!requires(t, 'root')) return;
    const m = reg.image('pinned/img', 'v1', [okLayer()]);
    const wrong = sha(Buffer.concat([m, Buffer.from(' ')]));
    reg.routes.set(`GET /v2/pinned/img/manifests/${wrong}`, (_q, res) => { res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }).end(m); });
    const ctx = context();
    await pullFails(ctx, `${reg.host}/pinned/img@${wrong}`, /has digest sha256:[a-f0-9]{64}, not the one asked for/, 'INVALID_IMAGE_ARCHIVE');
    emptyStore(ctx);
  });

  test('a redirect of a blob to another host is followed without the Authorization header', async (t) => {
    if (!requires(t, 'root')) return;
    const layer = okLayer();
    const gz = gzipSync(layer);
    reg.bearer = { user: 'u', pass: 'p', token: 'tok-ABC' };
    try {
      reg.image('redir/img', 'v1', [layer], { serveLayers: false });
      elsewhere.blob('storage', gz);
      reg.routes.set(`GET /v2/redir/img/blobs/${sha(gz)}`, (_q, res) => { res.writeHead(307, { Location: `http://${elsewhere.host}/v2/storage/blobs/${sha(gz)}?sig=1` }).end(); });
      const ctx = context();
      const r = await pullImage(ctx, { reference: `${reg.host}/redir/img:v1`, credentials: { username: 'u', password: 'p' } }, () => undefined);
      assert.equal(r.image.layers.length, 1);
      const there = elsewhere.hits.filter((h) => h.url.startsWith('/v2/storage/blobs/'));
      assert.equal(there.length, 1);
      assert.equal(there[0]!.authorization, undefined, 'no Authorization sent to the other host');
      assert.ok(reg.hits.some((h) => h.authorization === 'Bearer tok-ABC'), 'the registry itself got the token');
    } finally {
      reg.bearer = undefined;
    }
  });

  test('an identity token (OAuth refresh token) is exchanged for an access token by POST', async (t) => {
    if (!requires(t, 'root')) return;
    reg.bearer = { user: 'u', pass: 'p', token: 'tok-FROM-REFRESH', refresh: 'refresh-XYZ' };
    try {
      reg.image('oauth/img', 'v1', [okLayer()]);
      const ctx = context();
      const r = await pullImage(ctx, { reference: `${reg.host}/oauth/img:v1`, credentials: { identityToken: 'refresh-XYZ' } }, () => undefined);
      assert.equal(r.image.layers.length, 1);
      assert.ok(reg.hits.some((h) => h.method === 'POST' && h.url === '/token'));
      await assert.rejects(pullImage(context(), { reference: `${reg.host}/oauth/img:v1`, credentials: { identityToken: 'stale' } }, () => undefined), /unauthorized/);
    } finally {
      reg.bearer = undefined;
    }
  });

  test('wrong credentials: a clear error that shows neither the password nor a token', async (t) => {
    if (!requires(t, 'root')) return;
    reg.bearer = { user: 'u', pass: 'right-pass', token: 'tok-SECRET' };
    try {
      reg.image('auth/img', 'v1', [okLayer()]);
      const ctx = context();
      const { error, messages } = await pullFails(ctx, `${reg.host}/auth/img:v1`, /unauthorized/i, 'UNAUTHORIZED', { username: 'u', password: 'wrong-pass-123' });
      const everything = JSON.stringify([error.message, error.hint, messages]);
      assert.doesNotMatch(everything, /wrong-pass-123|right-pass|tok-SECRET|Basic /);
      emptyStore(ctx);
    } finally {
      reg.bearer = undefined;
    }
  });

  test('a foreign layer URL is not fetched', async (t) => {
    if (!requires(t, 'root')) return;
    const foreign = `http://${elsewhere.host}/foreign/layer.tar.gz`;
    reg.image('foreign/img', 'v1', [okLayer()], { layerDescriptors: (d) => d.map((x) => ({ ...x, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', urls: [foreign] })), serveLayers: false });
    const ctx = context();
    const before = elsewhere.hits.length;
    await pullFails(ctx, `${reg.host}/foreign/img:v1`, /foreign layer.*does not fetch foreign layer URLs/, 'UNSUPPORTED');
    assert.equal(elsewhere.hits.length, before, 'nothing was asked of the foreign URL');
    emptyStore(ctx);
  });

  test('a decompression bomb stops at the layer cap, nothing kept', async (t) => {
    if (!requires(t, 'root')) return;
    const size = 64 * MiB;
    const bomb = tar([entry('zeros', '0', size), Buffer.alloc(size)]);
    reg.image('bomb/img', 'v1', [bomb]);
    const ctx = context({ ...DEFAULT_LAYER_LIMITS, maxBytes: 8 * MiB });
    await pullFails(ctx, `${reg.host}/bomb/img:v1`, /unpacks to more than 8388608 bytes/, 'TOO_LARGE');
    emptyStore(ctx);
  });

  test('tar entries climbing out of the layer are refused, and the error names them', async (t) => {
    if (!requires(t, 'root')) return;
    const victim = mkdtempSync(join(dir, 'victim-'));
    const cases: Array<[string, Buffer, RegExp]> = [
      ['dotdot', tar([entry('../escape', '0', 1), Buffer.from('x')]), /"\.\.\/escape" has a "\.\." component/],
      ['deep-dotdot', tar([entry('a/../../escape', '0', 1), Buffer.from('x')]), /"a\/\.\.\/\.\.\/escape" has a "\.\." component/],
      ['symlink-out', tar([entry('link', '2', 0, victim)], [entry('link/pwned', '0', 1), Buffer.from('x')]), /"link\/pwned"|link\/pwned: Cannot open: Not a directory/],
      ['hardlink-out', tar([entry('hl', '1', 0, '/etc/passwd')]), /hl: Cannot hard link/],
    ];
    for (const [name, layer, pattern] of cases) {
      reg.image(`climb/${name}`, 'v1', [layer]);
      const ctx = context();
      await pullFails(ctx, `${reg.host}/climb/${name}:v1`, pattern, 'INVALID_IMAGE_ARCHIVE');
      emptyStore(ctx);
    }
    assert.deepEqual(readdirSync(victim), [], 'nothing written through the symlink');
  });
});
