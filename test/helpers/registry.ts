// A real registry for tests: Debian's docker-registry (distribution 2.8) on a free loopback port with its own
// storage dir, plain, with htpasswd auth, with bearer tokens from a token server the test runs, and/or TLS
// from a CA made here with openssl. `dispose()` stops it and removes its files, failure or not.
// Also: images into it with skopeo (from an OCI layout made from a rootfs tarball), and its access log.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const SKOPEO_BIN = '/usr/bin/skopeo';

export function haveRegistryTools(): string | undefined {
  for (const [bin, pkg] of [[REGISTRY_BIN, 'docker-registry'], [SKOPEO_BIN, 'skopeo'], ['/usr/bin/htpasswd', 'apache2-utils'], ['/usr/bin/openssl', 'openssl']] as const) {
    if (!existsSync(bin)) return `${bin} is missing (apt-get install ${pkg}; scripts/setup.sh installs it)`;
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input ?? '', cwd: opts.cwd, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A CA and a server certificate for 127.0.0.1 / localhost, made with openssl. */
export function makeCA(dir: string): { ca: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'ext.cnf');
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=gantry test CA']);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { ca, cert, key };
}

export interface TokenAuth { realm: string; service: string; issuer: string; certBundle: string }

export interface RegistryOptions {
  /** htpasswd users (user → password): basic auth. */
  users?: Record<string, string>;
  /** Bearer tokens from this token server (see TokenServer). */
  token?: TokenAuth;
  tls?: boolean;
}

export class TestRegistry {
  readonly dir: string;
  port = 0;
  ca: string | undefined;
  private proc: ChildProcess | undefined;
  logText = '';

  private constructor(private readonly opts: RegistryOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'gantry-registry-'));
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(opts: RegistryOptions = {}): Promise<TestRegistry> {
    const r = new TestRegistry(opts);
    try {
      await r.launch();
      return r;
    } catch (e) {
      await r.dispose();
      throw e;
    }
  }

  private async launch(): Promise<void> {
    this.port = await freePort();
    const lines = [
      'version: 0.1',
      'log:', '  level: info', '  formatter: text', '  accesslog:', '    disabled: false',
      'storage:', '  filesystem:', `    rootdirectory: ${join(this.dir, 'data')}`, '  delete:', '    enabled: true',
      'http:', `  addr: 127.0.0.1:${this.port}`, `  secret: ${randomBytes(8).toString('hex')}`,
    ];
    if (this.opts.tls) {
      const c = makeCA(join(this.dir, 'tls'));
      this.ca = c.ca;
      lines.push('  tls:', `    certificate: ${c.cert}`, `    key: ${c.key}`);
    }
    if (this.opts.users) {
      const file = join(this.dir, 'htpasswd');
      writeFileSync(file, '');
      for (const [user, pass] of Object.entries(this.opts.users)) run('htpasswd', ['-B', '-b', file, user, pass]);
      lines.push('auth:', '  htpasswd:', '    realm: gantry-test', `    path: ${file}`);
    } else if (this.opts.token) {
      const t = this.opts.token;
      lines.push('auth:', '  token:', `    realm: ${t.realm}`, `    service: ${t.service}`, `    issuer: ${t.issuer}`, `    rootcertbundle: ${t.certBundle}`);
    }
    const config = join(this.dir, 'config.yml');
    writeFileSync(config, `${lines.join('\n')}\n`);
    this.proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => { this.logText += d.toString(); });
    this.proc.stderr!.on('data', (d: Buffer) => { this.logText += d.toString(); });
    for (let i = 0; i < 200; i++) {
      if (/listening on/.test(this.logText)) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`docker-registry did not start:\n${this.logText}`);
  }

  /**
   * Waits until the registry's log holds everything it wrote so far: a marker request is sent and its access-log
   * line awaited (the log arrives through a pipe, read only when the test's event loop runs).
   */
  async sync(): Promise<void> {
    const marker = `gantry-sync-${randomBytes(4).toString('hex')}`;
    const mod = this.opts.tls ? await import('node:https') : await import('node:http');
    await new Promise<void>((resolve) => {
      const req = mod.get(`${this.opts.tls ? 'https' : 'http'}://${this.host}/v2/${marker}/tags/list`, { ...(this.ca ? { ca: readFileSync(this.ca) } : {}) }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', () => resolve());
    });
    for (let i = 0; i < 400 && !this.logText.includes(`/v2/${marker}/`); i++) await new Promise((r) => setTimeout(r, 5));
  }

  /** An offset into the log after everything so far (see sync). */
  async mark(): Promise<number> {
    await this.sync();
    return this.logText.length;
  }

  /** Access-log lines from `since` (an offset into logText) that are requests matching `pattern`. */
  requests(pattern: RegExp, since = 0): string[] {
    return this.logText.slice(since).split('\n').filter((l) => /"(GET|HEAD|PUT|POST|PATCH|DELETE) /.test(l) && pattern.test(l));
  }

  /**
   * Bytes the registry sent to gantry (its User-Agent) in successful blob GETs since `since`. Other clients' are
   * left out: the registry may log a request of skopeo's that ended before a mark after that mark's own line.
   */
  blobBytesSent(since = 0): number {
    return this.requests(/"GET \/v2\/[^ ]+\/blobs\/sha256:[a-f0-9]{64} HTTP\/1\.1" 200 \d+ "[^"]*" "gantry\//, since)
      .reduce((sum, l) => sum + Number(/" 200 (\d+)/.exec(l)?.[1] ?? 0), 0);
  }

  /** skopeo's TLS/auth flags for this registry. */
  skopeoFlags(kind: 'src' | 'dest' | 'inspect', creds?: string): string[] {
    const pre = kind === 'inspect' ? '' : `${kind}-`;
    const f = this.opts.tls ? [`--${pre}cert-dir`, join(this.dir, 'tls-client')] : [`--${pre}tls-verify=false`];
    if (this.opts.tls) {
      mkdirSync(join(this.dir, 'tls-client'), { recursive: true });
      writeFileSync(join(this.dir, 'tls-client', 'ca.crt'), readFileSync(this.ca!));
    }
    return creds === undefined ? f : [...f, `--${pre}creds`, creds];
  }

  async dispose(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (p.exitCode === null) p.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * An OCI image layout (what skopeo's `oci:` transport reads) of a one-layer image from a rootfs tarball, plus
 * `extraLayers` (tar bytes) on top. Returns the layout dir.
 */
export function ociLayout(dir: string, rootfsTar: string, tag: string, opts: { extraLayers?: Buffer[]; cmd?: string[]; platforms?: Array<{ os: string; architecture: string; variant?: string }>; compression?: 'gzip' | 'zstd' } = {}): string {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const d = sha256(b);
    writeFileSync(join(blobs, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const tars = [readFileSync(rootfsTar), ...(opts.extraLayers ?? [])];
  const layers = tars.map((t) => (opts.compression === 'zstd'
    ? { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', ...put(execFileSync('zstd', ['-q', '-c'], { input: t, maxBuffer: 1 << 30 })) }
    : { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gzipSync(t)) }));
  const manifestFor = (platform: { os: string; architecture: string; variant?: string }): { digest: string; size: number } => {
    const config = {
      created: '2024-01-01T00:00:00Z', ...platform,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: opts.cmd ?? ['sh'] },
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
      history: tars.map(() => ({ created: '2024-01-01T00:00:00Z', created_by: 'test' })),
    };
    const configBlob = put(Buffer.from(JSON.stringify(config)));
    return put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob }, layers })));
  };
  let top: { mediaType: string; digest: string; size: number };
  if (opts.platforms === undefined) top = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifestFor({ os: 'linux', architecture: 'amd64' }) };
  else {
    const manifests = opts.platforms.map((p) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifestFor(p), platform: p }));
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }))) };
  }
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return dir;
}

