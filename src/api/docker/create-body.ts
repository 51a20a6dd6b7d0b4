// The Docker Engine API's create body (ContainerCreateOptions) mapped onto the engine's typed ContainerSpec.
// The one place Docker's create shapes are read: bind strings, port-binding maps, restart policy names, CPU
// quota forms, healthcheck nanoseconds. Checks that are not about Docker's shapes live in the engine
// (resolveContainerSpec), so the stack model and the API are held to the same rules.
import { isAbsolute } from 'node:path';
import type { ContainerCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import { noNewPrivilegesOption } from '../../common/security-opt.js';
import { defaultHostSettings, healthcheckFromNanos, tmpfsMountOptions, type ContainerSpec } from '../../engine/containers/container-spec.js';
import { parseLogConfig } from '../../engine/logs/config.js';
import { checkDeviceAccess } from '../../engine/cgroups/index.js';
import { seccompChoiceOf, type SeccompChoice } from '../../engine/seccomp/index.js';
import type { DeviceMapping, HealthcheckConfig, HostSettings, MountSpec, PortBinding, RestartPolicyName } from '../../engine/containers/record.js';
import type { ContainerResourceUpdate } from '../../engine/containers/manager.js';

import { parseConsoleSize } from '../../engine/containers/console-size.js';

const invalid = (message: string, hint?: string): GantryError => new GantryError('INVALID_ARGUMENT', message, { hint });

export interface CreateRequest {
  name?: string | undefined;
  body: ContainerCreateOptions;
}

function asStringArray(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw invalid(`${what} must be a list of strings`);
}

const isAnonymousBind = (bind: string): boolean => !bind.includes(':') && isAbsolute(bind);

/** `-v SOURCE:TARGET[:MODE]`: an absolute SOURCE is a bind, anything else a volume name. */
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

/** Docker's healthcheck (nanoseconds, 0 = default); `NONE` disables the image's. */
function healthcheck(h: ContainerCreateOptions['Healthcheck']): HealthcheckConfig | 'none' | undefined {
  if (!h || !h.Test || h.Test.length === 0) return undefined;
  return h.Test[0] === 'NONE' ? 'none' : healthcheckFromNanos({ ...h, Test: h.Test });
}

/** HostConfig.Devices: [{PathOnHost, PathInContainer, CgroupPermissions}]; the container path defaults to the host's, perms to rwm. */
export function parseDevices(raw: unknown): DeviceMapping[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw invalid('HostConfig.Devices must be a list');
  const out: DeviceMapping[] = [];
  for (const entry of raw as unknown[]) {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const str = (k: string): string => (typeof e[k] === 'string' ? e[k] as string : '');
    const pathOnHost = str('PathOnHost');
    const pathInContainer = str('PathInContainer') || pathOnHost;
    if (!isAbsolute(pathOnHost)) throw invalid(`invalid device "${pathOnHost}": the host path must be absolute`, 'use --device /dev/NAME[:/dev/NAME_IN_CONTAINER[:PERMS]]');
    if (!isAbsolute(pathInContainer)) throw invalid(`invalid device "${pathOnHost}:${pathInContainer}": the container path must be absolute`, 'use --device /dev/NAME[:/dev/NAME_IN_CONTAINER[:PERMS]]');
    out.push({ pathOnHost, pathInContainer, cgroupPermissions: checkDeviceAccess(str('CgroupPermissions') || 'rwm', pathOnHost) });
  }
  return out.length > 0 ? out : undefined;
}

function devicesOf(raw: unknown): { devices?: DeviceMapping[] } {
  const devices = parseDevices(raw);
  return devices === undefined ? {} : { devices };
}

/**
 * HostConfig.SecurityOpt, Docker's forms: `no-new-privileges[=|:BOOL]` sets no_new_privs; `seccomp=unconfined`,
 * `seccomp=builtin` or `seccomp=<the profile's JSON>` (what docker's CLI sends for `seccomp=FILE.json`) choose the
 * seccomp profile, checked here. Gantry has no AppArmor or SELinux profile, so asking for none (`apparmor=unconfined`,
 * `label=disable`) is what it does anyway; asking for one is refused rather than silently not applied.
 */
export function parseSecurityOpt(raw: unknown): { noNewPrivileges: boolean; seccomp?: SeccompChoice | undefined; given: string[] } {
  let noNewPrivileges = false;
  let seccomp: SeccompChoice | undefined;
  const given = asStringArray(raw, 'HostConfig.SecurityOpt');
  for (const opt of given) {
    const nnp = noNewPrivilegesOption(opt);
    if (nnp === 'invalid') throw invalid(`invalid --security-opt 2: "${opt}"`, 'use no-new-privileges=true or =false');
    if (nnp !== undefined) { noNewPrivileges = nnp; continue; }
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : undefined;
    if (sep === undefined) throw invalid(`invalid --security-opt 1: "${opt}"`, 'use no-new-privileges, or KEY=VALUE');
    const key = opt.slice(0, opt.indexOf(sep));
    const value = opt.slice(opt.indexOf(sep) + 1);
    if (key === 'seccomp') {
      seccomp = seccompChoiceOf(value);
    } else if (key === 'apparmor' || key === 'label') {
      if (value === 'unconfined' || (key === 'label' && value === 'disable')) continue;
      throw new GantryError('UNSUPPORTED', `--security-opt "${opt}": gantry applies no ${key} profile`, {
        hint: `leave the option out (containers run without ${key === 'label' ? 'SELinux labels' : `a ${key} profile`}), or use docker for this container`,
      });
    } else {
      throw invalid(`invalid --security-opt 2: "${opt}"`, 'known options: no-new-privileges, seccomp=unconfined|PROFILE.json, apparmor=unconfined, label=disable');
    }
  }
  return { noNewPrivileges, seccomp, given };
}

/** The host settings of HostConfig.SecurityOpt: only what is set, so a record without options stays as before. */
function securityOf(raw: unknown): Pick<HostSettings, 'noNewPrivileges' | 'seccomp' | 'securityOpt'> {
  const { noNewPrivileges, seccomp, given } = parseSecurityOpt(raw);
  return { ...(noNewPrivileges ? { noNewPrivileges: true } : {}), ...(seccomp === undefined ? {} : { seccomp }),
    ...(given.length > 0 ? { securityOpt: given } : {}) };
}

function hostSettings(b: ContainerCreateOptions): HostSettings {
  const hc = b.HostConfig ?? {};
  const mounts: MountSpec[] = [];
  // A bare absolute TARGET in Binds is an anonymous volume (Docker accepts it; docker-py's volumes=['/data'] sends it).
  for (const bind of asStringArray(hc.Binds, 'HostConfig.Binds')) if (!isAnonymousBind(bind)) mounts.push(parseBind(bind));
  for (const m of hc.Mounts ?? []) {
    if (m.Type !== 'bind' && m.Type !== 'volume' && m.Type !== 'tmpfs') throw invalid(`unsupported mount type "${m.Type}"`, 'use bind, volume or tmpfs');
    if (!m.Target || !isAbsolute(m.Target)) throw invalid(`mount target "${m.Target}" must be an absolute path`);
    mounts.push({ type: m.Type, source: m.Source ?? '', target: m.Target, readOnly: m.ReadOnly ?? false, ...(m.VolumeOptions?.NoCopy ? { noCopy: true } : {}),
      tmpfsOptions: m.Type === 'tmpfs' ? tmpfsMountOptions(m.TmpfsOptions?.SizeBytes, m.TmpfsOptions?.Mode) : undefined });
  }
  for (const [target, opts] of Object.entries(hc.Tmpfs ?? {})) {
    if (!isAbsolute(target)) throw invalid(`tmpfs target "${target}" must be an absolute path`);
    mounts.push({ type: 'tmpfs', source: '', target, readOnly: false, tmpfsOptions: opts });
  }
  const rp = hc.RestartPolicy ?? { Name: 'no' };
  const rpName = (rp.Name === '' || rp.Name === undefined ? 'no' : rp.Name) as RestartPolicyName;
  const d = defaultHostSettings();
  const consoleSize = parseConsoleSize((hc as { ConsoleSize?: unknown }).ConsoleSize);
  return {
    ...d, mounts, memoryBytes: hc.Memory ?? 0, memorySwapBytes: hc.MemorySwap ?? 0, cpuShares: hc.CpuShares ?? 0, pidsLimit: hc.PidsLimit ?? 0,
    nanoCpus: hc.NanoCpus ?? (hc.CpuQuota && hc.CpuQuota > 0 ? Math.round((hc.CpuQuota / (hc.CpuPeriod || 100_000)) * 1e9) : 0),
    // Docker's default: the default bridge network.
    networkMode: hc.NetworkMode && hc.NetworkMode !== 'default' ? hc.NetworkMode : 'bridge',
    networks: Object.entries(b.NetworkingConfig?.EndpointsConfig ?? {}).map(([network, ep]) => ({
      network, aliases: asStringArray(ep.Aliases, 'Aliases'), ipv4Address: ep.IPAMConfig?.IPv4Address || undefined,
    })),
    portBindings: parsePortBindings(hc.PortBindings), publishAllPorts: hc.PublishAllPorts ?? false,
    restartPolicy: { name: rpName, maximumRetryCount: rp.MaximumRetryCount ?? 0 },
    autoRemove: hc.AutoRemove ?? false, readonlyRootfs: hc.ReadonlyRootfs ?? false, init: hc.Init ?? false,
    capAdd: asStringArray(hc.CapAdd, 'HostConfig.CapAdd'), capDrop: asStringArray(hc.CapDrop, 'HostConfig.CapDrop'),
    ulimits: (hc.Ulimits ?? []).map((u) => ({ name: u.Name ?? '', soft: u.Soft ?? 0, hard: u.Hard ?? 0 })),
    sysctls: hc.Sysctls ?? {}, extraHosts: asStringArray(hc.ExtraHosts, 'HostConfig.ExtraHosts'),
    dns: asStringArray(hc.Dns, 'HostConfig.Dns'), dnsSearch: hc.DnsSearch ?? [], oomScoreAdj: hc.OomScoreAdj ?? 0,
    shmSizeBytes: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : d.shmSizeBytes, privileged: hc.Privileged ?? false,
    logConfig: parseLogConfig(hc.LogConfig as unknown),
    ...devicesOf(hc.Devices as unknown),
    ...securityOf(hc.SecurityOpt as unknown),
    ...(consoleSize === undefined ? {} : { consoleSize }),
  };
}


/** Maps a Docker create body onto the engine's spec; throws for shapes Docker would refuse. */
export function specFromDockerCreate(req: CreateRequest): ContainerSpec {
  const b = req.body;
  return {
    name: req.name, image: b.Image ?? '',
    entrypoint: b.Entrypoint === undefined || b.Entrypoint === null ? undefined : asStringArray(b.Entrypoint, 'Entrypoint'),
    cmd: b.Cmd === undefined || b.Cmd === null ? undefined : asStringArray(b.Cmd, 'Cmd'),
    env: asStringArray(b.Env, 'Env'),
    workingDir: b.WorkingDir || undefined, user: b.User, hostname: b.Hostname || undefined, domainname: b.Domainname,
    tty: b.Tty ?? false, openStdin: b.OpenStdin ?? false, stdinOnce: b.StdinOnce ?? false,
    ...(b.AttachStdin || b.AttachStdout || b.AttachStderr ? { attach: { stdin: b.AttachStdin ?? false, stdout: b.AttachStdout ?? false, stderr: b.AttachStderr ?? false } } : {}),
    labels: b.Labels ?? {}, stopSignal: b.StopSignal, stopTimeoutSeconds: b.StopTimeout,
    exposedPorts: Object.keys(b.ExposedPorts ?? {}), healthcheck: healthcheck(b.Healthcheck),
    anonymousVolumes: [...new Set([...Object.keys(b.Volumes ?? {}), ...asStringArray(b.HostConfig?.Binds, 'HostConfig.Binds').filter(isAnonymousBind)])],
    host: hostSettings(b),
  };
}

/** Fields of Docker's update body gantry applies; any other one given with a value is refused, not ignored. */
const UPDATE_FIELDS = new Set(['Memory', 'MemorySwap', 'NanoCpus', 'CpuQuota', 'CpuPeriod', 'CpuShares', 'PidsLimit', 'RestartPolicy']);

/** `POST /containers/{id}/update`: Docker's zero means "unchanged" for every resource field. */
export function resourceUpdateFromDocker(raw: unknown): ContainerResourceUpdate {
  if (typeof raw !== 'object' || raw === null) throw invalid('the update body must be a JSON object');
  const b = raw as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    const empty = v === undefined || v === null || v === 0 || v === '' || v === false || (Array.isArray(v) && v.length === 0);
    if (!UPDATE_FIELDS.has(k) && !empty) {
      throw new GantryError('UNSUPPORTED', `updating ${k} is not supported`, { hint: `gantry updates ${[...UPDATE_FIELDS].join(', ')}` });
    }
  }
  const num = (k: string): number | undefined => {
    const v = b[k];
    if (v === undefined || v === null || v === 0) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${k} must be a number`);
    return v;
  };
  const out: ContainerResourceUpdate = {};
  const memory = num('Memory');
  if (memory !== undefined) out.memoryBytes = memory;
  const swap = num('MemorySwap');
  if (swap !== undefined) out.memorySwapBytes = swap;
  const quota = num('CpuQuota');
  const nano = num('NanoCpus') ?? (quota !== undefined && quota > 0 ? Math.round((quota / (num('CpuPeriod') ?? 100_000)) * 1e9) : undefined);
  if (nano !== undefined) out.nanoCpus = nano;
  const shares = num('CpuShares');
  if (shares !== undefined) out.cpuShares = shares;
  const pids = num('PidsLimit');
  if (pids !== undefined) out.pidsLimit = pids;
  const rp = b['RestartPolicy'] as { Name?: string; MaximumRetryCount?: number } | undefined;
  if (rp !== undefined && rp !== null && typeof rp.Name === 'string' && rp.Name !== '') {
    out.restartPolicy = { name: rp.Name as RestartPolicyName, maximumRetryCount: rp.MaximumRetryCount ?? 0 };
  }
  return out;
}
