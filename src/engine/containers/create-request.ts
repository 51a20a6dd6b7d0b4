// Turns a Docker Engine API create body (ContainerCreateOptions) into our container config, validating
// everything a user can get wrong before anything is made. Pure, apart from checking bind sources exist.
import { existsSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { isAbsolute } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import { CONTAINER_NAME_RE } from '../../common/ids.js';
import { parseSignal } from '../../common/units.js';
import { validateCapabilities } from '../runtime/capabilities.js';
import { parseLogConfig } from '../logs/config.js';
import { rlimitNumber } from '../runtime/spec.js';
import type { ImageRuntimeConfig } from './deps.js';
import type { ContainerConfig, HealthcheckConfig, HostSettings, MountSpec, PortBinding, RestartPolicyName } from './record.js';

const invalid = (message: string, hint?: string): GantryError => new GantryError('INVALID_ARGUMENT', message, { hint });

function asStringArray(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalid(`${what} must be a list of strings`);
}

export function parseBind(bind: string): MountSpec {
  const parts = bind.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw invalid(`invalid volume spec "${bind}"`, 'use SOURCE:TARGET[:ro], where SOURCE is an absolute host path or a volume name');
  }
  const [source, target, mode = 'rw'] = parts as [string, string, string?];
  const modes = mode.split(',');
  if (!modes.every((m) => ['ro', 'rw', 'z', 'Z', 'nocopy', 'rprivate', 'private'].includes(m))) {
    throw invalid(`invalid mode "${mode}" in volume spec "${bind}"`, 'the mode is ro or rw');
  }
  if (!isAbsolute(target)) throw invalid(`invalid volume spec "${bind}": the target must be an absolute path`);
  return { type: isAbsolute(source) ? 'bind' : 'volume', source, target, readOnly: modes.includes('ro'), ...(modes.includes('nocopy') ? { noCopy: true } : {}) };
}

function parsePortBindings(raw: unknown): PortBinding[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object') throw invalid('HostConfig.PortBindings must be an object');
  const out: PortBinding[] = [];
  for (const [key, list] of Object.entries(raw as Record<string, unknown>)) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(key);
    if (!m) throw invalid(`invalid port "${key}"`, 'ports look like 80/tcp or 53/udp');
    const entries = Array.isArray(list) ? list as Array<{ HostIp?: string; HostPort?: string }> : [{}];
    for (const e of entries) {
      // "8000" or a host range "8000-8010" (any free port in it); "" = a random port.
      const r = /^(\d+)(?:-(\d+))?$/.exec(e.HostPort ?? '');
      const hostPort = e.HostPort === undefined || e.HostPort === '' ? 0 : r ? Number(r[1]) : NaN;
      const hostPortEnd = r?.[2] === undefined ? undefined : Number(r[2]);
      const bad = (p: number): boolean => !Number.isInteger(p) || p < 0 || p > 65535;
      if (bad(hostPort) || (hostPortEnd !== undefined && (bad(hostPortEnd) || hostPortEnd < hostPort))) throw invalid(`invalid host port "${e.HostPort}" for ${key}`);
      const binding: PortBinding = { containerPort: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp', hostIp: e.HostIp ?? '', hostPort };
      if (hostPortEnd !== undefined && hostPortEnd !== hostPort) binding.hostPortEnd = hostPortEnd;
      out.push(binding);
    }
  }
  return out;
}

function healthcheck(h: ContainerCreateOptions['Healthcheck'] | ImageRuntimeConfig['Healthcheck']): HealthcheckConfig | undefined {
  if (!h || !h.Test || h.Test.length === 0) return undefined;
  const ns = (v: number | undefined, dflt: number): number => (v && v > 0 ? v / 1e6 : dflt);
  return { test: h.Test, intervalMs: ns(h.Interval, 30_000), timeoutMs: ns(h.Timeout, 30_000), startPeriodMs: ns(h.StartPeriod, 0),
    startIntervalMs: ns(h.StartInterval, 5_000), retries: h.Retries && h.Retries > 0 ? h.Retries : 3 };
}

export interface CreateRequest {
  name?: string | undefined;
  body: ContainerCreateOptions;
}

export interface ValidatedCreate {
  name: string | undefined;
  config: ContainerConfig;
  host: HostSettings;
  /** Anonymous volumes to create (targets). */
  anonymousVolumeTargets: string[];
}

