// Git repositories for deployment tests: a bare repository on disk (the "remote") and a work tree that commits
// and pushes to it, plus a smart-HTTP server (git http-backend behind a small Node server that wants a token).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

export class GitRepo {
  readonly dir: string;
  readonly bare: string;
  readonly work: string;

  constructor(name = 'repo') {
    this.dir = mkdtempSync(join(tmpdir(), `gantry-git-${name}-`));
    this.bare = join(this.dir, `${name}.git`);
    this.work = join(this.dir, 'work');
    git(this.dir, 'init', '--quiet', '--bare', '-b', 'main', this.bare);
    git(this.dir, 'init', '--quiet', '-b', 'main', this.work);
  }

  get url(): string {
    return `file://${this.bare}`;
  }

  /** Writes the files, commits and pushes to main; answers the new commit. */
  commit(files: Record<string, string>, message = 'change'): string {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), text);
    }
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    git(this.work, 'push', '--quiet', this.bare, 'main');
    return git(this.work, 'rev-parse', 'HEAD');
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `git http-backend` (smart HTTP) for the repositories under `projectRoot`, on 127.0.0.1, wanting `token`. */
export class GitHttpServer {
  private server: Server | undefined;
  port = 0;
  /** Authorization headers seen (to check no credential travels another way). */
  readonly urls: string[] = [];

  constructor(private readonly projectRoot: string, private readonly token: string) {}

  async start(): Promise<void> {
    const want = `Basic ${Buffer.from(`x-access-token:${this.token}`).toString('base64')}`;
    this.server = createServer((req, res) => {
      this.urls.push(req.url ?? '');
      if (req.headers['authorization'] !== want) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
        res.end('token required\n');
        return;
      }
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const cgi = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin', GIT_PROJECT_ROOT: this.projectRoot, GIT_HTTP_EXPORT_ALL: '1',
          REQUEST_METHOD: req.method ?? 'GET', PATH_INFO: decodeURIComponent(u.pathname), QUERY_STRING: u.search.slice(1),
          CONTENT_TYPE: req.headers['content-type'] ?? '', GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
          HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''), REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-length'] !== undefined ? { CONTENT_LENGTH: String(req.headers['content-length']) } : {}),
        },
        stdio: ['pipe', 'pipe', 'ignore'],
      });
      req.pipe(cgi.stdin);
      let head = Buffer.alloc(0);
      let headersDone = false;
      cgi.stdout.on('data', (chunk: Buffer) => {
        if (headersDone) { res.write(chunk); return; }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        headersDone = true;
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
          const i = line.indexOf(':');
          const k = line.slice(0, i).trim();
          const v = line.slice(i + 1).trim();
          if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
          else headers[k] = v;
        }
        res.writeHead(status, headers);
        res.write(head.subarray(end + 4));
      });
      cgi.stdout.on('end', () => res.end());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  url(repoDirName: string): string {
    return `http://127.0.0.1:${this.port}/${repoDirName}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** A private sshd on 127.0.0.1 (own host key, config and port) letting root in with one generated key. */
export class SshServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'gantry-sshd-'));
  readonly clientKey = join(this.dir, 'client_key');
  readonly knownHosts = join(this.dir, 'known_hosts');
  port = 0;
  private proc: ChildProcess | undefined;
  log = '';

  async start(): Promise<void> {
    const hostKey = join(this.dir, 'host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', this.clientKey]);
    writeFileSync(join(this.dir, 'authorized_keys'), readFileSync(`${this.clientKey}.pub`));
    this.port = await new Promise<number>((resolve) => { const s = createNetServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); }); });
    writeFileSync(this.knownHosts, `[127.0.0.1]:${this.port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const config = join(this.dir, 'sshd_config');
    writeFileSync(config, [`Port ${this.port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', `PidFile ${join(this.dir, 'sshd.pid')}`, 'StrictModes no', ''].join('\n'));
    if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
    this.proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => { this.log += d.toString(); });
    for (let i = 0; i < 200; i++) {
      const up = await new Promise<boolean>((resolve) => { const c = connect(this.port, '127.0.0.1', () => { c.destroy(); resolve(true); }); c.on('error', () => resolve(false)); });
      if (up) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`sshd did not start: ${this.log}`);
  }

  url(path: string): string {
    return `ssh://root@127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p !== undefined && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
