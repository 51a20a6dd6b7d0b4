// The stack model mapped onto the engine's typed specs: one place, pure (file paths for secrets/configs are
// given by the caller, which writes them). No Docker bodies on the way.
import { GantryError } from '../common/errors.js';
import { defaultHostSettings, healthcheckFromNanos, tmpfsMountOptions, type ContainerSpec } from '../engine/containers/container-spec.js';
import type { HealthcheckConfig, HostSettings, MountSpec, NetworkAttachment, PortBinding, RestartPolicy, RestartPolicyName } from '../engine/containers/record.js';
import type { NetworkCreateRequest } from '../engine/engine.js';
import type { SeccompChoice } from '../engine/seccomp/index.js';
import { seccompOptionValue } from '../common/seccomp-option.js';
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

/** `restart`, or deploy.restart_policy when `restart` is not set (compose's mapping of its conditions). */
export function restartPolicy(s: ServiceModel): RestartPolicy {
  const [name = 'no', max] = s.restart.split(':');
  if (s.restart === 'no' && s.deploy.restart_policy !== undefined) {
    const rp = s.deploy.restart_policy;
    if (rp.condition === 'any') return { name: 'always', maximumRetryCount: 0 };
    if (rp.condition === 'unless-stopped') return { name: 'unless-stopped', maximumRetryCount: 0 };
    if (rp.condition === 'on-failure') return { name: 'on-failure', maximumRetryCount: rp.max_attempts ?? 0 };
    return { name: 'no', maximumRetryCount: 0 };
  }
  return { name: name as RestartPolicyName, maximumRetryCount: max === undefined ? 0 : Number(max) };
}

/** Host port for replica `num` of a published spec ("8080" or a range "8080-8082"). */
function hostPort(published: string | undefined, num: number): string {
  if (published === undefined) return '';
  const [lo, hi] = published.split('-');
  if (hi === undefined) return lo ?? '';
  const port = Number(lo) + num - 1;
  return port <= Number(hi) ? String(port) : '';
}

/** The service's healthcheck with Docker's defaults; undefined: the image's; 'none': disabled. */
function healthcheck(s: ServiceModel): HealthcheckConfig | 'none' | undefined {
  const h = s.healthcheck;
  if (h === undefined) return undefined;
  if (h.disable || h.test[0] === 'NONE') return 'none';
  if (h.test.length === 0) return undefined;
  return healthcheckFromNanos({ Test: h.test, Interval: h.interval, Timeout: h.timeout, StartPeriod: h.start_period, StartInterval: h.start_interval, Retries: h.retries });
}

