// `stack convert --to swarm`: the normalised model as a stack file for `docker stack deploy -c` (Docker's
// compose-file v3 schema, which refuses Compose Specification keys such as `mem_limit`, `cpus`, `pull_policy`
// or inline secret content, and ignores others in swarm mode). What swarm cannot carry is a located warning;
// inline secret/config content is written to files beside the output (`-o DIR`). Pure: files are returned.

import type { Diagnostic, DiagnosticCode, FileObjectModel, PathSeg, ServiceModel, StackModel, StackSource } from '../stack/index.js';
import { sortDiagnostics } from '../stack/report.js';

export interface SwarmResult {
  /** The stack file as plain data (key order is the printed order). */
  readonly stack: Record<string, unknown>;
  /** Files to write beside the stack file (relative name → content), for inline secrets and configs. */
  readonly files: ReadonlyMap<string, string>;
  readonly diagnostics: readonly Diagnostic[];
}

type Json = Record<string, unknown>;

/** Keys `docker stack deploy` ignores or refuses, and why (the rest is mapped below). */
const IGNORED: Record<string, string> = {
  build: 'swarm nodes pull the image: build and push it first (`gantry stack build`, `gantry stack push`)',
  container_name: 'swarm names the tasks of a service',
  depends_on: 'swarm starts services in any order',
  network_mode: 'swarm services attach to networks',
  security_opt: 'docker stack deploy ignores it',
  pull_policy: 'not in the compose-file v3 schema',
  develop: 'develop.watch is for `gantry watch` on one host',
  group_add: 'not in the compose-file v3 schema',
  logging: '',
  annotations: 'not in the compose-file v3 schema',
  mac_address: 'swarm assigns addresses',
  domainname: '',
  shm_size: 'swarm services have no shm size',
  privileged: 'swarm services cannot run privileged',
  stdin_open: 'swarm services have no standard input',
};

/** Go's duration text for nanoseconds (what the v3 schema's duration strings are). */
export function goDuration(ns: number): string {
  if (ns % 1e9 === 0) {
    const s = ns / 1e9;
    if (s >= 60 && s % 60 === 0) return s % 3600 === 0 ? `${s / 3600}h` : `${s / 60}m`;
    return `${s}s`;
  }
  if (ns % 1e6 === 0) return `${ns / 1e6}ms`;
  if (ns % 1e3 === 0) return `${ns / 1e3}us`;
  return `${ns}ns`;
}

function nonEmpty<T>(v: T[] | undefined): T[] | undefined {
  return v === undefined || v.length === 0 ? undefined : v;
}

function rec(r: Readonly<Record<string, string>>): Record<string, string> | undefined {
  return Object.keys(r).length === 0 ? undefined : { ...r };
}

class SwarmConverter {
  readonly diagnostics: Diagnostic[] = [];
  readonly files = new Map<string, string>();

  constructor(readonly model: StackModel, readonly source: StackSource) {}

  written(path: readonly PathSeg[]): boolean {
    let n = this.source.root;
    for (const seg of path) {
      const next: typeof n | undefined = typeof seg === 'number' ? (n.kind === 'seq' ? n.items[seg] : undefined) : n.kind === 'map' ? n.entries.get(seg)?.value : undefined;
      if (next === undefined) return false;
      n = next;
    }
    return true;
  }

  warn(code: DiagnosticCode, message: string, path: readonly PathSeg[], hint?: string, at: 'key' | 'value' = 'key'): void {
    this.diagnostics.push(this.source.diagnostic('warning', code, message, path, hint, at));
  }

