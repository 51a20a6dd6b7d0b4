// `exec`: Docker's exec instances (create, start, inspect) over the runtime's exec of a process inside a
// running container.
import type { Duplex } from 'node:stream';
import { parseConsoleSize } from './console-size.js';
import { GantryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import type { ImageSource } from './deps.js';
import type { ContainerRuntime } from './runtime.js';
import type { ContainerStore } from './store.js';
import type { EventBus } from '../events/bus.js';

export interface ExecConfig {
  Cmd: string[];
  Env?: string[] | undefined;
  User?: string | undefined;
  WorkingDir?: string | undefined;
  Tty?: boolean | undefined;
  AttachStdin?: boolean | undefined;
  AttachStdout?: boolean | undefined;
  AttachStderr?: boolean | undefined;
  Privileged?: boolean | undefined;
  /** [height, width] of the client's terminal (API 1.42+; checked by parseConsoleSize). */
  ConsoleSize?: unknown;
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  /** From ConsoleSize, checked at create. */
  consoleSize: [number, number] | undefined;
}

export interface ExecInspect {
  ID: string; ContainerID: string; Running: boolean; ExitCode: number | null; Pid: number;
  OpenStdin: boolean; OpenStdout: boolean; OpenStderr: boolean;
  ProcessConfig: { entrypoint: string; arguments: string[]; tty: boolean; user: string; privileged: boolean };
}

export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly o: { store: ContainerStore; images: ImageSource; runtime: ContainerRuntime; events?: EventBus | undefined }) {}

  /** Docker's exec events: on the container, `exec_create: CMD`, `exec_start: CMD`, `exec_die` with the exit code. */
  private emit(e: ExecRecord, action: string, extra: Record<string, string> = {}): void {
    const rec = this.o.store.find(e.containerId);
    this.o.events?.emit('container', action, e.containerId, { ...(rec ? { ...rec.config.labels, image: rec.config.image, name: rec.name } : {}), execID: e.id, ...extra });
  }

  create(containerRef: string, config: ExecConfig): string {
    const rec = this.o.store.get(containerRef);
    if (rec.state.status !== 'running') {
      throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: `start it first: gantry start ${rec.name}` });
    }
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) throw new GantryError('INVALID_ARGUMENT', 'no command given to exec', { hint: 'gantry exec CONTAINER COMMAND [ARG...]' });
    const id = newId();
    const consoleSize = parseConsoleSize(config.ConsoleSize);
    const e: ExecRecord = { id, containerId: rec.id, config, running: false, exitCode: null, pid: 0, consoleSize };
    this.execs.set(id, e);
    this.emit(e, `exec_create: ${config.Cmd.join(' ')}`);
    return id;
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new GantryError('NOT_FOUND', `no such exec instance: ${id}`);
    return e;
  }

  inspect(id: string): ExecInspect {
    const e = this.get(id);
    return { ID: e.id, ContainerID: e.containerId, Running: e.running, ExitCode: e.exitCode, Pid: e.pid,
      OpenStdin: e.config.AttachStdin ?? false, OpenStdout: e.config.AttachStdout ?? true, OpenStderr: e.config.AttachStderr ?? true,
      ProcessConfig: { entrypoint: e.config.Cmd[0] ?? '', arguments: e.config.Cmd.slice(1), tty: e.config.Tty ?? false, user: e.config.User ?? '', privileged: e.config.Privileged ?? false } };
  }

  /** Runs the exec, streaming to `client` (or detached when undefined); resolves when started. */
  async start(id: string, client: Duplex | undefined): Promise<{ finished: Promise<number> }> {
    const e = this.get(id);
    if (e.running || e.exitCode !== null) throw new GantryError('CONFLICT', `exec ${id.slice(0, 12)} has already run`);
    const rec = this.o.store.get(e.containerId);
    if (rec.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`);
    const proc = await this.o.runtime.exec(rec, this.o.images.byId(rec.config.imageId), {
      id, args: e.config.Cmd, env: e.config.Env ?? [], cwd: e.config.WorkingDir ?? '', user: e.config.User ?? '',
      privileged: e.config.Privileged ?? false, tty: e.config.Tty ?? false, stdin: e.config.AttachStdin ?? false,
      ...(e.consoleSize === undefined ? {} : { consoleSize: e.consoleSize }),
      stdout: e.config.AttachStdout ?? true, stderr: e.config.AttachStderr ?? true,
    }, client);
    e.running = true;
    e.pid = proc.pid;
    this.emit(e, `exec_start: ${e.config.Cmd.join(' ')}`);
    const finished = proc.finished.then((code) => {
      e.running = false;
      e.exitCode = code;
      this.emit(e, 'exec_die', { exitCode: String(code) });
      return code;
    });
    return { finished };
  }

  /** Kills a running exec (a health probe past its timeout). */
  kill(id: string): void {
    const e = this.get(id);
    if (e.running && e.pid > 0) this.o.runtime.killExec(e.pid);
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    const e = this.get(id);
    if (e.exitCode !== null) {
      throw new GantryError('CONFLICT', `exec ${id.slice(0, 12)} is not running (it exited with ${e.exitCode})`, { hint: 'a terminal can be resized only while its exec runs' });
    }
    await this.o.runtime.resizeExec(id, rows, cols);
  }
}
