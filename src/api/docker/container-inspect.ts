// Container views rendered in the Docker Engine API's shapes (inspect and list), with what networking knows.
import type { ContainerInfo, ContainerInspectInfo, HostConfig } from 'dockerode';
import { psEntryOf, type PsEntry } from '../../common/ps-view.js';
import { formatAgo } from '../../common/units.js';
import type { Engine } from '../../engine/engine.js';
import { logConfigOf, type ContainerView } from '../../engine/containers/record.js';

export interface InspectPaths { dir: string; logPath: string; volumeDir: (name: string) => string }

function hostConfig(rec: ContainerView): HostConfig {
  const h = rec.host;
  const log = logConfigOf(h);
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of h.portBindings) (portBindings[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' });
  return {
    Binds: h.mounts.filter((m) => m.type !== 'tmpfs').map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
    NetworkMode: h.networkMode, PortBindings: portBindings, PublishAllPorts: h.publishAllPorts,
    RestartPolicy: { Name: h.restartPolicy.name, MaximumRetryCount: h.restartPolicy.maximumRetryCount },
    AutoRemove: h.autoRemove, ReadonlyRootfs: h.readonlyRootfs, Init: h.init, CapAdd: [...h.capAdd], CapDrop: [...h.capDrop],
    Memory: h.memoryBytes, MemorySwap: h.memorySwapBytes, NanoCpus: h.nanoCpus, CpuShares: h.cpuShares, PidsLimit: h.pidsLimit,
    Ulimits: h.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })), Sysctls: { ...h.sysctls },
    ExtraHosts: [...h.extraHosts], Dns: [...h.dns], DnsSearch: [...h.dnsSearch], OomScoreAdj: h.oomScoreAdj, ShmSize: h.shmSizeBytes, ConsoleSize: [...(h.consoleSize ?? [0, 0])],
    Privileged: h.privileged,
    Devices: (h.devices ?? []).map((d) => ({ PathOnHost: d.pathOnHost, PathInContainer: d.pathInContainer, CgroupPermissions: d.cgroupPermissions })),
    SecurityOpt: h.securityOpt !== undefined ? [...h.securityOpt] : h.noNewPrivileges === true ? ['no-new-privileges'] : null, LogConfig: { Type: log.type, Config: { ...log.config } }, Tmpfs: Object.fromEntries(h.mounts.filter((m) => m.type === 'tmpfs').map((m) => [m.target, m.tmpfsOptions ?? ''])),
  };
}

function mounts(rec: ContainerView, p: Pick<InspectPaths, 'volumeDir'>): ContainerInspectInfo['Mounts'] {
  return rec.host.mounts.filter((m) => m.type !== 'tmpfs').map((m) => ({
    Type: m.type, ...(m.type === 'volume' ? { Name: m.source, Driver: 'local' } : {}),
    Source: m.type === 'volume' ? p.volumeDir(m.source) : m.source, Destination: m.target,
    Mode: m.readOnly ? 'ro' : '', RW: !m.readOnly, Propagation: m.type === 'bind' ? 'rprivate' : '',
  }));
}

export function inspectContainer(rec: ContainerView, p: InspectPaths): ContainerInspectInfo {
  const s = rec.state;
  const argv = [...rec.config.entrypoint, ...rec.config.cmd];
  return {
    Id: rec.id, Created: rec.created, Path: argv[0] ?? '', Args: argv.slice(1),
    State: {
      Status: s.status, Running: s.status === 'running' || s.status === 'paused', Paused: s.status === 'paused',
      Restarting: s.status === 'restarting', OOMKilled: s.oomKilled, Dead: s.status === 'dead', Pid: s.pid,
      ExitCode: s.exitCode, Error: s.error, StartedAt: s.startedAt, FinishedAt: s.finishedAt,
      ...(s.health ? { Health: { Status: s.health.status, FailingStreak: s.health.failingStreak,
        Log: s.health.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })) } } : {}),
    },
    Image: rec.config.imageId, ResolvConfPath: `${p.dir}/resolv.conf`, HostnamePath: `${p.dir}/hostname`, HostsPath: `${p.dir}/hosts`,
    LogPath: logConfigOf(rec.host).type === 'none' ? '' : p.logPath, Name: `/${rec.name}`, RestartCount: s.restartCount, Driver: 'overlay2', Platform: 'linux',
    MountLabel: '', ProcessLabel: '', AppArmorProfile: '', HostConfig: hostConfig(rec),
    GraphDriver: { Name: 'overlay2', Data: { DeviceId: '', DeviceName: '', DeviceSize: '' } },
    Mounts: mounts(rec, p),
    Config: {
      Hostname: rec.config.hostname, Domainname: rec.config.domainname, User: rec.config.user,
      AttachStdin: rec.config.attach?.stdin ?? false, AttachStdout: rec.config.attach?.stdout ?? false, AttachStderr: rec.config.attach?.stderr ?? false,
      ExposedPorts: Object.fromEntries(rec.config.exposedPorts.map((e) => [e, {}])), Tty: rec.config.tty,
      OpenStdin: rec.config.openStdin, StdinOnce: rec.config.stdinOnce, Env: [...rec.config.env], Cmd: [...rec.config.cmd],
      Image: rec.config.image, Volumes: {}, WorkingDir: rec.config.workingDir, Entrypoint: [...rec.config.entrypoint],
      Labels: { ...rec.config.labels },
      ...(rec.config.healthcheck ? { Healthcheck: { Test: [...rec.config.healthcheck.test], Interval: rec.config.healthcheck.intervalMs * 1e6,
        Timeout: rec.config.healthcheck.timeoutMs * 1e6, StartPeriod: rec.config.healthcheck.startPeriodMs * 1e6, StartInterval: rec.config.healthcheck.startIntervalMs * 1e6, Retries: rec.config.healthcheck.retries } } : {}),
    },
    NetworkSettings: { SandboxID: '', Ports: {}, SandboxKey: '', Networks: {} },
  };
}