/** `skopeo copy SRC DEST` with extra flags; throws with skopeo's stderr on failure. */
export function skopeo(args: string[]): string {
  return run(SKOPEO_BIN, ['--insecure-policy', ...args]);
}

/**
 * A tiny token server (the Docker token auth flow), in a child process so that a test blocked in a synchronous
 * CLI call does not block it: `GET /token?service=&scope=` with basic credentials answers a JWT (RS256, the
 * signing certificate in `x5c`) granting the asked scopes, which docker-registry verifies against `certBundle`.
 */
export class TokenServer {
  readonly dir: string;
  /** Token requests served (reported by the child): scopes, user, status. */
  readonly served: Array<{ scopes: string[]; user: string | undefined; status: number }> = [];
  private proc: ChildProcess | undefined;
  port = 0;

  constructor(private readonly users: Record<string, string>, readonly service = 'gantry-test-registry', readonly issuer = 'gantry-test-issuer') {
    this.dir = mkdtempSync(join(tmpdir(), 'gantry-token-'));
  }

  get auth(): TokenAuth {
    return { realm: `http://127.0.0.1:${this.port}/token`, service: this.service, issuer: this.issuer, certBundle: join(this.dir, 'token.crt') };
  }

  /** Lets the reports of the child arrive (after synchronous CLI calls). */
  async sync(): Promise<void> {
    const http = await import('node:http');
    const marker = randomBytes(4).toString('hex');
    await new Promise<void>((resolve) => { http.get(`http://127.0.0.1:${this.port}/sync?m=${marker}`, (res) => { res.resume(); res.on('end', resolve); }).on('error', () => resolve()); });
    for (let i = 0; i < 400 && !this.served.some((s) => s.scopes.includes(`sync:${marker}`)); i++) await new Promise((r) => setTimeout(r, 5));
  }