  service(name: string, s: ServiceModel): Json {
    const path = ['services', name];
    for (const [key, why] of Object.entries(IGNORED)) {
      if (!this.written([...path, key])) continue;
      if (key === 'network_mode' && s.network_mode === 'bridge') continue;
      this.warn('SWARM_UNMAPPED_KEY', `\`${key}\` is not converted for swarm${why === '' ? '' : `: ${why}`}`, [...path, key]);
    }
    const mounts: Json[] = [];
    s.volumes.forEach((v, i) => {
      if (v.type === 'bind') this.warn('SWARM_HOST_BIND', `service "${name}" bind-mounts ${v.source ?? ''}: the path must exist on every node its tasks may run on`, [...path, 'volumes', i], 'use a named volume, a config, or a placement constraint pinning the service to one node', 'value');
      mounts.push({ type: v.type, source: v.source, target: v.target, read_only: v.read_only ? true : undefined,
        tmpfs: v.tmpfs?.size === undefined ? undefined : { size: v.tmpfs.size } });
    });
    const limits = { cpus: (s.deploy.limits.cpus ?? s.cpus)?.toString(), memory: (s.deploy.limits.memory ?? s.mem_limit)?.toString(), pids: s.deploy.limits.pids ?? s.pids_limit };
    const reservations = { cpus: s.deploy.reservations.cpus?.toString(), memory: (s.deploy.reservations.memory ?? s.mem_reservation)?.toString() };
    const defined = (o: Json): Json | undefined => (Object.values(o).some((x) => x !== undefined) ? o : undefined);
    const rp = s.deploy.restart_policy;
    const condition = rp?.condition ?? (s.restart === 'always' || s.restart === 'unless-stopped' ? 'any' : s.restart.startsWith('on-failure') ? 'on-failure' : this.written([...path, 'restart']) ? 'none' : undefined);
    const attempts = rp?.max_attempts ?? (s.restart.startsWith('on-failure:') ? Number(s.restart.slice(11)) : undefined);
    const h = s.healthcheck;
    const networks: Json = {};
    for (const [net, n] of Object.entries(s.networks)) networks[net] = n.aliases.length > 0 ? { aliases: [...n.aliases] } : null;
    return {
      image: s.image,
      entrypoint: s.entrypoint === undefined ? undefined : [...s.entrypoint],
      command: s.command === undefined ? undefined : [...s.command],
      working_dir: s.working_dir,
      user: s.user,
      environment: Object.keys(s.environment).length === 0 ? undefined : Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, v ?? ''])),
      ports: nonEmpty(s.ports.map((p) => ({ target: p.target, published: p.published === undefined ? undefined : Number(p.published.split('-')[0]), protocol: p.protocol, mode: p.mode }))),
      expose: nonEmpty([...s.expose]),
      volumes: nonEmpty(mounts),
      tmpfs: nonEmpty([...s.tmpfs]),
      networks: s.network_mode === undefined || s.network_mode === 'bridge' ? (Object.keys(networks).length === 0 ? undefined : networks) : undefined,
      healthcheck: h === undefined ? undefined : h.disable ? { disable: true } : {
        test: [...h.test], interval: h.interval === undefined ? undefined : goDuration(h.interval), timeout: h.timeout === undefined ? undefined : goDuration(h.timeout),
        retries: h.retries, start_period: h.start_period === undefined ? undefined : goDuration(h.start_period), start_interval: h.start_interval === undefined ? undefined : goDuration(h.start_interval) },
      deploy: {
        replicas: s.deploy.replicas,
        resources: defined({ limits: defined(limits), reservations: defined(reservations) }),
        restart_policy: condition === undefined ? undefined : { condition, max_attempts: attempts, delay: rp?.delay === undefined ? undefined : goDuration(rp.delay), window: rp?.window === undefined ? undefined : goDuration(rp.window) },
        labels: rec(s.deploy.labels),
      },
      labels: rec(s.labels),
      hostname: s.hostname,
      cap_add: nonEmpty([...s.cap_add]),
      cap_drop: nonEmpty([...s.cap_drop]),
      read_only: s.read_only ? true : undefined,
      init: s.init ? true : undefined,
      tty: s.tty ? true : undefined,
      stop_signal: s.stop_signal,
      stop_grace_period: s.stop_grace_period === undefined ? undefined : goDuration(s.stop_grace_period),
      sysctls: rec(s.sysctls),
      ulimits: Object.keys(s.ulimits).length === 0 ? undefined : Object.fromEntries(Object.entries(s.ulimits).map(([k, u]) => [k, { soft: u.soft, hard: u.hard }])),
      extra_hosts: nonEmpty([...s.extra_hosts]),
      dns: nonEmpty([...s.dns]),
      dns_search: nonEmpty([...s.dns_search]),
      secrets: nonEmpty(s.secrets.map((g) => ({ source: g.source, target: g.target, uid: g.uid, gid: g.gid, mode: g.mode }))),
      configs: nonEmpty(s.configs.map((g) => ({ source: g.source, target: g.target, uid: g.uid, gid: g.gid, mode: g.mode }))),
    };
  }

  fileObject(kind: 'secrets' | 'configs', key: string, o: FileObjectModel): Json {
    if (o.external) return { external: true, name: o.name };
    if (o.file !== undefined) return { name: o.name, file: o.file, labels: rec(o.labels) };
    // Inline content, or resolved from the environment by the CLI: swarm takes only files.
    const file = `${kind}/${key}`;
    this.files.set(file, o.content ?? '');
    return { name: o.name, file: `./${file}`, labels: rec(o.labels) };
  }

  stack(): Json {
    const services: Json = {};
    for (const name of Object.keys(this.model.services).sort()) services[name] = this.service(name, this.model.services[name]!);
    const networks: Json = {};
    for (const key of Object.keys(this.model.networks).sort()) {
      const n = this.model.networks[key]!;
      if (key === 'default' && !this.written(['networks', 'default'])) continue;
      networks[key] = n.external ? { external: true, name: n.name }
        : { name: n.name, driver: n.driver === undefined || n.driver === 'bridge' ? 'overlay' : n.driver, driver_opts: rec(n.driver_opts), internal: n.internal ? true : undefined, attachable: n.attachable ? true : undefined, labels: rec(n.labels) };
    }
    const volumes: Json = {};
    for (const key of Object.keys(this.model.volumes).sort()) {
      const v = this.model.volumes[key]!;
      volumes[key] = v.external ? { external: true, name: v.name } : { name: v.name, driver: v.driver, driver_opts: rec(v.driver_opts), labels: rec(v.labels) };
    }
    const files = (kind: 'secrets' | 'configs'): Json | undefined => {
      const keys = Object.keys(this.model[kind]).sort();
      return keys.length === 0 ? undefined : Object.fromEntries(keys.map((k) => [k, this.fileObject(kind, k, this.model[kind][k]!)]));
    };
    return {
      services,
      networks: Object.keys(networks).length === 0 ? undefined : networks,
      volumes: Object.keys(volumes).length === 0 ? undefined : volumes,
      secrets: files('secrets'),
      configs: files('configs'),
    };
  }
}

/** Drops undefined members; doubles every `$` (docker interpolates the file again; the model's values are final). */
function clean(v: unknown): unknown {
  if (typeof v === 'string') return v.replaceAll('$', '$$$$');
  if (Array.isArray(v)) return v.map(clean);
  if (v !== null && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) if (x !== undefined) out[k] = clean(x);
    return out;
  }
  return v;
}

export function convertToSwarm(model: StackModel, source: StackSource): SwarmResult {
  const c = new SwarmConverter(model, source);
  const stack = clean(c.stack()) as Json;
  for (const [file] of c.files) {
    const [kind, key] = file.split('/') as [string, string];
    c.diagnostics.push(source.diagnostic('warning', 'SWARM_INLINE_FILE', `${kind === 'secrets' ? 'secret' : 'config'} "${key}" has no file: its content is written to ${file} beside the stack file`, [kind, key], 'convert with -o DIR to get the file; keep it out of version control if it is a secret'));
  }
  return { stack, files: c.files, diagnostics: sortDiagnostics(c.diagnostics) };
}
