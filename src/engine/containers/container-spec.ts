// The typed container spec every caller hands the engine (the Docker API maps its bodies onto it in
// src/api/docker/create-body.ts, the stack model in src/reconcile/container-spec.ts), and its resolution
// against the image: command, environment, labels, ports, healthcheck and anonymous volumes, plus every
// check a user can fail, before anything is made. Pure, apart from checking that bind sources exist and --device paths are device nodes.
import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { GantryError } from '../../common/errors.js';
import { CONTAINER_NAME_RE } from '../../common/ids.js';
import { parseSignal } from '../../common/units.js';
import { validateCapabilities } from '../runtime/capabilities.js';
import { lookupHostDevice } from '../runtime/host-devices.js';
import { rlimitNumber } from '../runtime/spec.js';
import type { ImageRuntimeConfig } from './deps.js';
import type { AttachStreams, ContainerConfig, HealthcheckConfig, HostSettings } from './record.js';

export interface ContainerSpec {
  name?: string | undefined;
  /** Image reference (name[:tag], id or id prefix). */
  image: string;
  /** undefined: the image's. A given entrypoint resets the image's cmd (Docker's rule). */
  entrypoint?: string[] | undefined;
  /** undefined or []: the image's (unless an entrypoint is given). */
  cmd?: string[] | undefined;
  /** KEY=VALUE, over the image's environment. */
  env: string[];
  workingDir?: string | undefined;
  user?: string | undefined;
  hostname?: string | undefined;
  domainname?: string | undefined;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  attach?: AttachStreams | undefined;
  /** Over the image's labels. */
  labels: Record<string, string>;
  stopSignal?: string | undefined;
  stopTimeoutSeconds?: number | undefined;
  /** "80/tcp", added to the image's. */
  exposedPorts: string[];
  /** undefined: the image's; 'none': disabled. */
  healthcheck?: HealthcheckConfig | 'none' | undefined;
  /** Targets that get an anonymous volume (besides the image's VOLUMEs), unless something is mounted there. */
  anonymousVolumes: string[];
  /** Labels of the anonymous volumes made for it (each also gets ANONYMOUS_TARGET_LABEL: its target). */
  anonymousVolumeLabels?: Record<string, string> | undefined;
  host: HostSettings;
}

/** On an anonymous volume made with labels: the path it is mounted at, so a later container can take it over. */
export const ANONYMOUS_TARGET_LABEL = 'gantry.anonymous-target';

export interface ResolvedContainer {
  name: string | undefined;
  config: ContainerConfig;
  host: HostSettings;
  /** Anonymous volumes to create (targets). */
  anonymousVolumeTargets: string[];
}

/** Docker's defaults for what a caller leaves out. */
export function defaultHostSettings(): HostSettings {
  return {
    mounts: [], memoryBytes: 0, memorySwapBytes: 0, nanoCpus: 0, cpuShares: 0, pidsLimit: 0, networkMode: 'bridge', networks: [],
    portBindings: [], publishAllPorts: false, restartPolicy: { name: 'no', maximumRetryCount: 0 }, autoRemove: false, readonlyRootfs: false,
    init: false, capAdd: [], capDrop: [], ulimits: [], sysctls: {}, extraHosts: [], dns: [], dnsSearch: [], oomScoreAdj: 0,
    shmSizeBytes: 64 * 1024 * 1024, privileged: false,
  };
}

export function defaultSpec(image: string): ContainerSpec {
  return { image, env: [], tty: false, openStdin: false, stdinOnce: false, labels: {}, exposedPorts: [], anonymousVolumes: [], host: defaultHostSettings() };
}

const invalid = (message: string, hint?: string): GantryError => new GantryError('INVALID_ARGUMENT', message, { hint });

/**
 * json-file logs without a max-size get this cap, so one chatty container cannot fill the disk (Docker has no
 * default and its hosts fill up; the kubelet's default is the same 10 MB x 5 files). An explicit max-size wins.
 */
export const DEFAULT_LOG_LIMITS: Readonly<Record<'max-size' | 'max-file', string>> = { 'max-size': '10m', 'max-file': '5' };

