// A service container in Docker's create shape (ContainerCreateOptions), built from the normalised model.
// Pure: file paths for secrets/configs are given by the caller (the daemon writes them).
import type { ContainerCreateOptions, NetworkCreateOptions } from 'dockerode';
import { GantryError } from '../common/errors.js';
import type { NetworkModel, ServiceModel, StackModel } from '../stack/model.js';
import { containerLabels, LABEL, networkLabels } from './labels.js';
import { serviceContainerName } from './plan.js';

/** Host files holding the content of each secret/config (key under top-level secrets/configs → path). */
export interface StackFiles {
  readonly secrets: Readonly<Record<string, string>>;
  readonly configs: Readonly<Record<string, string>>;
}

/** Reads the `x-gantry` extension of a service: `{ restart-on-unhealthy: true }`. */
export function gantryExtension(s: ServiceModel): { restartOnUnhealthy: boolean } {
  const x = s.x['x-gantry'];
  const obj = typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {};
  return { restartOnUnhealthy: obj['restart-on-unhealthy'] === true };
}

function restartPolicy(s: ServiceModel): { Name: string; MaximumRetryCount?: number } {
  const [name = 'no', max] = s.restart.split(':');
  if (s.restart === 'no' && s.deploy.restart_policy !== undefined) {
    const rp = s.deploy.restart_policy;
    if (rp.condition === 'any') return { Name: 'always' };
    if (rp.condition === 'unless-stopped') return { Name: 'unless-stopped' };
    if (rp.condition === 'on-failure') return { Name: 'on-failure', MaximumRetryCount: rp.max_attempts ?? 0 };
    return { Name: 'no' };
  }
  return max === undefined ? { Name: name } : { Name: name, MaximumRetryCount: Number(max) };
}

/** Host port for replica `num` of a published spec ("8080" or a range "8080-8082"). */
function hostPort(published: string | undefined, num: number): string {
  if (published === undefined) return '';
  const [lo, hi] = published.split('-');
  if (hi === undefined) return lo ?? '';
  const port = Number(lo) + num - 1;
  return port <= Number(hi) ? String(port) : '';
}

