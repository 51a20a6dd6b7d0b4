// An in-memory ContainerRuntime. Processes follow the busybox commands the contract suite runs, with the same
// kernel rules the Linux runtime meets: pid 1 without --init ignores SIGTERM/SIGINT (no handler), SIGKILL
// gives 137, a signal gives 128+N, an unknown command fails to start with 127. Processes outlive an engine:
// pass the same FakeRuntime to a new engine to model a daemon restart.
import type { Duplex } from 'node:stream';
import type { ImageView } from '../../src/engine/containers/deps.js';
import type { ContainerView } from '../../src/engine/containers/record.js';
import type {
  BeforeGo, ContainerPaths, ContainerRuntime, ContainerUsage, ExecProcess, ExecProcessSpec, ExitInfo, ProcessInfo, RunningProcess, StartResult,
} from '../../src/engine/containers/runtime.js';
import type { LogEntry, LogReadOptions } from '../../src/engine/logs/reader.js';
import type { Clock, Timer } from '../../src/engine/clock.js';
import { dockerFrame, type AttachOptions } from '../../src/engine/runtime/attach.js';

interface FakeProcess {
  pid: number;
  argv: string[];
  init: boolean;
  ignoresTerm: boolean;
  exited: boolean;
  notify: () => void;
  timer: Timer | undefined;
  files: Set<string>;
}

const KNOWN = new Set(['true', 'false', 'sh', 'sleep', 'echo']);

export class FakeRuntime implements ContainerRuntime {
  private nextPid = 1000;
  private readonly procs = new Map<string, FakeProcess>();
  private readonly exits = new Map<string, ExitInfo>();
  private readonly logsOf = new Map<string, LogEntry[]>();
  private readonly clients = new Map<string, Duplex[]>();
  private readonly execs = new Map<number, (code: number) => void>();

  constructor(private readonly clock: Clock) {}

  paths(id: string): ContainerPaths {
    const dir = `/fake/containers/${id}`;
    return { dir, logPath: `${dir}/log`, hostsPath: `${dir}/hosts`, hostnamePath: `${dir}/hostname`, resolvConfPath: `${dir}/resolv.conf` };
  }

  // A fake container has no files but its log: nothing to prepare, and no /etc files to keep.
  prepare(): void { /* see above */ }
  writeNetworkFiles(): void { /* see above */ }
  destroy(id: string): void { this.logsOf.delete(id); this.exits.delete(id); }
  prewarm(): void { /* nothing to warm */ }

  /** The running process of a container, for tests. */
  process(id: string): { pid: number } | undefined {
    const p = this.procs.get(id);
    return p && !p.exited ? { pid: p.pid } : undefined;
  }

  private write(id: string, text: string): void {
    const entry: LogEntry = { stream: 'stdout', text, time: new Date(this.clock.now()).toISOString() };
    this.logsOf.set(id, [...(this.logsOf.get(id) ?? []), entry]);
    for (const c of this.clients.get(id) ?? []) if (!c.destroyed) c.write(dockerFrame(1, Buffer.from(text)));
  }

  /** Ends the process of `id` with `code` (also used by tests: "the process died while the daemon was down"). */
  exit(id: string, code: number, signal = 0): void {
    const p = this.procs.get(id);
    if (p === undefined || p.exited) return;
    p.exited = true;
    p.timer?.cancel();
    this.exits.set(id, { exitCode: code, signal, finishedAt: new Date(this.clock.now()).toISOString() });
    for (const c of this.clients.get(id) ?? []) if (!c.destroyed) c.end();
    this.clients.delete(id);
    p.notify();
  }

  async start(rec: ContainerView, _image: ImageView, beforeGo: BeforeGo): Promise<StartResult> {
    const argv = [...rec.config.entrypoint, ...rec.config.cmd];
    const pid = this.nextPid++;
    await beforeGo(pid);
    if (!KNOWN.has(argv[0] ?? '')) {
      return { kind: 'failed', exitCode: 127, message: `exec: "${argv[0] ?? ''}": executable file not found in $PATH` };
    }
    this.exits.delete(rec.id);
    const script = argv[0] === 'sh' && argv[1] === '-c' ? argv[2] ?? '' : '';
    const p: FakeProcess = { pid, argv, init: rec.host.init, ignoresTerm: /trap '' TERM/.test(script), exited: false, notify: () => undefined, timer: undefined, files: new Set() };
    this.procs.set(rec.id, p);
    const exited = new Promise<void>((resolve) => { p.notify = resolve; });
    this.run(rec.id, p, script);
    return { kind: 'started', process: { pid, shimPid: pid + 100_000, exited } };
  }