function withLogCap(h: HostSettings): void {
  const log = h.logConfig ?? { type: 'json-file', config: {} };
  if (log.type !== 'json-file' || log.config['max-size'] !== undefined) return;
  h.logConfig = { type: 'json-file', config: { ...log.config, 'max-size': DEFAULT_LOG_LIMITS['max-size'], 'max-file': log.config['max-file'] ?? DEFAULT_LOG_LIMITS['max-file'] } };
}

/** A healthcheck as the Docker API, an image's config and stack files give it: durations in nanoseconds. */
export interface HealthcheckNanos {
  Test: readonly string[];
  Interval?: number | undefined;
  Timeout?: number | undefined;
  StartPeriod?: number | undefined;
  StartInterval?: number | undefined;
  Retries?: number | undefined;
}

/** The one conversion to the engine's healthcheck: milliseconds, and Docker's defaults for what is 0 or absent. */
export function healthcheckFromNanos(h: HealthcheckNanos): HealthcheckConfig {
  const ms = (v: number | undefined, dflt: number): number => (v !== undefined && v > 0 ? v / 1e6 : dflt);
  return { test: [...h.Test], intervalMs: ms(h.Interval, 30_000), timeoutMs: ms(h.Timeout, 30_000), startPeriodMs: ms(h.StartPeriod, 0),
    startIntervalMs: ms(h.StartInterval, 5_000), retries: h.Retries !== undefined && h.Retries > 0 ? h.Retries : 3 };
}

/** The image's healthcheck (OCI config, nanoseconds) with Docker's defaults. */
export function imageHealthcheck(h: ImageRuntimeConfig['Healthcheck']): HealthcheckConfig | undefined {
  if (!h || !h.Test || h.Test.length === 0 || h.Test[0] === 'NONE') return undefined;
  return healthcheckFromNanos({ ...h, Test: h.Test });
}

/** tmpfs mount data from a size in bytes and a mode (Docker's TmpfsOptions, a stack's `tmpfs:`). */
export function tmpfsMountOptions(size: number | undefined, mode: number | undefined): string {
  const o: string[] = [];
  if (size) o.push(`size=${size}`);
  if (mode) o.push(`mode=${mode.toString(8)}`);
  return o.join(',');
}

/** Image env first, then the user's: a user KEY=V replaces the image's KEY. */
export function mergeEnv(base: readonly string[], over: readonly string[]): string[] {
  const map = new Map<string, string>();
  for (const e of [...base, ...over]) {
    const i = e.indexOf('=');
    map.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...map.values()];
}

function checkHost(h: HostSettings): void {
  for (const m of h.mounts) {
    if (m.type === 'bind' && !existsSync(m.source)) {
      throw new GantryError('BIND_SOURCE_MISSING', `bind source path does not exist: ${m.source}`, { hint: 'create it on the host first, or use a named volume' });
    }
  }
  const targets = new Set<string>();
  for (const m of h.mounts) {
    if (targets.has(m.target)) throw invalid(`duplicate mount point: ${m.target}`);
    targets.add(m.target);
  }
  checkResources(h);
  validateCapabilities([...h.capAdd, ...h.capDrop]);
  for (const d of h.devices ?? []) lookupHostDevice(d);
  for (const u of h.ulimits) rlimitNumber(u.name);
  for (const n of h.networks) {
    if (n.ipv4Address !== undefined && !isIPv4(n.ipv4Address)) {
      throw invalid(`invalid IP address "${n.ipv4Address}" for network ${n.network}`, 'give an IPv4 address inside the network\'s subnet, e.g. --ip 172.20.0.5');
    }
  }
}

