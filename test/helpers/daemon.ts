// A private gantryd for a test: own root dir, socket and kernel-object prefix, so it never collides with a
// daemon already running. `dispose()` removes every container, the daemon, its cgroups and its files.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { PortDnat } from '../../src/engine/network/port-dnat.js';
import { DAEMON_NODE_FLAGS } from '../../src/common/daemon-node-flags.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const GANTRY_BIN = join(PROJECT_ROOT, 'bin', 'gantry.js');
/** The command users run: bin/gantry starts the CLI from its start-up snapshot (GANTRY_BIN is the module build). */
export const GANTRY_CMD = join(PROJECT_ROOT, 'bin', 'gantry');
export const GANTRYD_BIN = join(PROJECT_ROOT, 'bin', 'gantryd.js');

/** The busybox rootfs tarball the setup script makes (scripts/make-busybox-rootfs.sh). */
export function busyboxTarball(): string {
  const tar = join(PROJECT_ROOT, '.fixtures', 'busybox.tar');
  if (!existsSync(tar)) {
    mkdirSync(dirname(tar), { recursive: true });
    const r = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'make-busybox-rootfs.sh'), tar], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot make the busybox rootfs: ${r.stderr}`);
  }
  return tar;
}

/** A real server image built offline from Debian packages by scripts/make-server-images.mjs (cached in .fixtures/images). */
export interface ServerImage {
  name: string;
  tag: string;
  /** The one layer, uncompressed: what `gantry import` takes. */
  rootfs: string;
  /** An OCI image layout with the image's config; `skopeo copy oci:DIR:TAG docker://…` pushes it. */
  ociLayout: string;
}

const serverImages = new Map<string, ServerImage>();

/** Builds (first time, ~25-35 s) or finds the cached server image: nginx, redis, postgres or python. */
export function serverImage(name: 'nginx' | 'redis' | 'postgres' | 'python'): ServerImage {
  const known = serverImages.get(name);
  if (known) return known;
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'make-server-images.mjs'), '--print', name], { encoding: 'utf8' });
  const [, tag, dir] = (r.stdout ?? '').trim().split(' ');
  if (r.status !== 0 || !tag || !dir) throw new Error(`cannot build the ${name} image: ${r.stderr}`);
  const image = { name, tag, rootfs: join(dir, 'rootfs.tar'), ociLayout: join(dir, 'oci') };
  serverImages.set(name, image);
  return image;
}

/** The root filesystem tarball of a server image (nginx or redis), for `gantry import`. */
export function debianTarball(name: 'nginx' | 'redis', _packages?: readonly string[]): string {
  return serverImage(name).rootfs;
}

export interface RunResult { status: number; stdout: string; stderr: string }

export class TestDaemon {
  readonly dir: string;
  readonly root: string;
  readonly socket: string;
  readonly prefix: string;
  private proc: ChildProcess | undefined;
  logText = '';
  /** More environment for the daemon and the CLI (e.g. GANTRY_CONFIG, DOCKER_CONFIG). */
  extraEnv: Record<string, string> = {};

  /**
   * `wrap`: a command the daemon is started under, e.g. ['nsenter', '--net=/run/netns/NS'] (it must exec the daemon);
   * `daemonEnv`: extra environment of the daemon only (e.g. GANTRY_BRIDGE_BYPASS=0), read at each start.
   */
  constructor(name = 'test', private readonly wrap: readonly string[] = [], public daemonEnv: Readonly<Record<string, string>> = {}) {
    this.prefix = `gantry-t${randomBytes(3).toString('hex')}`;
    this.dir = mkdtempSync(join(tmpdir(), `gantry-${name}-`));
    this.root = join(this.dir, 'root');
    this.socket = join(this.dir, 'run', 'gantry.sock');
  }

