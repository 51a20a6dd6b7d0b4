// The port between container lifecycle (manager.ts: records, states, restart policies) and what actually runs
// processes. The Linux runtime (linux-runtime.ts: shim, cgroups, overlay dirs) implements it; tests use an
// in-memory one (test/fakes/fake-runtime.ts), so the lifecycle logic runs the same in both.
import type { BlockIoEntry } from '../cgroups/block-io.js';
import type { InterfaceCounters } from './net-dev.js';
import type { Duplex } from 'node:stream';
import type { LogEntry, LogReadOptions } from '../logs/reader.js';
import type { AttachOptions } from '../runtime/attach.js';
import type { ImageView } from './deps.js';
import type { ContainerView } from './record.js';

export interface ExitInfo { exitCode: number; signal: number; finishedAt: string }

/** A running container process as the runtime hands it over. */
export interface RunningProcess {
  pid: number;
  shimPid: number;
  /** Resolves when the process has exited, or when the runtime stopped watching it (shutdown). */
  exited: Promise<void>;
}

export type StartResult =
  | { kind: 'started'; process: RunningProcess }
  /** The process never ran user code: a bad command (126/127) or a setup failure (255). */
  | { kind: 'failed'; exitCode: number; message: string };


/** Runs between "the process exists" and "it runs user code": networking, attach clients. */
export type BeforeGo = (pid: number) => Promise<void>;

/** One process started inside a running container (exec, health probes). */
export interface ExecProcessSpec {
  id: string;
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  privileged: boolean;
  tty: boolean;
  /** [rows, cols] of the client's terminal (ConsoleSize), the pty's size from the start. */
  consoleSize?: [number, number] | undefined;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export interface ExecProcess {
  pid: number;
  /** Resolves with the exit code. */
  finished: Promise<number>;
}

export interface ProcessInfo { uid: string; pid: number; ppid: string; time: string; cmd: string }

export type { BlockIoEntry, InterfaceCounters };

export interface ContainerUsage {
  memoryUsageBytes: number;
  memoryLimitBytes: number;
  cpuUsageNanos: number;
  pids: number;
  /** The whole host's CPU time so far and its CPU count, to turn cpuUsageNanos into a share (docker stats). */
  systemCpuNanos: number;
  onlineCpus: number;
  /** Counters of the container's interfaces (its netns; loopback left out), by name. */
  networks?: Readonly<Record<string, InterfaceCounters>>;
  blockIo?: readonly BlockIoEntry[];
}

/** Where a container's files live on the host (inspect shows them). */
export interface ContainerPaths {
  dir: string;
  logPath: string;
  hostsPath: string;
  hostnamePath: string;
  resolvConfPath: string;
}

export interface ContainerRuntime {
  paths(id: string): ContainerPaths;
  /** At create: the container's private files (upper dir, /etc files). Throws and leaves nothing on failure. */
  prepare(rec: ContainerView, image: ImageView): void;
  /**
   * Starts the container's process; `beforeGo` runs before any user code does. `netns`: a network namespace for
   * the init to join instead of making its own (ContainerNetworking.netnsFor).
   */
  start(rec: ContainerView, image: ImageView, beforeGo: BeforeGo, opts?: { netns?: string | undefined }): Promise<StartResult>;
  /** After a daemon restart: the still running process of `rec`, or undefined when it is gone. */
  reattach(rec: ContainerView): Promise<RunningProcess | undefined>;
  /** How the last process of `rec` ended, as recorded by the runtime (undefined: unknown). */
  exitInfo(rec: ContainerView): ExitInfo | undefined;
  /**
   * After an exit: kills what is left of it, frees its resources; says whether the kernel OOM-killed it.
   * `removal`: the container is removed next (never started again): what is freed may be freed after the answer.
   */
  cleanup(rec: ContainerView, opts?: { removal?: boolean }): Promise<{ oomKilled: boolean }>;
  signal(rec: ContainerView, signal: number): Promise<void>;
  /**
   * SIGKILL. `removal`: the container is removed once it has exited, so the runtime may report the exit before
   * releasing what the kernel still tears down (its mounts; nothing a user can see) and need not make the exit durable.
   */
  forceKill(rec: ContainerView, opts?: { removal?: boolean }): Promise<void>;
  freeze(rec: ContainerView): Promise<void>;
  thaw(rec: ContainerView): Promise<void>;
  /** Connects a client to the running process's streams; `done` resolves when either side ends. */
  attach(rec: ContainerView, client: Duplex, opts: AttachOptions): Promise<{ done: Promise<void> }>;
  resize(rec: ContainerView, rows: number, cols: number): Promise<void>;
  exec(rec: ContainerView, image: ImageView | undefined, spec: ExecProcessSpec, client: Duplex | undefined): Promise<ExecProcess>;
  resizeExec(execId: string, rows: number, cols: number): Promise<void>;
  /** Kills a running exec (a probe past its timeout). */
  killExec(pid: number): void;
  processes(rec: ContainerView): ProcessInfo[];
  usage(rec: ContainerView): ContainerUsage;
  /** Applies the record's resource limits to its running cgroup (`update`). */
  updateLimits(rec: ContainerView): Promise<void>;
  logs(rec: ContainerView, opts: LogReadOptions, stillRunning: () => boolean, signal: AbortSignal): AsyncIterable<LogEntry>;
  /** Replaces the container's /etc/hosts and /etc/resolv.conf (networking renders them); seen inside at once. */
  writeNetworkFiles(id: string, files: { hosts: string; resolvConf: string }): void;
  /** Removes everything the runtime keeps for the container (its directory). */
  destroy(id: string): void;
  /** At daemon start: kills and removes resources of containers not in `active` (ids of records that run). */
  sweep(active: ReadonlySet<string>, unknownButPresent: ReadonlySet<string>): Promise<void>;
  /** Starts the kernel work a start will wait on (cgroup attach), when it helps. Never throws. */
  prewarm(): void;
  /** Stops watching every process (daemon shutdown); the processes live on. `running`: the containers that do. */
  release(running?: readonly ContainerView[]): void;
}