/** Container `num` of service `s` as the engine's typed spec. */
export function containerSpec(model: StackModel, s: ServiceModel, num: number, hash: string, files: StackFiles): ContainerSpec {
  if (s.image === undefined) {
    throw new GantryError('UNSUPPORTED', `service "${s.name}" has no image`, { hint: 'building images (build:) is not supported yet; give the service an image' });
  }
  const name = serviceContainerName(model, s, num);
  const labels: Record<string, string> = { ...s.labels, ...containerLabels(model.name, s.name, num, hash) };
  if (gantryExtension(s).restartOnUnhealthy) labels[LABEL.RESTART_ON_UNHEALTHY] = 'true';

  const exposed = new Set(s.expose.map((e) => (e.includes('/') ? e : `${e}/tcp`)));
  const portBindings: PortBinding[] = [];
  for (const p of s.ports) {
    if (p.protocol === 'sctp') throw new GantryError('UNSUPPORTED', `service "${s.name}": sctp ports are not supported`, { hint: 'publish tcp or udp ports' });
    exposed.add(`${p.target}/${p.protocol}`);
    const hp = hostPort(p.published, num);
    portBindings.push({ containerPort: p.target, protocol: p.protocol, hostIp: p.host_ip ?? '', hostPort: hp === '' ? 0 : Number(hp) });
  }

  const mounts: MountSpec[] = [];
  const anonymous: string[] = [];
  for (const m of s.volumes) {
    if (m.type === 'volume' && m.source === undefined) { anonymous.push(m.target); continue; }
    if (m.type === 'tmpfs') {
      mounts.push({ type: 'tmpfs', source: '', target: m.target, readOnly: m.read_only, tmpfsOptions: tmpfsMountOptions(m.tmpfs?.size, m.tmpfs?.mode) });
      continue;
    }
    const source = m.type === 'volume' ? model.volumes[m.source!]?.name ?? m.source! : m.source!;
    mounts.push({ type: m.type, source, target: m.target, readOnly: m.read_only, ...(m.volume?.nocopy ? { noCopy: true } : {}) });
  }
  for (const [kind, grants] of [['secret', s.secrets], ['config', s.configs]] as const) {
    for (const g of grants) {
      const path = (kind === 'secret' ? files.secrets : files.configs)[g.source];
      if (path === undefined) throw new GantryError('INVALID_ARGUMENT', `${kind} "${g.source}" of service "${s.name}" has no content`, { hint: `define it under top-level ${kind}s` });
      mounts.push({ type: 'bind', source: path, target: g.target, readOnly: true });
    }
  }
  for (const t of s.tmpfs) {
    const i = t.indexOf(':');
    mounts.push({ type: 'tmpfs', source: '', target: i < 0 ? t : t.slice(0, i), readOnly: false, tmpfsOptions: i < 0 ? '' : t.slice(i + 1) });
  }

  let networkMode: string;
  const networks: NetworkAttachment[] = [];
  if (s.network_mode !== undefined) {
    networkMode = s.network_mode.startsWith('service:')
      ? `container:${serviceContainerName(model, model.services[s.network_mode.slice(8)] ?? s, 1)}`
      : s.network_mode;
  } else {
    const keys = Object.entries(s.networks).sort(([a, x], [b, y]) => y.priority - x.priority || a.localeCompare(b)).map(([k]) => k);
    networkMode = keys.length === 0 ? 'none' : model.networks[keys[0]!]?.name ?? keys[0]!;
    for (const k of keys) {
      const att = s.networks[k]!;
      networks.push({ network: model.networks[k]?.name ?? k, aliases: [...new Set([s.name, name, ...att.aliases])], ipv4Address: att.ipv4_address });
    }
  }

  const memory = s.deploy.limits.memory ?? s.mem_limit;
  const cpus = s.deploy.limits.cpus ?? s.cpus;
  const pids = s.deploy.limits.pids ?? s.pids_limit;
  const d = defaultHostSettings();
  return {
    name, image: s.image,
    entrypoint: s.entrypoint === undefined ? undefined : [...s.entrypoint],
    cmd: s.command === undefined ? undefined : [...s.command],
    env: Object.entries(s.environment).flatMap(([k, v]) => (v === null ? [] : [`${k}=${v}`])),
    workingDir: s.working_dir, user: s.user, hostname: s.hostname, domainname: s.domainname,
    tty: s.tty, openStdin: s.stdin_open, stdinOnce: false, labels,
    stopSignal: s.stop_signal, stopTimeoutSeconds: s.stop_grace_period === undefined ? undefined : Math.ceil(s.stop_grace_period / 1e9),
    exposedPorts: [...exposed], healthcheck: healthcheck(s), anonymousVolumes: anonymous,
    // Its anonymous volumes say whose they are, so the container that next takes this slot (after a `down`, or a
    // scale down and up) finds their data again (inherit-volumes.ts).
    anonymousVolumeLabels: { [LABEL.PROJECT]: model.name, [LABEL.SERVICE]: s.name, [LABEL.NUMBER]: String(num) },
    host: {
      ...d, mounts, portBindings, networkMode, networks,
      restartPolicy: restartPolicy(s),
      memoryBytes: memory ?? 0, memorySwapBytes: s.memswap_limit ?? 0, nanoCpus: cpus === undefined ? 0 : Math.round(cpus * 1e9),
      pidsLimit: pids ?? 0, shmSizeBytes: s.shm_size !== undefined && s.shm_size > 0 ? s.shm_size : d.shmSizeBytes,
      capAdd: [...s.cap_add], capDrop: [...s.cap_drop], readonlyRootfs: s.read_only, init: s.init, privileged: s.privileged,
      ulimits: Object.entries(s.ulimits).map(([n, u]) => ({ name: n, soft: u.soft, hard: u.hard })),
      sysctls: { ...s.sysctls }, extraHosts: [...s.extra_hosts], dns: [...s.dns], dnsSearch: [...s.dns_search],
      ...(s.logging !== undefined ? { logConfig: { type: s.logging.driver, config: { ...s.logging.options } } } : {}),
      ...securityOf(s.security_opt),
    },
  };
}

/** security_opt as the loader normalized it (a seccomp profile already read and checked) onto the host settings;
 * nothing set when the service sets nothing. */
function securityOf(opts: readonly string[] | undefined): Pick<HostSettings, 'noNewPrivileges' | 'seccomp' | 'securityOpt'> {
  if (opts === undefined || opts.length === 0) return {};
  const value = opts.map(seccompOptionValue).find((v) => v !== undefined);
  const seccomp: SeccompChoice | undefined = value === 'unconfined' ? { kind: 'unconfined' }
    : value?.startsWith('{') === true ? { kind: 'profile', json: value } : undefined;
  return { ...(opts.includes('no-new-privileges') ? { noNewPrivileges: true } : {}), ...(seccomp === undefined ? {} : { seccomp }), securityOpt: [...opts] };
}

/** A stack network as the engine's create request. */
export function networkSpec(project: string, key: string, n: NetworkModel): NetworkCreateRequest {
  const c = n.ipam.config[0];
  return { name: n.name, driver: n.driver ?? 'bridge', internal: n.internal, options: { ...n.driver_opts },
    labels: { ...n.labels, ...networkLabels(project, key) }, subnet: c?.subnet || undefined, gateway: c?.gateway || undefined };
}