  /** The running daemon's pid (undefined when it is not running). */
  get pid(): number | undefined {
    return this.proc?.exitCode === null ? this.proc.pid : undefined;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, GANTRY_HOST: `unix://${this.socket}`, GANTRY_ROOT: this.root, GANTRY_PREFIX: this.prefix, XDG_STATE_HOME: join(this.dir, 'state'), ...this.extraEnv };
  }

  async start(): Promise<void> {
    const from = this.logText.length;
    const [cmd, ...args] = [...this.wrap, process.execPath, ...DAEMON_NODE_FLAGS, GANTRYD_BIN];
    this.proc = spawn(cmd!, args, { env: { ...this.env, ...this.daemonEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => { this.logText += d.toString(); });
    this.proc.stderr!.on('data', (d: Buffer) => { this.logText += d.toString(); });
    for (let i = 0; i < 200; i++) {
      if (this.logText.slice(from).includes('listening on')) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`gantryd did not start:\n${this.logText}`);
  }

  /** SIGKILL, like a crash: containers must survive it. */
  async crash(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    this.proc = undefined;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = undefined;
  }

  /** Runs the CLI as a separate process, like a user would. */
  gantry(args: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
    const r: SpawnSyncReturns<string> = spawnSync(GANTRY_CMD, args, {
      env: this.env, encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Async variant (for commands that run while the test does other things). */
  gantryAsync(args: string[]): { proc: ChildProcess; done: Promise<RunResult> } {
    const proc = spawn(GANTRY_CMD, args, { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const done = new Promise<RunResult>((resolve) => proc.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })));
    return { proc, done };
  }

  /** Fails the test with the CLI's output when the command fails. */
  ok(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
    const r = this.gantry(args, opts);
    if (r.status !== 0) throw new Error(`gantry ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log:\n${this.logText.slice(-3000)}`);
    return r.stdout;
  }

  importBusybox(name = 'busybox'): void {
    this.ok(['import', busyboxTarball(), name]);
  }

  /** redis from Debian's package, as `redis`: data in its image VOLUME /data (append-only file), no protected mode. */
  importRedis(name = 'redis'): void {
    this.ok(['import', debianTarball('redis', ['redis-server']), name, '--change', 'VOLUME /data',
      '--change', 'CMD ["redis-server", "--dir", "/data", "--appendonly", "yes", "--protected-mode", "no", "--save", ""]']);
  }

  /** nginx from Debian's package (nginx-light), as `nginx`: runs in the foreground, logs to the container's output. */
  importNginx(name = 'nginx'): void {
    this.ok(['import', debianTarball('nginx', ['nginx-light']), name,
      '--change', 'CMD ["nginx", "-g", "daemon off; error_log /dev/stderr;"]']);
  }

  /** Removes everything this daemon made, failure or not. */
  async dispose(): Promise<void> {
    try {
      if (!this.proc) await this.start().catch(() => undefined);
      // Deployments and stored stacks first: the daemon repairs a stack that is up, and would make its network again
      // after the removals below (that left bridges behind).
      const words = (args: string[]): string[] => this.gantry(args).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
      for (const name of words(['deploy', 'ls', '-q'])) this.gantry(['deploy', 'rm', name, '--down']);
      for (const project of words(['stack', 'ls', '-a', '-q'])) this.gantry(['stack', '-p', project, 'down', '-v']);
      const ids = this.gantry(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length) this.gantry(['rm', '-f', '-v', ...ids]);
      // User networks outlive containers (and the daemon): remove them, so no bridge is left behind.
      const networks = this.gantry(['network', 'ls', '--format', 'json']).stdout.split('\n').filter(Boolean)
        .map((l) => (JSON.parse(l) as { Name: string }).Name).filter((n) => !['bridge', 'host', 'none'].includes(n));
      if (networks.length) this.gantry(['network', 'rm', ...networks]);
    } finally {
      await this.stop().catch(() => undefined);
      await this.crash().catch(() => undefined);
      killCgroupTree(this.prefix);
      // published-port proxies outlive the daemon; removing the containers stopped them, this is the safety net
      for (const pid of portProxyPids(this.root)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
      PortDnat.drop(linkPrefixFor(this.prefix)); // its DNAT table outlives it too
      // the safety net for links (a bridge, a veth) the removals above did not take: named, so the cause is found
      const left = readdirSync('/sys/class/net').filter((l) => l.startsWith(linkPrefixFor(this.prefix)));
      if (left.length > 0) {
        process.stderr.write(`TestDaemon ${this.prefix}: removing links left behind: ${left.join(', ')}\n`);
        for (const l of left) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore' });
      }
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** gantry-portproxy processes serving the daemon with this root (their control directory is <root>/ports). */
export function portProxyPids(root: string): number[] {
  const dir = join(root, 'ports');
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone
    }
    if (argv[0]?.endsWith('gantry-portproxy') === true && argv[6] === dir) pids.push(Number(name));
  }
  return pids;
}

/** Kills and removes `<prefix>` cgroups in every hierarchy (v1) or the unified tree (v2). */
export function killCgroupTree(prefix: string): void {
  const roots = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => / - cgroup2? /.test(l)).map((l) => l.split(' ')[4]!).filter(Boolean);
  for (const root of roots) {
    const top = join(root, prefix);
    if (!existsSync(top)) continue;
    const removeTree = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
      try {
        for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
        }
      } catch { /* no procs file */ }
      for (let i = 0; i < 50; i++) {
        try { rmdirSync(dir); break; } catch { spawnSync('sleep', ['0.02']); }
      }
    };
    removeTree(top);
  }
}

/** Polls until `check` passes (no hand-written sleeps in tests). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