/** Validates a create body against the image config. `image` is the resolved image. */
export function validateCreate(req: CreateRequest, image: { id: string; config: ImageRuntimeConfig }): ValidatedCreate {
  const b = req.body;
  const hc = b.HostConfig ?? {};
  const name = req.name?.replace(/^\//, '') || undefined;
  if (name !== undefined && !CONTAINER_NAME_RE.test(name)) {
    throw invalid(`invalid container name "${name}"`, 'names match [a-zA-Z0-9][a-zA-Z0-9_.-]+');
  }
  // Entrypoint/Cmd resolution like docker: a given Entrypoint resets the image's Cmd.
  const userEntrypoint = b.Entrypoint === undefined ? undefined : asStringArray(b.Entrypoint, 'Entrypoint');
  const entrypoint = userEntrypoint ?? image.config.Entrypoint ?? [];
  const cmd = b.Cmd !== undefined && b.Cmd !== null && b.Cmd.length > 0 ? asStringArray(b.Cmd, 'Cmd')
    : userEntrypoint !== undefined ? [] : image.config.Cmd ?? [];
  if (entrypoint.length === 0 && cmd.length === 0) {
    throw invalid('no command specified', 'give a command after the image name, e.g. `gantry run busybox echo hi`');
  }
  const env = mergeEnv(image.config.Env ?? [], asStringArray(b.Env, 'Env'));
  for (const e of asStringArray(b.Env, 'Env')) {
    if (!e.includes('=') || e.startsWith('=')) throw invalid(`invalid environment variable "${e}"`, 'use KEY=VALUE');
  }
  const stopSignal = b.StopSignal ?? image.config.StopSignal ?? 'SIGTERM';
  parseSignal(stopSignal);

  const mounts: MountSpec[] = [];
  for (const bind of asStringArray(hc.Binds, 'HostConfig.Binds')) mounts.push(parseBind(bind));
  for (const m of hc.Mounts ?? []) {
    if (m.Type !== 'bind' && m.Type !== 'volume' && m.Type !== 'tmpfs') throw invalid(`unsupported mount type "${m.Type}"`, 'use bind, volume or tmpfs');
    if (!m.Target || !isAbsolute(m.Target)) throw invalid(`mount target "${m.Target}" must be an absolute path`);
    mounts.push({ type: m.Type, source: m.Source ?? '', target: m.Target, readOnly: m.ReadOnly ?? false, ...(m.VolumeOptions?.NoCopy ? { noCopy: true } : {}),
      tmpfsOptions: m.Type === 'tmpfs' ? tmpfsOptions(m.TmpfsOptions?.SizeBytes, m.TmpfsOptions?.Mode) : undefined });
  }
  for (const [target, opts] of Object.entries(hc.Tmpfs ?? {})) {
    if (!isAbsolute(target)) throw invalid(`tmpfs target "${target}" must be an absolute path`);
    mounts.push({ type: 'tmpfs', source: '', target, readOnly: false, tmpfsOptions: opts });
  }
  for (const m of mounts) {
    if (m.type === 'bind' && !existsSync(m.source)) {
      throw new GantryError('BIND_SOURCE_MISSING', `bind source path does not exist: ${m.source}`, { hint: 'create it on the host first, or use a named volume' });
    }
  }
  const targets = new Set<string>();
  for (const m of mounts) {
    if (targets.has(m.target)) throw invalid(`duplicate mount point: ${m.target}`);
    targets.add(m.target);
  }
  const anonymousVolumeTargets = [...new Set([...Object.keys(image.config.Volumes ?? {}), ...Object.keys(b.Volumes ?? {})])].filter((t) => !targets.has(t));

  const memory = hc.Memory ?? 0;
  if (!Number.isInteger(memory) || memory < 0) throw invalid(`invalid memory limit ${memory}`);
  if (memory > 0 && memory < 6 * 1024 * 1024) throw invalid('minimum memory limit allowed is 6MB', 'use -m 6m or more');
  const swap = hc.MemorySwap ?? 0;
  if (swap !== 0 && swap !== -1) {
    if (memory === 0) throw invalid('you should always set the memory limit when using a memory-swap limit', 'add -m, e.g. -m 64m --memory-swap 128m');
    if (swap < memory) throw invalid('the memory+swap limit (--memory-swap) must be at least the memory limit', '--memory-swap is memory plus swap: give -1 for unlimited swap, or a value >= -m');
  }
  const nanoCpus = hc.NanoCpus ?? (hc.CpuQuota && hc.CpuQuota > 0 ? Math.round((hc.CpuQuota / (hc.CpuPeriod || 100_000)) * 1e9) : 0);
  if (!Number.isFinite(nanoCpus) || nanoCpus < 0) throw invalid(`invalid CPU value ${nanoCpus}`);

  const rp = hc.RestartPolicy ?? { Name: 'no' };
  const rpName = (rp.Name === '' || rp.Name === undefined ? 'no' : rp.Name) as RestartPolicyName;
  if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(rpName)) {
    throw invalid(`invalid restart policy "${rp.Name}"`, 'use no, always, on-failure[:N] or unless-stopped');
  }
  if (hc.AutoRemove && rpName !== 'no') throw invalid('conflicting options: --restart and --rm', 'a container removed at exit cannot be restarted');

  const capAdd = asStringArray(hc.CapAdd, 'HostConfig.CapAdd');
  const capDrop = asStringArray(hc.CapDrop, 'HostConfig.CapDrop');
  validateCapabilities([...capAdd, ...capDrop]);
  const ulimits = (hc.Ulimits ?? []).map((u) => {
    rlimitNumber(u.Name ?? '');
    return { name: u.Name ?? '', soft: u.Soft ?? 0, hard: u.Hard ?? 0 };
  });

  // Docker's default: the default bridge network.
  const networkMode = hc.NetworkMode && hc.NetworkMode !== 'default' ? hc.NetworkMode : 'bridge';
  if (networkMode.startsWith('container:') && b.Hostname) {
    throw invalid('conflicting options: hostname and the network mode', `a container in ${networkMode} mode uses that container's hostname; leave out -h`);
  }
  const networks = Object.entries(b.NetworkingConfig?.EndpointsConfig ?? {}).map(([network, ep]) => ({
    network, aliases: asStringArray(ep.Aliases, 'Aliases'), ipv4Address: ep.IPAMConfig?.IPv4Address || undefined,
  }));
  for (const n of networks) {
    if (n.ipv4Address !== undefined && !isIPv4(n.ipv4Address)) {
      throw invalid(`invalid IP address "${n.ipv4Address}" for network ${n.network}`, 'give an IPv4 address inside the network\'s subnet, e.g. --ip 172.20.0.5');
    }
  }

  const config: ContainerConfig = {
    image: b.Image ?? '', imageId: image.id, entrypoint, cmd, env,
    workingDir: b.WorkingDir || image.config.WorkingDir || '/',
    user: b.User ?? image.config.User ?? '',
    hostname: b.Hostname ?? '', domainname: b.Domainname ?? '',
    tty: b.Tty ?? false, openStdin: b.OpenStdin ?? false, stdinOnce: b.StdinOnce ?? false,
    labels: { ...(image.config.Labels ?? {}), ...(b.Labels ?? {}) },
    stopSignal, stopTimeout: b.StopTimeout ?? 10,
    exposedPorts: [...new Set([...Object.keys(image.config.ExposedPorts ?? {}), ...Object.keys(b.ExposedPorts ?? {})])],
    healthcheck: b.Healthcheck?.Test?.[0] === 'NONE' ? undefined : healthcheck(b.Healthcheck) ?? healthcheck(image.config.Healthcheck),
  };
  const host: HostSettings = {
    mounts, memoryBytes: memory, memorySwapBytes: hc.MemorySwap ?? 0, nanoCpus, cpuShares: hc.CpuShares ?? 0,
    pidsLimit: hc.PidsLimit ?? 0, networkMode, networks, portBindings: parsePortBindings(hc.PortBindings),
    publishAllPorts: hc.PublishAllPorts ?? false,
    restartPolicy: { name: rpName, maximumRetryCount: rp.MaximumRetryCount ?? 0 },
    autoRemove: hc.AutoRemove ?? false, readonlyRootfs: hc.ReadonlyRootfs ?? false, init: hc.Init ?? false,
    capAdd, capDrop, ulimits, sysctls: hc.Sysctls ?? {}, extraHosts: asStringArray(hc.ExtraHosts, 'HostConfig.ExtraHosts'),
    dns: asStringArray(hc.Dns, 'HostConfig.Dns'), dnsSearch: hc.DnsSearch ?? [], oomScoreAdj: hc.OomScoreAdj ?? 0,
    shmSizeBytes: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : 64 * 1024 * 1024, privileged: hc.Privileged ?? false,
    logConfig: parseLogConfig(hc.LogConfig as unknown),
  };
  return { name, config, host, anonymousVolumeTargets };
}

function tmpfsOptions(size: number | undefined, mode: number | undefined): string {
  const o: string[] = [];
  if (size) o.push(`size=${size}`);
  if (mode) o.push(`mode=${mode.toString(8)}`);
  return o.join(',');
}

/** Image env first, then the user's: a user KEY=V replaces the image's KEY. */
export function mergeEnv(base: string[], over: string[]): string[] {
  const map = new Map<string, string>();
  for (const e of [...base, ...over]) {
    const i = e.indexOf('=');
    map.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...map.values()];
}