/** Resolves a spec against its image; throws the user's mistake before anything is made. */
export function resolveContainerSpec(spec: ContainerSpec, image: { id: string; config: ImageRuntimeConfig }): ResolvedContainer {
  const name = spec.name?.replace(/^\//, '') || undefined;
  if (name !== undefined && !CONTAINER_NAME_RE.test(name)) {
    throw invalid(`invalid container name "${name}"`, 'names match [a-zA-Z0-9][a-zA-Z0-9_.-]+');
  }
  const entrypoint = spec.entrypoint ?? image.config.Entrypoint ?? [];
  const cmd = spec.cmd !== undefined && spec.cmd.length > 0 ? spec.cmd : spec.entrypoint !== undefined ? [] : image.config.Cmd ?? [];
  if (entrypoint.length === 0 && cmd.length === 0) {
    throw invalid('no command specified', 'give a command after the image name, e.g. `gantry run busybox echo hi`');
  }
  for (const e of spec.env) {
    if (!e.includes('=') || e.startsWith('=')) throw invalid(`invalid environment variable "${e}"`, 'use KEY=VALUE');
  }
  const stopSignal = spec.stopSignal ?? image.config.StopSignal ?? 'SIGTERM';
  parseSignal(stopSignal);
  const host = structuredClone(spec.host);
  checkHost(host);
  withLogCap(host);
  if (host.networkMode.startsWith('container:') && spec.hostname) {
    throw invalid('conflicting options: hostname and the network mode', `a container in ${host.networkMode} mode uses that container's hostname; leave out -h`);
  }
  const mounted = new Set(host.mounts.map((m) => m.target));
  const anonymousVolumeTargets = [...new Set([...Object.keys(image.config.Volumes ?? {}), ...spec.anonymousVolumes])].filter((t) => !mounted.has(t));
  const config: ContainerConfig = {
    image: spec.image, imageId: image.id, entrypoint: [...entrypoint], cmd: [...cmd], env: mergeEnv(image.config.Env ?? [], spec.env),
    workingDir: spec.workingDir || image.config.WorkingDir || '/',
    user: spec.user ?? image.config.User ?? '',
    hostname: spec.hostname ?? '', domainname: spec.domainname ?? '',
    tty: spec.tty, openStdin: spec.openStdin, stdinOnce: spec.stdinOnce, ...(spec.attach ? { attach: { ...spec.attach } } : {}),
    labels: { ...(image.config.Labels ?? {}), ...spec.labels },
    stopSignal, stopTimeout: spec.stopTimeoutSeconds ?? 10,
    exposedPorts: [...new Set([...Object.keys(image.config.ExposedPorts ?? {}), ...spec.exposedPorts])],
    healthcheck: spec.healthcheck === 'none' ? undefined : spec.healthcheck ?? imageHealthcheck(image.config.Healthcheck),
  };
  return { name, config, host, anonymousVolumeTargets };
}

/** The resource and restart settings' rules, shared by create and `update` (a running container's limits). */
export function checkResources(h: Pick<HostSettings, 'memoryBytes' | 'memorySwapBytes' | 'nanoCpus' | 'restartPolicy' | 'autoRemove'>): void {
  if (!Number.isInteger(h.memoryBytes) || h.memoryBytes < 0) throw invalid(`invalid memory limit ${h.memoryBytes}`);
  if (h.memoryBytes > 0 && h.memoryBytes < 6 * 1024 * 1024) throw invalid('minimum memory limit allowed is 6MB', 'use -m 6m or more');
  const swap = h.memorySwapBytes;
  if (swap !== 0 && swap !== -1) {
    if (h.memoryBytes === 0) throw invalid('you should always set the memory limit when using a memory-swap limit', 'add -m, e.g. -m 64m --memory-swap 128m');
    if (swap < h.memoryBytes) throw invalid('the memory+swap limit (--memory-swap) must be at least the memory limit', '--memory-swap is memory plus swap: give -1 for unlimited swap, or a value >= -m');
  }
  if (!Number.isFinite(h.nanoCpus) || h.nanoCpus < 0) throw invalid(`invalid CPU value ${h.nanoCpus}`);
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(h.restartPolicy.name)) {
    throw invalid(`invalid restart policy "${h.restartPolicy.name}"`, 'use no, always, on-failure[:N] or unless-stopped');
  }
  if (h.autoRemove && h.restartPolicy.name !== 'no') throw invalid('conflicting options: --restart and --rm', 'a container removed at exit cannot be restarted');
}