/** Docker's human status: "Up 3 minutes", "Exited (0) 2 seconds ago", "Created". */
export function humanStatus(rec: ContainerView, now = Date.now()): string {
  const s = rec.state;
  switch (s.status) {
    case 'created': return 'Created';
    case 'running': {
      const health = s.health ? ` (${s.health.status === 'starting' ? 'health: starting' : s.health.status})` : '';
      return `Up ${formatAgo(now - Date.parse(s.startedAt))}${health}`;
    }
    case 'paused': return `Up ${formatAgo(now - Date.parse(s.startedAt))} (Paused)`;
    case 'restarting': return `Restarting (${s.exitCode}) ${formatAgo(now - Date.parse(s.finishedAt))} ago`;
    case 'exited': return `Exited (${s.exitCode}) ${formatAgo(now - Date.parse(s.finishedAt))} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
  }
}

/** `p`: where volumes live (a list entry names no other file: its paths are not worked out, 10,000 at a `ps`). */
export function listEntry(rec: ContainerView, p: Pick<InspectPaths, 'volumeDir'>): ContainerInfo {
  return {
    Id: rec.id, Names: [`/${rec.name}`], Image: rec.config.image, ImageID: rec.config.imageId,
    Command: [...rec.config.entrypoint, ...rec.config.cmd].join(' '), Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: rec.host.portBindings.map((b) => ({ IP: b.hostIp, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.protocol })),
    Labels: { ...rec.config.labels }, State: rec.state.status, Status: humanStatus(rec),
    HostConfig: { NetworkMode: rec.host.networkMode }, NetworkSettings: { Networks: {} },
    Mounts: mounts(rec, p).map((m) => ({ ...m, Type: m.Type })),
  };
}

/** `GET /containers/{id}/json`: the record, its files and its network settings. */
export function inspectWithNetwork(engine: Engine, rec: ContainerView): ContainerInspectInfo {
  const p = engine.containerPaths(rec.id);
  const out = { ...inspectContainer(rec, { dir: p.dir, logPath: p.logPath, volumeDir: (n) => engine.volumes.dataDir(n) }), NetworkSettings: engine.networks.networkSettings(rec) };
  // In container:X mode the files in use are X's (followed through chains), as docker reports them.
  let peer = rec;
  for (let hops = 0; peer.host.networkMode.startsWith('container:') && hops < 16; hops++) {
    const next = engine.findContainer(peer.host.networkMode.slice('container:'.length));
    if (next === undefined) break;
    peer = next;
  }
  if (peer !== rec) {
    const pp = engine.containerPaths(peer.id);
    Object.assign(out, { HostsPath: pp.hostsPath, ResolvConfPath: pp.resolvConfPath, HostnamePath: pp.hostnamePath });
  }
  return out;
}

/** `GET /containers/json` entries (ps): ports as bound (random ones resolved), networks. */
export function listEntryWithNetwork(engine: Engine, rec: ContainerView): ContainerInfo {
  const entry = listEntry(rec, { volumeDir: (n) => engine.volumes.dataDir(n) });
  return { ...entry, Ports: portsOf(engine, rec), NetworkSettings: { Networks: engine.networks.networkSettings(rec).Networks } };
}

function portsOf(engine: Engine, rec: ContainerView): ContainerInfo['Ports'] {
  return engine.networks.publishedPorts(rec.id).map((b) => ({
    IP: b.hostIp === '' ? '0.0.0.0' : b.hostIp, PrivatePort: b.containerPort, PublicPort: b.hostPort, Type: b.protocol,
  }));
}

/** The entry of `gantry ps` (common/ps-view.ts): the list entry without what its table does not show. */
export function psEntryWithPorts(engine: Engine, rec: ContainerView): PsEntry {
  return psEntryOf({ ...listEntry(rec, { volumeDir: (n) => engine.volumes.dataDir(n) }), Ports: portsOf(engine, rec) });
}

/** A container whose record was refused, as `ps -a` lists it: Dead, with the reason, nothing else known. */
export function heldEntry(id: string, reason: string): ContainerInfo {
  return {
    Id: id, Names: [`/${id.slice(0, 12)}`], Image: '', ImageID: '', Command: '', Created: 0, Ports: [], Labels: {},
    State: 'dead', Status: `Dead (record refused: ${reason})`, HostConfig: { NetworkMode: '' }, NetworkSettings: { Networks: {} }, Mounts: [],
  };
}