  /** What the process does once released: the few busybox commands the tests use. */
  private run(id: string, p: FakeProcess, script: string): void {
    const later = (fn: () => void): void => { queueMicrotask(fn); };
    const [cmd, ...args] = p.argv;
    if (cmd === 'true') return later(() => this.exit(id, 0));
    if (cmd === 'false') return later(() => this.exit(id, 1));
    if (cmd === 'echo') return later(() => { this.write(id, `${args.join(' ')}\n`); this.exit(id, 0); });
    const sleep = cmd === 'sleep' ? args[0] : /sleep ([^\s;]+)/.exec(script)?.[1];
    const exitCode = /(?:^|;)\s*exit (\d+)/.exec(script)?.[1];
    const echo = /echo ([^;]*)/.exec(script)?.[1];
    if (echo !== undefined) this.write(id, `${echo.trim()}\n`);
    if (exitCode !== undefined && sleep === undefined) return later(() => this.exit(id, Number(exitCode)));
    if (sleep !== undefined && sleep !== 'inf' && sleep !== 'infinity') {
      p.timer = this.clock.after(Number(sleep) * 1000, () => this.exit(id, exitCode === undefined ? 0 : Number(exitCode)));
    }
  }

  async reattach(rec: ContainerView): Promise<RunningProcess | undefined> {
    const p = this.procs.get(rec.id);
    if (p === undefined || p.exited) return undefined;
    const exited = new Promise<void>((resolve) => { p.notify = resolve; });
    return { pid: p.pid, shimPid: p.pid + 100_000, exited };
  }

  release(): void {
    // The engine stops listening; the processes go on (a new engine reattaches).
    for (const p of this.procs.values()) { const n = p.notify; p.notify = () => undefined; n(); }
  }

  exitInfo(rec: ContainerView): ExitInfo | undefined { return this.exits.get(rec.id); }

  async cleanup(rec: ContainerView, _opts?: { removal?: boolean }): Promise<{ oomKilled: boolean }> {
    this.procs.delete(rec.id);
    return { oomKilled: false };
  }

  async signal(rec: ContainerView, signal: number): Promise<void> {
    const p = this.procs.get(rec.id);
    if (p === undefined || p.exited) return;
    if (signal === 9) { this.exit(rec.id, 137, 9); return; }
    // pid 1 gets no default action for a signal it has no handler for (the kernel's rule): without --init, the
    // busybox commands used here ignore everything but SIGKILL. With --init, the child dies of it.
    if (p.init && !(p.ignoresTerm && signal === 15)) this.exit(rec.id, 128 + signal, signal);
  }

  async forceKill(rec: ContainerView, _opts?: { removal?: boolean }): Promise<void> { this.exit(rec.id, 137, 9); }
  async freeze(): Promise<void> { /* a paused fake process does nothing anyway */ }
  async thaw(): Promise<void> { /* see freeze */ }

  async attach(rec: ContainerView, client: Duplex, _opts: AttachOptions): Promise<{ done: Promise<void> }> {
    this.clients.set(rec.id, [...(this.clients.get(rec.id) ?? []), client]);
    return { done: new Promise((resolve) => client.on('close', () => resolve())) };
  }

  async resize(): Promise<void> { /* no terminal */ }

  async exec(rec: ContainerView, _image: ImageView | undefined, x: ExecProcessSpec): Promise<ExecProcess> {
    const p = this.procs.get(rec.id);
    const pid = this.nextPid++;
    const script = x.args[0] === '/bin/sh' || x.args[0] === 'sh' ? x.args[2] ?? '' : x.args.join(' ');
    let code = 0;
    for (const part of script.split(/;|&&/).map((s) => s.trim()).filter(Boolean)) {
      const [c, ...a] = part.split(/\s+/);
      const path = a[a.length - 1] ?? '';
      if (c === 'touch') p?.files.add(path);
      else if (c === 'rm') p?.files.delete(path);
      else if (c === 'test') code = p?.files.has(path) ? 0 : 1;
      else if (c === 'false') code = 1;
      else if (c === 'exit') code = Number(a[0]);
      else if (c === 'sleep') return { pid, finished: new Promise((resolve) => { this.execs.set(pid, resolve); }) };
      if (code !== 0) break;
    }
    return { pid, finished: Promise.resolve(code) };
  }

  async resizeExec(): Promise<void> { /* no terminal */ }
  async updateLimits(): Promise<void> { /* no cgroups */ }
  killExec(pid: number): void { this.execs.get(pid)?.(137); this.execs.delete(pid); }

  processes(rec: ContainerView): ProcessInfo[] {
    const p = this.procs.get(rec.id);
    return p && !p.exited ? [{ uid: '0', pid: p.pid, ppid: '0', time: '00:00:00', cmd: p.argv.join(' ') }] : [];
  }

  usage(rec: ContainerView): ContainerUsage {
    return { memoryUsageBytes: 0, memoryLimitBytes: rec.host.memoryBytes, cpuUsageNanos: 0, pids: this.process(rec.id) ? 1 : 0, systemCpuNanos: this.clock.now() * 2e6, onlineCpus: 2 };
  }

  async *logs(rec: ContainerView, opts: LogReadOptions): AsyncIterable<LogEntry> {
    const all = (this.logsOf.get(rec.id) ?? []).filter((e) => (e.stream === 'stdout' ? opts.stdout : opts.stderr));
    for (const e of opts.tail === undefined ? all : all.slice(-opts.tail)) yield e;
  }

  async sweep(): Promise<void> { /* nothing outlives a fake container but its process */ }
}
