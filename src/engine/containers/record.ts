// The persistent record of one container: what was asked for (config), and what is (state).
// Stored as containers/<id>/container.json, written atomically on every change.
import type { SeccompChoice } from '../seccomp/index.js';

export type RestartPolicyName = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface AttachStreams { stdin: boolean; stdout: boolean; stderr: boolean }

export interface RestartPolicy {
  name: RestartPolicyName;
  maximumRetryCount: number;
}

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind), volume name (volume), empty (tmpfs). */
  source: string;
  target: string;
  readOnly: boolean;
  /** tmpfs options, e.g. "size=64m,mode=1777". */
  tmpfsOptions?: string | undefined;
  /** Volumes: do not copy the image's content into an empty volume (`:nocopy`). */
  noCopy?: boolean | undefined;
}

export interface Ulimit { name: string; soft: number; hard: number }

export interface HealthcheckConfig {
  /** ["CMD", ...], ["CMD-SHELL", "..."], or ["NONE"]. */
  test: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export interface PortBinding {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIp: string;
  /** 0 = pick a free port at start. */
  hostPort: number;
  /** End of a published range (`-p 8000-8002:80`), when given. */
  hostPortEnd?: number | undefined;
}

export interface NetworkAttachment {
  /** Network name as the user gave it. */
  network: string;
  aliases: string[];
  ipv4Address?: string | undefined;
}

export interface ContainerConfig {
  image: string;
  imageId: string;
  /** The final argv: entrypoint + cmd resolved against the image. */
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  hostname: string;
  domainname: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /** The streams the creator meant to attach (Docker's Config.Attach*; absent in older records = none). */
  attach?: AttachStreams | undefined;
  labels: Record<string, string>;
  stopSignal: string;
  /** Seconds before SIGKILL on stop. */
  stopTimeout: number;
  exposedPorts: string[];
  healthcheck?: HealthcheckConfig | undefined;
}

/** Docker's HostConfig.LogConfig: the log driver and its options (as given, strings). */
export interface LogConfig {
  type: 'json-file' | 'none';
  config: Record<string, string>;
}

/** Docker's HostConfig.Devices entry (`--device HOST[:CONTAINER[:PERMS]]`). */
export interface DeviceMapping {
  /** A char or block device node on the host (checked at create, looked up again at each start). */
  pathOnHost: string;
  /** Where the node is made in the container (absolute). */
  pathInContainer: string;
  /** Some of r, w, m (the device cgroup rule). */
  cgroupPermissions: string;
}

export interface HostSettings {
  mounts: MountSpec[];
  memoryBytes: number;
  memorySwapBytes: number;
  nanoCpus: number;
  cpuShares: number;
  pidsLimit: number;
  /** "none", "host", "bridge", a network name, or "container:<id>". */
  networkMode: string;
  networks: NetworkAttachment[];
  portBindings: PortBinding[];
  publishAllPorts: boolean;
  restartPolicy: RestartPolicy;
  autoRemove: boolean;
  readonlyRootfs: boolean;
  init: boolean;
  capAdd: string[];
  capDrop: string[];
  ulimits: Ulimit[];
  sysctls: Record<string, string>;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  oomScoreAdj: number;
  shmSizeBytes: number;
  privileged: boolean;
  /** Absent in records written before log drivers existed: json-file without options (logConfigOf). */
  logConfig?: LogConfig | undefined;
  /** `--device`; absent in older records (none). */
  devices?: DeviceMapping[] | undefined;
  /** `--security-opt no-new-privileges`; absent in older records (false). */
  noNewPrivileges?: boolean | undefined;
  /** `--security-opt seccomp=…`: absent = the default profile (older records too); a custom profile is kept as its
   * JSON, so every start (after a daemon restart too) compiles the same filter. */
  seccomp?: SeccompChoice | undefined;
  /** HostConfig.SecurityOpt as given, for inspect; absent when none (and in older records). */
  securityOpt?: string[] | undefined;
  /** HostConfig.ConsoleSize, [rows, cols]: a tty's size from the start; absent when not given (and in older records). */
  consoleSize?: [number, number] | undefined;
}

export function logConfigOf(host: { readonly logConfig?: { readonly type: LogConfig['type']; readonly config: Readonly<Record<string, string>> } | undefined }): LogConfig {
  return host.logConfig === undefined ? { type: 'json-file', config: {} } : { type: host.logConfig.type, config: { ...host.logConfig.config } };
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';

export interface HealthLogEntry { start: string; end: string; exitCode: number; output: string }

export interface HealthState {
  status: 'starting' | 'healthy' | 'unhealthy';
  failingStreak: number;
  log: HealthLogEntry[];
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  shimPid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Stopped by a user (stop/kill): `unless-stopped` does not restart it, even after a daemon restart. */
  manuallyStopped: boolean;
  /** Increments at each start; names the cgroup and socket generation. */
  generation: number;
  /** Network id → the address the container had there when it last stopped: its next start asks for it again. */
  lastAddresses?: Record<string, string> | undefined;
  health?: HealthState | undefined;
}

export interface ContainerRecord {
  id: string;
  name: string;
  created: string;
  config: ContainerConfig;
  host: HostSettings;
  state: ContainerState;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return { status: 'created', pid: 0, shimPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: ZERO_TIME,
    finishedAt: ZERO_TIME, restartCount: 0, manuallyStopped: false, generation: 0 };
}

export function isActive(s: ContainerStatus): boolean {
  return s === 'running' || s === 'paused' || s === 'restarting';
}

/** Deeply read-only: what the store hands out. Only the container manager changes records (update()). */
export type DeepReadonly<T> = T extends (infer E)[] ? ReadonlyArray<DeepReadonly<E>>
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type ContainerView = DeepReadonly<ContainerRecord>;