  async start(): Promise<void> {
    run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(this.dir, 'token.key'), '-out', join(this.dir, 'token.crt'), '-days', '2', '-subj', '/CN=gantry token signer']);
    const script = `
      import http from 'node:http';
      import { X509Certificate, createSign, randomBytes } from 'node:crypto';
      import { readFileSync } from 'node:fs';
      const [dir, service, issuer, usersJson] = process.argv.slice(1);
      const users = JSON.parse(usersJson);
      const key = readFileSync(dir + '/token.key', 'utf8');
      const der = new X509Certificate(readFileSync(dir + '/token.crt')).raw.toString('base64');
      const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const report = (o) => process.stdout.write(JSON.stringify(o) + String.fromCharCode(10));
      const server = http.createServer((req, res) => {
        const url = new URL(req.url, 'http://x');
        if (url.pathname === '/sync') { report({ scopes: ['sync:' + url.searchParams.get('m')], status: 0 }); res.end(); return; }
        const scopes = url.searchParams.getAll('scope');
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const plain = basic === undefined ? undefined : Buffer.from(basic, 'base64').toString();
        const user = plain === undefined ? undefined : plain.slice(0, plain.indexOf(':'));
        const pass = plain === undefined ? undefined : plain.slice(plain.indexOf(':') + 1);
        if (user !== undefined && users[user] !== pass) {
          report({ scopes, user, status: 401 });
          res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"incorrect username or password"}');
          return;
        }
        const now = Math.floor(Date.now() / 1000);
        const access = user === undefined ? [] : scopes.flatMap((s) => {
          const [type, name, actions] = s.split(':');
          return type === 'repository' && name && actions ? [{ type, name, actions: actions.split(',') }] : [];
        });
        const data = b64({ typ: 'JWT', alg: 'RS256', x5c: [der] }) + '.' + b64({ iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access });
        const sig = createSign('RSA-SHA256').update(data).sign(key).toString('base64url');
        report({ scopes, user, status: 200 });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: data + '.' + sig, expires_in: 300 }));
      });
      server.listen(0, '127.0.0.1', () => report({ port: server.address().port }));
    `;
    this.proc = spawn(process.execPath, ['--input-type=module', '-e', script, this.dir, this.service, this.issuer, JSON.stringify(this.users)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      this.proc!.on('exit', (code) => reject(new Error(`token server exited ${code}`)));
      this.proc!.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const m = JSON.parse(buf.slice(0, nl)) as { port?: number; scopes?: string[]; user?: string; status?: number };
          buf = buf.slice(nl + 1);
          if (m.port !== undefined) { this.port = m.port; resolve(); } else this.served.push({ scopes: m.scopes ?? [], user: m.user, status: m.status ?? 0 });
        }
      });
    });
  }

  async dispose(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) { const exited = new Promise((r) => p.once('exit', r)); p.kill('SIGTERM'); await exited; }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP proxy in front of a registry that can cut a response: `cutAfter` bytes into each upstream→client stream
 * whose request line matches `cutPattern`, the connection is destroyed. `cuts` counts them.
 */
export class CuttingProxy {
  port = 0;
  cutAfter: number | undefined;
  cutPattern = /GET \/v2\/[^ ]+\/blobs\/sha256:/;
  /** How many more responses to cut (Infinity: all). */
  cutsLeft = Infinity;
  cuts = 0;
  private server: import('node:net').Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();

  constructor(private readonly target: number) {}

  get host(): string { return `127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const net = await import('node:net');
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      const upstream = net.connect(this.target, '127.0.0.1');
      this.sockets.add(upstream);
      let cutting = false;
      let sent = 0;
      client.on('data', (d: Buffer) => {
        // One request per connection is enough to decide: keep-alive connections re-evaluate at every request line.
        const text = d.toString('latin1');
        if (/^(GET|HEAD|PUT|POST|PATCH|DELETE) /.test(text)) { cutting = this.cutAfter !== undefined && this.cutsLeft > 0 && this.cutPattern.test(text); sent = 0; }
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        if (cutting && this.cutAfter !== undefined) {
          const room = this.cutAfter - sent;
          if (d.length >= room) {
            client.write(d.subarray(0, Math.max(0, room)));
            this.cuts++; this.cutsLeft--;
            client.destroy(); upstream.destroy();
            return;
          }
          sent += d.length;
        }
        client.write(d);
      });
      const close = (): void => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
      client.on('error', close); upstream.on('error', close); client.on('close', close); upstream.on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async dispose(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => { if (this.server) this.server.close(() => resolve()); else resolve(); });
  }
}