export function containerCreateBody(model: StackModel, s: ServiceModel, num: number, hash: string, files: StackFiles): ContainerCreateOptions {
  if (s.image === undefined) {
    throw new GantryError('UNSUPPORTED', `service "${s.name}" has no image`, { hint: 'building images (build:) is not supported yet; give the service an image' });
  }
  const name = serviceContainerName(model, s, num);
  const labels: Record<string, string> = { ...s.labels, ...containerLabels(model.name, s.name, num, hash) };
  if (gantryExtension(s).restartOnUnhealthy) labels[LABEL.RESTART_ON_UNHEALTHY] = 'true';

  const exposed: Record<string, object> = {};
  for (const e of s.expose) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of s.ports) {
    const key = `${p.target}/${p.protocol}`;
    exposed[key] = {};
    (portBindings[key] ??= []).push({ HostIp: p.host_ip ?? '', HostPort: hostPort(p.published, num) });
  }

  const mounts: NonNullable<NonNullable<ContainerCreateOptions['HostConfig']>['Mounts']> = [];
  const anonymous: Record<string, object> = {};
  for (const m of s.volumes) {
    if (m.type === 'volume' && m.source === undefined) { anonymous[m.target] = {}; continue; }
    if (m.type === 'tmpfs') {
      mounts.push({ Type: 'tmpfs', Source: '', Target: m.target, ReadOnly: m.read_only,
        TmpfsOptions: { SizeBytes: m.tmpfs?.size ?? 0, Mode: m.tmpfs?.mode ?? 0 } });
      continue;
    }
    const source = m.type === 'volume' ? model.volumes[m.source!]?.name ?? m.source! : m.source!;
    mounts.push({ Type: m.type, Source: source, Target: m.target, ReadOnly: m.read_only });
  }
  for (const [kind, grants] of [['secret', s.secrets], ['config', s.configs]] as const) {
    for (const g of grants) {
      const path = (kind === 'secret' ? files.secrets : files.configs)[g.source];
      if (path === undefined) throw new GantryError('INVALID_ARGUMENT', `${kind} "${g.source}" of service "${s.name}" has no content`, { hint: `define it under top-level ${kind}s` });
      mounts.push({ Type: 'bind', Source: path, Target: g.target, ReadOnly: true });
    }
  }
  const tmpfs: Record<string, string> = {};
  for (const t of s.tmpfs) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }

  let networkMode: string;
  const endpoints: Record<string, { Aliases: string[]; IPAMConfig?: { IPv4Address: string } }> = {};
  if (s.network_mode !== undefined) {
    networkMode = s.network_mode.startsWith('service:')
      ? `container:${serviceContainerName(model, model.services[s.network_mode.slice(8)] ?? s, 1)}`
      : s.network_mode;
  } else {
    const keys = Object.entries(s.networks).sort(([a, x], [b, y]) => y.priority - x.priority || a.localeCompare(b)).map(([k]) => k);
    networkMode = keys.length === 0 ? 'none' : model.networks[keys[0]!]?.name ?? keys[0]!;
    for (const k of keys) {
      const att = s.networks[k]!;
      const netName = model.networks[k]?.name ?? k;
      endpoints[netName] = { Aliases: [...new Set([s.name, name, ...att.aliases])],
        ...(att.ipv4_address !== undefined ? { IPAMConfig: { IPv4Address: att.ipv4_address } } : {}) };
    }
  }

  const memory = s.deploy.limits.memory ?? s.mem_limit;
  const cpus = s.deploy.limits.cpus ?? s.cpus;
  const pids = s.deploy.limits.pids ?? s.pids_limit;
  const h = s.healthcheck;
  const ms = (ns: number | undefined): number | undefined => ns;
  const healthcheck = h === undefined ? undefined : h.disable || h.test[0] === 'NONE' ? { Test: ['NONE'] } : {
    Test: [...h.test], Interval: ms(h.interval), Timeout: ms(h.timeout), StartPeriod: ms(h.start_period),
    StartInterval: ms(h.start_interval), Retries: h.retries,
  };
  const env = Object.entries(s.environment).flatMap(([k, v]) => (v === null ? [] : [`${k}=${v}`]));
  return {
    Image: s.image,
    ...(s.command !== undefined ? { Cmd: [...s.command] } : {}),
    ...(s.entrypoint !== undefined ? { Entrypoint: [...s.entrypoint] } : {}),
    Env: env, Labels: labels, ExposedPorts: exposed, Volumes: anonymous,
    ...(s.user !== undefined ? { User: s.user } : {}),
    ...(s.working_dir !== undefined ? { WorkingDir: s.working_dir } : {}),
    ...(s.hostname !== undefined ? { Hostname: s.hostname } : {}),
    ...(s.domainname !== undefined ? { Domainname: s.domainname } : {}),
    ...(s.stop_signal !== undefined ? { StopSignal: s.stop_signal } : {}),
    ...(s.stop_grace_period !== undefined ? { StopTimeout: Math.ceil(s.stop_grace_period / 1e9) } : {}),
    ...(healthcheck !== undefined ? { Healthcheck: healthcheck } : {}),
    Tty: s.tty, OpenStdin: s.stdin_open,
    HostConfig: {
      Mounts: mounts, Tmpfs: tmpfs, PortBindings: portBindings, RestartPolicy: restartPolicy(s),
      ...(memory !== undefined ? { Memory: memory } : {}),
      ...(s.memswap_limit !== undefined ? { MemorySwap: s.memswap_limit } : {}),
      ...(cpus !== undefined ? { NanoCpus: Math.round(cpus * 1e9) } : {}),
      ...(pids !== undefined ? { PidsLimit: pids } : {}),
      ...(s.shm_size !== undefined ? { ShmSize: s.shm_size } : {}),
      CapAdd: [...s.cap_add], CapDrop: [...s.cap_drop], ReadonlyRootfs: s.read_only, Init: s.init, Privileged: s.privileged,
      Ulimits: Object.entries(s.ulimits).map(([n, u]) => ({ Name: n, Soft: u.soft, Hard: u.hard })),
      Sysctls: { ...s.sysctls }, ExtraHosts: [...s.extra_hosts], Dns: [...s.dns], DnsSearch: [...s.dns_search],
      NetworkMode: networkMode,
    },
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
}

/** A stack network in Docker's create shape. */
export function networkCreateBody(project: string, key: string, n: NetworkModel): NetworkCreateOptions {
  const config = n.ipam.config.map((c) => ({ ...(c.subnet ? { Subnet: c.subnet } : {}), ...(c.gateway ? { Gateway: c.gateway } : {}), ...(c.ip_range ? { IPRange: c.ip_range } : {}) }));
  return { Name: n.name, Driver: n.driver ?? 'bridge', Internal: n.internal, Attachable: n.attachable, Options: { ...n.driver_opts },
    Labels: { ...n.labels, ...networkLabels(project, key) }, ...(config.length > 0 ? { IPAM: { Driver: 'default', Config: config } } : {}) };
}
