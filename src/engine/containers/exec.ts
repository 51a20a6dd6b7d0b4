// `exec`: a process started inside a running container through a shim in exec mode.
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { newId } from '../../common/ids.js';
import { attachToShim, dockerFrame } from '../runtime/attach.js';
import { capabilityMask } from '../runtime/capabilities.js';
import { PendingShim } from '../runtime/shim-process.js';
import { connectShim, resizeFrame } from '../runtime/shim-socket.js';
import { encodeSpec, execSpecEntries } from '../runtime/spec.js';
import { resolveUser } from '../runtime/user.js';
import { mergeEnv } from './create-request.js';
import type { ImageSource } from './deps.js';
import type { ContainerManager } from './manager.js';
import { readContainerFile } from './rootfs-files.js';
import type { ContainerStore } from './store.js';
import type { CgroupDriver } from '../cgroups/index.js';

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
}

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  socketPath: string;
}

export interface ExecInspect {
  ID: string; ContainerID: string; Running: boolean; ExitCode: number | null; Pid: number;
  OpenStdin: boolean; OpenStdout: boolean; OpenStderr: boolean;
  ProcessConfig: { entrypoint: string; arguments: string[]; tty: boolean; user: string; privileged: boolean };
}

export class ExecManager {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly o: { store: ContainerStore; containers: ContainerManager; images: ImageSource; cgroups: CgroupDriver; runDir: string }) {}

  create(containerRef: string, config: ExecConfig): string {
    const rec = this.o.store.get(containerRef);
    if (rec.state.status !== 'running') {
      throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`, { hint: `start it first: gantry start ${rec.name}` });
    }
    if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) throw new GantryError('INVALID_ARGUMENT', 'no command given to exec', { hint: 'gantry exec CONTAINER COMMAND [ARG...]' });
    const id = newId();
    this.execs.set(id, { id, containerId: rec.id, config, running: false, exitCode: null, pid: 0, socketPath: join(this.o.runDir, 'shims', `x${id.slice(0, 23)}.sock`) });
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
    const image = this.o.images.byId(rec.config.imageId);
    const dir = this.o.containers.dir(rec.id);
    const user = resolveUser(e.config.User || rec.config.user, (p) => readContainerFile(join(dir, 'upper'), image?.layerDirs ?? [], p));
    const exitFile = join(dir, `exec-${id}.exit`);
    const specPath = join(dir, `exec-${id}.spec`);
    const tty = e.config.Tty ?? false;
    writeFileSync(specPath, encodeSpec(execSpecEntries({
      id, targetPid: rec.state.pid, args: e.config.Cmd, env: mergeEnv(rec.config.env, e.config.Env ?? []),
      cwd: e.config.WorkingDir || rec.config.workingDir, uid: user.uid, gid: user.gid, groups: user.groups,
      capsMask: capabilityMask(rec.host.capAdd, rec.host.capDrop, rec.host.privileged || (e.config.Privileged ?? false)),
      noNewPrivs: false, tty, stdin: e.config.AttachStdin ?? false, exitFile, socket: e.socketPath,
      cgroupProcs: this.o.cgroups.procsFiles(this.o.containers.cgroupPath(rec.id)),
    })), { mode: 0o600 });
    const pending = await PendingShim.spawn('exec', specPath);
    let attached: Awaited<ReturnType<typeof attachToShim>> | undefined;
    const watcher = await connectShim(e.socketPath);
    const exited = new Promise<void>((resolve) => { watcher.on('close', () => resolve()); watcher.on('error', () => resolve()); watcher.resume(); });
    try {
      if (client) attached = await attachToShim(e.socketPath, client, { stdin: e.config.AttachStdin ?? false, stdout: e.config.AttachStdout ?? true, stderr: e.config.AttachStderr ?? true, tty });
    } catch (err) {
      await pending.abort();
      throw err;
    }
    const outcome = await pending.go();
    e.running = true;
    e.pid = pending.started.initPid;
    const finished = (async (): Promise<number> => {
      await exited;
      let code = 255;
      try { code = Number(readFileSync(exitFile, 'utf8').split(' ')[0]); } catch { /* shim died */ }
      if (outcome.kind === 'exec-error') {
        code = outcome.exitCode;
        if (client && !client.destroyed) {
          const msg = `OCI runtime exec failed: exec: "${e.config.Cmd[0]}": ${code === 127 ? 'executable file not found in $PATH' : 'permission denied'}\r\n`;
          client.write(tty ? Buffer.from(msg) : dockerFrame(2, Buffer.from(msg)));
          client.end();
        }
      }
      await attached?.done;
      e.running = false;
      e.exitCode = code;
      rmSync(exitFile, { force: true });
      rmSync(specPath, { force: true });
      return code;
    })();
    return { finished };
  }

  async resize(id: string, rows: number, cols: number): Promise<void> {
    const e = this.get(id);
    const s = await connectShim(e.socketPath);
    await new Promise<void>((resolve) => s.end(resizeFrame(rows, cols), () => resolve()));
  }
}
