// The validated, merged tree -> the typed, immutable StackModel: long syntax everywhere, relative paths
// resolved, durations in nanoseconds and sizes in bytes. Problems a schema cannot see (a malformed
// duration, an unreadable env_file) are reported at their source.

import { existsSync } from 'node:fs';
import { formatPath } from './diagnostic.js';
import { parseEnvFile } from './env-file.js';
import type { FilePolicy } from './file-policy.js';
import { allowPath, insideProject, readCapped } from './file-policy.js';
import { resolveHostPath } from './host-path.js';
import { normalizeDevelop } from './develop.js';
import { normalizeLogging } from './logging.js';
import { normalizeSecurityOpt, type SecurityOptFiles } from './security-opt.js';
import type { Lookup } from './interpolate.js';
import type {
  DependencyCondition, DependencyModel, DeployModel, FileObjectModel, HealthcheckModel, NetworkModel, PortModel,
  BuildModel, ResourcesModel, RestartCondition, ServiceFileGrantModel, ServiceModel, ServiceNetworkModel, StackModel, UlimitModel, UpdateConfigModel, VolumeModel, VolumeMountModel,
} from './model.js';
import type { PathSeg, PMap, PNode, Pos } from './pnode.js';
import { getEntry, toPlain } from './pnode.js';
import type { Reporter } from './report.js';
import { isPathSource, parsePortShort, parseVolumeShort, SyntaxProblem } from './short-syntax.js';
import { readDuration } from '../common/units.js';
import { parseSize, shellSplit } from './units.js';

export interface NormalizeInput {
  readonly root: PMap;
  readonly name: string;
  readonly projectDir: string;
  readonly files: readonly string[];
  readonly profiles: readonly string[];
  readonly enabled: ReadonlySet<string>;
  readonly lookup: Lookup;
  readonly shell: Readonly<Record<string, string | undefined>>;
  readonly policy: FilePolicy;
  /** false: the model is not frozen (LoadOptions.freeze). */
  readonly freeze?: boolean | undefined;
}

// What every absent list or mapping of the model is (the model is frozen whole anyway): one object each, instead of
// ~15 new ones per service to make, freeze and walk.
const NO_STRINGS: string[] = Object.freeze([]) as unknown as string[];
const NO_STRING_MAP: Record<string, string> = Object.freeze({});
const NO_EXTENSIONS: Record<string, unknown> = Object.freeze({});

class Normalizer {
  constructor(
    readonly reporter: Reporter,
    readonly input: NormalizeInput,
  ) {}

  bad(node: PNode, path: readonly PathSeg[], message: string, hint?: string): undefined {
    this.reporter.error('SPEC_INVALID_VALUE', message, node.pos, path, hint);
    return undefined;
  }

  str(n: PNode | undefined): string | undefined {
    return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
  }

  int(n: PNode | undefined, path: readonly PathSeg[]): number | undefined {
    const s = this.str(n);
    if (s === undefined || n === undefined) return undefined;
    if (!/^-?[0-9]+$/.test(s.trim())) return this.bad(n, path, `${String(path[path.length - 1])} must be an integer, not ${JSON.stringify(s)}`);
    return Number(s);
  }

  num(n: PNode | undefined, path: readonly PathSeg[]): number | undefined {
    const s = this.str(n);
    if (s === undefined || n === undefined) return undefined;
    const v = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(v)) return this.bad(n, path, `${String(path[path.length - 1])} must be a number, not ${JSON.stringify(s)}`);
    return v;
  }

  bool(n: PNode | undefined, path: readonly PathSeg[], dflt = false): boolean {
    const s = this.str(n);
    if (s === undefined || n === undefined) return dflt;
    if (/^(true|yes|1)$/i.test(s)) return true;
    if (/^(false|no|0)$/i.test(s)) return false;
    this.bad(n, path, `${String(path[path.length - 1])} must be true or false, not ${JSON.stringify(s)}`);
    return dflt;
  }

  duration(n: PNode | undefined, path: readonly PathSeg[]): number | undefined {
    if (n?.kind !== 'scalar' || n.value === null) return undefined;
    const v = readDuration(typeof n.value === 'number' ? n.value : String(n.value));
    if ('problem' in v) return this.bad(n, path, `invalid duration for ${formatPath(path.slice(2))}: ${JSON.stringify(n.value)} (${v.problem})`, 'durations look like 30s, 1m30s, 500ms, 1.5h or 2us');
    return v.ns;
  }

  size(n: PNode | undefined, path: readonly PathSeg[]): number | undefined {
    if (n?.kind !== 'scalar' || n.value === null) return undefined;
    const v = parseSize(typeof n.value === 'number' ? n.value : String(n.value));
    if (v === undefined) return this.bad(n, path, `invalid size ${JSON.stringify(n.value)}`, 'sizes look like 512m, 1g, 64k or a number of bytes');
    return v;
  }

  strList(n: PNode | undefined): string[] {
    if (n === undefined) return NO_STRINGS;
    if (n.kind === 'scalar') return n.value === null ? NO_STRINGS : [String(n.value)];
    if (n.kind !== 'seq' || n.items.length === 0) return NO_STRINGS;
    const out: string[] = [];
    for (const i of n.items) if (i.kind === 'scalar' && i.value !== null) out.push(String(i.value));
    return out;
  }

  strMap(n: PNode | undefined): Record<string, string> {
    if (n?.kind !== 'map' || n.entries.size === 0) return NO_STRING_MAP;
    const out: Record<string, string> = {};
    n.entries.forEach((e, k) => { out[k] = this.str(e.value) ?? ''; });
    return out;
  }

  xOf(n: PNode | undefined): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    if (n?.kind === 'map') n.entries.forEach((e, k) => { if (k.startsWith('x-')) (out ??= {})[k] = toPlain(e.value); });
    return out ?? NO_EXTENSIONS;
  }

  path(p: string, pos: Pos): string {
    return resolveHostPath(pos.base || this.input.projectDir, p);
  }

  /** A seccomp profile file of `security_opt`: the same policy as an env_file (strict mode, cap, untrusted). */
  private secFiles: SecurityOptFiles | undefined;

  securityOptFiles(): SecurityOptFiles {
    // One for the whole stack: it depends on nothing of a service.
    return (this.secFiles ??= {
      path: (p, pos) => this.path(p, pos),
      read: (file, pos, path) => {
        if (!allowPath(this.input.policy, this.reporter, file, 'seccomp profile', pos, path)) return undefined;
        if (!insideProject(this.input.policy, file)) this.reporter.markUntrusted(file);
        return readCapped(this.input.policy, this.reporter, file, 'seccomp profile', pos, path);
      },
    });
  }

  words(n: PNode | undefined, path: readonly PathSeg[]): string[] | undefined {
    if (n === undefined || (n.kind === 'scalar' && n.value === null)) return undefined;
    if (n.kind === 'seq') return this.strList(n);
    const s = this.str(n) ?? '';
    const w = shellSplit(s);
    if (w === undefined) return this.bad(n, path, `unterminated quote in ${JSON.stringify(s)}`, 'close the quote, or write the command as a list');
    return w;
  }

  // ---------------------------------------------------------------------------------------------------

  stack(): StackModel {
    const { root, name } = this.input;
    const services: Record<string, ServiceModel> = {};
    const svcs = getEntry(root, 'services')?.value;
    if (svcs?.kind === 'map') {
      svcs.entries.forEach((e, k) => {
        if (!k.startsWith('x-') && this.input.enabled.has(k)) services[k] = this.service(k, e.value);
      });
    }
    const section = <T>(key: string, f: (k: string, n: PNode, p: PathSeg[]) => T): Record<string, T> => {
      const out: Record<string, T> = {};
      const m = getEntry(root, key)?.value;
      if (m?.kind === 'map') m.entries.forEach((e, k) => { if (!k.startsWith('x-')) out[k] = f(k, e.value, [key, k]); });
      return out;
    };
    const networks = section('networks', (k, n, p) => this.network(k, n, p));
    const usesDefault = Object.values(services).some((s) => s.network_mode === undefined && Object.keys(s.networks).includes('default'));
    if (usesDefault && networks['default'] === undefined) networks['default'] = this.network('default', undefined, ['networks', 'default']);
    const model: StackModel = {
      name,
      projectDir: this.input.projectDir,
      files: this.input.files,
      profiles: this.input.profiles,
      services,
      networks,
      volumes: section('volumes', (k, n, p) => this.volume(k, n, p)),
      secrets: section('secrets', (k, n, p) => this.fileObject(k, n, p)),
      configs: section('configs', (k, n, p) => this.fileObject(k, n, p)),
      x: this.xOf(root),
      warnings: [],
    };
    return this.input.freeze === false ? model : deepFreeze(model);
  }

  service(name: string, n: PNode): ServiceModel {
    const p = (k: string): PathSeg[] => ['services', name, k];
    const entries = n.kind === 'map' ? n.entries : undefined;
    const g = (k: string): PNode | undefined => entries?.get(k)?.value;
    const network_mode = this.str(g('network_mode'));
    const deploy = this.deploy(g('deploy'), g('scale'), ['services', name, 'deploy']);
    const build = this.build(g('build'), p('build'));
    return {
      name,
      image: this.str(g('image')) ?? (build === undefined ? undefined : `${this.input.name}-${name}`),
      build,
      command: this.words(g('command'), p('command')),
      entrypoint: this.words(g('entrypoint'), p('entrypoint')),
      environment: this.environment(g('env_file'), g('environment'), p('env_file')),
      ports: this.ports(g('ports'), p('ports')),
      expose: this.strList(g('expose')),
      volumes: this.mounts(g('volumes'), p('volumes')),
      tmpfs: this.strList(g('tmpfs')),
      networks: network_mode === undefined ? this.serviceNetworks(g('networks'), p('networks')) : {},
      network_mode,
      depends_on: this.dependsOn(g('depends_on'), p('depends_on')),
      healthcheck: this.healthcheck(g('healthcheck'), p('healthcheck')),
      deploy,
      mem_limit: this.size(g('mem_limit'), p('mem_limit')),
      mem_reservation: this.size(g('mem_reservation'), p('mem_reservation')),
      memswap_limit: this.size(g('memswap_limit'), p('memswap_limit')),
      shm_size: this.size(g('shm_size'), p('shm_size')),
      cpus: this.num(g('cpus'), p('cpus')),
      pids_limit: this.int(g('pids_limit'), p('pids_limit')),
      user: this.str(g('user')),
      working_dir: this.str(g('working_dir')),
      hostname: this.str(g('hostname')),
      domainname: this.str(g('domainname')),
      container_name: this.str(g('container_name')),
      labels: this.strMap(g('labels')),
      annotations: this.strMap(g('annotations')),
      cap_add: this.strList(g('cap_add')),
      cap_drop: this.strList(g('cap_drop')),
      privileged: this.bool(g('privileged'), p('privileged')),
      read_only: this.bool(g('read_only'), p('read_only')),
      init: this.bool(g('init'), p('init')),
      stop_signal: this.str(g('stop_signal')),
      stop_grace_period: this.duration(g('stop_grace_period'), p('stop_grace_period')),
      ulimits: this.ulimits(g('ulimits'), p('ulimits')),
      sysctls: this.strMap(g('sysctls')),
      tty: this.bool(g('tty'), p('tty')),
      stdin_open: this.bool(g('stdin_open'), p('stdin_open')),
      extra_hosts: this.extraHosts(g('extra_hosts')),
      dns: this.strList(g('dns')),
      dns_search: this.strList(g('dns_search')),
      dns_opt: this.strList(g('dns_opt')),
      secrets: this.grants(g('secrets'), p('secrets'), (s) => `/run/secrets/${s}`),
      configs: this.grants(g('configs'), p('configs'), (s) => `/${s}`),
      profiles: this.strList(g('profiles')),
      restart: this.str(g('restart')) ?? 'no',
      pull_policy: this.str(g('pull_policy')),
      mac_address: this.str(g('mac_address')),
      group_add: this.strList(g('group_add')),
      logging: normalizeLogging(g('logging'), p('logging'), this.reporter),
      security_opt: normalizeSecurityOpt(g('security_opt'), p('security_opt'), this.reporter, this.securityOptFiles()),
      develop: normalizeDevelop(g('develop'), p('develop'), { projectDir: this.input.projectDir, policy: this.input.policy, build: g('build'), service: name }, this.reporter),
      x: this.xOf(n),
    };
  }

  build(n: PNode | undefined, path: PathSeg[]): BuildModel | undefined {
    if (n === undefined || (n.kind === 'scalar' && n.value === null)) return undefined;
    if (n.kind === 'scalar') return { context: this.path(String(n.value), n.pos), dockerfile: undefined, dockerfile_inline: undefined, args: {}, target: undefined, labels: {}, tags: [], network: undefined, secrets: [] };
    if (n.kind !== 'map') return this.bad(n, path, '`build` must be a context path or a mapping', 'build: ./dir, or build: { context: ./dir, dockerfile: Dockerfile }');
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const ctx = g('context');
    const pairs = (m: PNode | undefined): Record<string, string> => {
      if (m?.kind === 'seq') {
        const out: Record<string, string> = {};
        for (const item of this.strList(m)) {
          const eq = item.indexOf('=');
          if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
          else if (this.input.shell[item] !== undefined) out[item] = this.input.shell[item] as string;
        }
        return out;
      }
      const out: Record<string, string> = {};
      if (m?.kind === 'map') m.entries.forEach((e, k) => {
        const v = this.str(e.value);
        if (v !== undefined) out[k] = v;
        else if (this.input.shell[k] !== undefined) out[k] = this.input.shell[k] as string;
      });
      return out;
    };
    return {
      context: ctx === undefined ? this.input.projectDir : this.path(this.str(ctx) ?? '.', ctx.pos),
      dockerfile: this.str(g('dockerfile')),
      dockerfile_inline: this.str(g('dockerfile_inline')),
      args: pairs(g('args')),
      target: this.str(g('target')),
      labels: pairs(g('labels')),
      tags: this.strList(g('tags')),
      network: this.str(g('network')),
      secrets: this.buildSecrets(g('secrets')),
    };
  }

  /** `build.secrets`: names, or `{source, target}` (target: the id the Dockerfile's RUN --mount=type=secret uses). */
  buildSecrets(n: PNode | undefined): { source: string; id: string }[] {
    if (n?.kind !== 'seq') return [];
    return n.items.flatMap((item) => {
      if (item.kind !== 'map') {
        const s = this.str(item);
        return s === undefined ? [] : [{ source: s, id: s }];
      }
      const source = this.str(getEntry(item, 'source')?.value);
      return source === undefined ? [] : [{ source, id: this.str(getEntry(item, 'target')?.value) ?? source }];
    });
  }

  environment(envFile: PNode | undefined, env: PNode | undefined, path: PathSeg[]): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    const files: { file: string; required: boolean; node: PNode }[] = [];
    if (envFile?.kind === 'scalar' && envFile.value !== null) files.push({ file: this.path(String(envFile.value), envFile.pos), required: true, node: envFile });
    if (envFile?.kind === 'seq') {
      for (const item of envFile.items) {
        if (item.kind === 'scalar' && item.value !== null) files.push({ file: this.path(String(item.value), item.pos), required: true, node: item });
        const pth = getEntry(item, 'path')?.value;
        if (item.kind === 'map' && pth?.kind === 'scalar') files.push({ file: this.path(String(pth.value), pth.pos), required: this.bool(getEntry(item, 'required')?.value, path, true), node: pth });
      }
    }
    for (const f of files) {
      // Strict mode: an env_file outside the project is refused before it is looked at.
      if (!allowPath(this.input.policy, this.reporter, f.file, 'env_file', f.node.pos, path)) continue;
      if (!existsSync(f.file)) {
        if (f.required) this.reporter.error('SPEC_FILE_NOT_FOUND', `env_file ${f.file} does not exist`, f.node.pos, path, 'create it, fix the path, or mark it `required: false`');
        continue;
      }
      if (!insideProject(this.input.policy, f.file)) this.reporter.markUntrusted(f.file);
      const text = readCapped(this.input.policy, this.reporter, f.file, 'env_file', f.node.pos, path);
      if (text === undefined) continue;
      for (const [k, v] of parseEnvFile(text, f.file, this.input.shell, this.reporter)) out[k] = v;
    }
    if (env?.kind === 'map') {
      env.entries.forEach((e, k) => {
        const v = e.value;
        // `- KEY` / `KEY:` without a value takes the value from the environment, when it is set.
        out[k] = v.kind === 'scalar' && v.value !== null ? String(v.value) : (this.input.lookup(k) ?? null);
      });
    }
    return out;
  }

  ports(n: PNode | undefined, path: PathSeg[]): PortModel[] {
    if (n?.kind !== 'seq') return [];
    const out: PortModel[] = [];
    n.items.forEach((item, i) => {
      if (item.kind === 'scalar' && item.value !== null) {
        try {
          // Spelled out: a spread followed by new keys costs microseconds per object in the interpreter.
          for (const sp of parsePortShort(item.value as string | number)) out.push({ target: sp.target, published: sp.published, host_ip: sp.host_ip, protocol: sp.protocol, mode: 'ingress', name: undefined, app_protocol: undefined });
        } catch (e) {
          if (e instanceof SyntaxProblem) this.bad(item, [...path, i], e.message, e.hint);
          else throw e;
        }
      } else if (item.kind === 'map') {
        const g = (k: string): PNode | undefined => getEntry(item, k)?.value;
        const proto = (this.str(g('protocol')) ?? 'tcp').toLowerCase();
        const target = this.int(g('target'), [...path, i, 'target']) ?? 0;
        if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') this.bad(item, [...path, i, 'protocol'], `unknown protocol ${JSON.stringify(proto)}`, 'the protocol is tcp, udp or sctp');
        if (target < 1 || target > 65535) this.bad(item, [...path, i, 'target'], `container port ${target} is out of range (1-65535)`);
        out.push({
          target,
          published: this.str(g('published')),
          host_ip: this.str(g('host_ip')),
          protocol: proto === 'udp' ? 'udp' : proto === 'sctp' ? 'sctp' : 'tcp',
          mode: this.str(g('mode')) === 'host' ? 'host' : 'ingress',
          name: this.str(g('name')),
          app_protocol: this.str(g('app_protocol')),
        });
      }
    });
    return out;
  }

  mounts(n: PNode | undefined, path: PathSeg[]): VolumeMountModel[] {
    if (n?.kind !== 'seq') return [];
    const out: VolumeMountModel[] = [];
    n.items.forEach((item, i) => {
      if (item.kind === 'scalar' && typeof item.value === 'string') {
        let v;
        try {
          v = parseVolumeShort(item.value);
        } catch (e) {
          if (e instanceof SyntaxProblem) this.bad(item, [...path, i], e.message, e.hint);
          return;
        }
        out.push({
          type: v.type,
          source: v.source === undefined ? undefined : v.type === 'bind' ? this.path(v.source, item.pos) : v.source,
          target: v.target,
          read_only: v.read_only,
          bind: v.type === 'bind' ? { propagation: v.propagation, create_host_path: true, selinux: v.selinux } : undefined,
          volume: v.type === 'volume' ? { nocopy: v.nocopy, subpath: undefined } : undefined,
          tmpfs: undefined,
          consistency: undefined,
        });
      } else if (item.kind === 'map') {
        const ip: PathSeg[] = [...path, i];
        const g = (k: string): PNode | undefined => getEntry(item, k)?.value;
        const type = this.str(g('type')) ?? 'volume';
        if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
          this.reporter.warn('SPEC_UNSUPPORTED_KEY', `mount type "${type}" is not supported by Gantry yet and is ignored`, item.pos, [...ip, 'type']);
          return;
        }
        const src = this.str(g('source'));
        const b = g('bind');
        const vo = g('volume');
        const t = g('tmpfs');
        const tmpfsMode = this.str(getEntry(t, 'mode')?.value);
        out.push({
          type,
          source: src === undefined || type === 'tmpfs' ? undefined : type === 'bind' || isPathSource(src) ? this.path(src, item.pos) : src,
          target: this.str(g('target')) ?? '',
          read_only: this.bool(g('read_only'), [...ip, 'read_only']),
          bind: type === 'bind' ? { propagation: this.str(getEntry(b, 'propagation')?.value), create_host_path: this.bool(getEntry(b, 'create_host_path')?.value, [...ip, 'bind'], true), selinux: this.str(getEntry(b, 'selinux')?.value) } : undefined,
          volume: type === 'volume' ? { nocopy: this.bool(getEntry(vo, 'nocopy')?.value, [...ip, 'volume']), subpath: this.str(getEntry(vo, 'subpath')?.value) } : undefined,
          tmpfs: type === 'tmpfs' ? { size: this.size(getEntry(t, 'size')?.value, [...ip, 'tmpfs', 'size']), mode: tmpfsMode === undefined ? undefined : Number.parseInt(tmpfsMode, 8) } : undefined,
          consistency: this.str(g('consistency')),
        });
      }
    });
    return out;
  }

  serviceNetworks(n: PNode | undefined, path: PathSeg[]): Record<string, ServiceNetworkModel> {
    const out: Record<string, ServiceNetworkModel> = {};
    if (n?.kind !== 'map' || n.entries.size === 0) {
      out['default'] = { aliases: [], ipv4_address: undefined, ipv6_address: undefined, mac_address: undefined, priority: 0 };
      return out;
    }
    n.entries.forEach((e, k) => {
      const g = (key: string): PNode | undefined => getEntry(e.value, key)?.value;
      out[k] = {
        aliases: this.strList(g('aliases')),
        ipv4_address: this.str(g('ipv4_address')),
        ipv6_address: this.str(g('ipv6_address')),
        mac_address: this.str(g('mac_address')),
        priority: this.int(g('priority'), [...path, k, 'priority']) ?? 0,
      };
    });
    return out;
  }

  dependsOn(n: PNode | undefined, path: PathSeg[]): Record<string, DependencyModel> {
    const out: Record<string, DependencyModel> = {};
    if (n?.kind !== 'map') return out;
    n.entries.forEach((e, k) => {
      const required = this.bool(getEntry(e.value, 'required')?.value, [...path, k, 'required'], true);
      if (!this.input.enabled.has(k) && !required) return;
      out[k] = {
        condition: (this.str(getEntry(e.value, 'condition')?.value) ?? 'service_started') as DependencyCondition,
        required,
        restart: this.bool(getEntry(e.value, 'restart')?.value, [...path, k, 'restart']),
      };
    });
    return out;
  }

  healthcheck(n: PNode | undefined, path: PathSeg[]): HealthcheckModel | undefined {
    if (n?.kind !== 'map') return undefined;
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const t = g('test');
    let test: string[] = [];
    if (t?.kind === 'scalar' && t.value !== null) test = ['CMD-SHELL', String(t.value)];
    else if (t?.kind === 'seq') test = this.strList(t);
    if (test.length > 0 && !['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] as string) && t !== undefined) {
      this.bad(t, [...path, 'test'], `a healthcheck test list must start with "CMD", "CMD-SHELL" or "NONE", not ${JSON.stringify(test[0])}`, 'e.g. ["CMD", "curl", "-f", "http://localhost"] or a string run by the shell');
    }
    const disable = this.bool(g('disable'), [...path, 'disable']) || test[0] === 'NONE';
    return {
      test: disable ? ['NONE'] : test,
      interval: this.duration(g('interval'), [...path, 'interval']),
      timeout: this.duration(g('timeout'), [...path, 'timeout']),
      start_period: this.duration(g('start_period'), [...path, 'start_period']),
      start_interval: this.duration(g('start_interval'), [...path, 'start_interval']),
      retries: this.int(g('retries'), [...path, 'retries']),
      disable,
    };
  }

  resources(n: PNode | undefined, path: PathSeg[]): ResourcesModel {
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    return { memory: this.size(g('memory'), [...path, 'memory']), cpus: this.num(g('cpus'), [...path, 'cpus']), pids: this.int(g('pids'), [...path, 'pids']) };
  }

  deploy(n: PNode | undefined, scale: PNode | undefined, path: PathSeg[]): DeployModel {
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const res = g('resources');
    const rp = g('restart_policy');
    const replicas = this.int(g('replicas'), [...path, 'replicas']) ?? this.int(scale, [path[0] as string, path[1] as string, 'scale']) ?? 1;
    return {
      replicas,
      limits: this.resources(getEntry(res, 'limits')?.value, [...path, 'resources', 'limits']),
      reservations: this.resources(getEntry(res, 'reservations')?.value, [...path, 'resources', 'reservations']),
      restart_policy:
        rp?.kind === 'map'
          ? {
              condition: restartCondition(this.str(getEntry(rp, 'condition')?.value)),
              delay: this.duration(getEntry(rp, 'delay')?.value, [...path, 'restart_policy', 'delay']),
              max_attempts: this.int(getEntry(rp, 'max_attempts')?.value, [...path, 'restart_policy', 'max_attempts']),
              window: this.duration(getEntry(rp, 'window')?.value, [...path, 'restart_policy', 'window']),
            }
          : undefined,
      labels: this.strMap(g('labels')),
      update_config: this.updateConfig(g('update_config'), [...path, 'update_config']),
    };
  }

  updateConfig(n: PNode | undefined, path: PathSeg[]): UpdateConfigModel | undefined {
    if (n?.kind !== 'map') return undefined;
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const order = this.str(g('order'));
    const action = this.str(g('failure_action'));
    return {
      order: order === 'start-first' ? 'start-first' : 'stop-first',
      parallelism: this.int(g('parallelism'), [...path, 'parallelism']) ?? 1,
      delay: this.duration(g('delay'), [...path, 'delay']) ?? 0,
      failure_action: action === 'continue' || action === 'rollback' ? action : 'pause',
      monitor: this.duration(g('monitor'), [...path, 'monitor']) ?? 0,
    };
  }

  ulimits(n: PNode | undefined, path: PathSeg[]): Record<string, UlimitModel> {
    const out: Record<string, UlimitModel> = {};
    if (n?.kind !== 'map') return out;
    n.entries.forEach((e, k) => {
      if (e.value.kind === 'map') {
        out[k] = { soft: this.int(getEntry(e.value, 'soft')?.value, [...path, k, 'soft']) ?? 0, hard: this.int(getEntry(e.value, 'hard')?.value, [...path, k, 'hard']) ?? 0 };
      } else {
        const v = this.int(e.value, [...path, k]) ?? 0;
        out[k] = { soft: v, hard: v };
      }
    });
    return out;
  }

  extraHosts(n: PNode | undefined): string[] {
    if (n?.kind === 'map') {
      return [...n.entries].flatMap(([k, e]) => (e.value.kind === 'seq' ? this.strList(e.value) : [this.str(e.value) ?? '']).map((ip) => `${k}:${ip}`));
    }
    return this.strList(n).map((h) => {
      const eq = h.indexOf('=');
      return eq >= 0 ? `${h.slice(0, eq)}:${h.slice(eq + 1)}` : h;
    });
  }

  grants(n: PNode | undefined, path: PathSeg[], target: (s: string) => string): ServiceFileGrantModel[] {
    if (n?.kind !== 'seq') return [];
    return n.items.map((item, i) => {
      if (item.kind !== 'map') {
        const s = this.str(item) ?? '';
        return { source: s, target: target(s), uid: undefined, gid: undefined, mode: undefined };
      }
      const g = (k: string): PNode | undefined => getEntry(item, k)?.value;
      const source = this.str(g('source')) ?? '';
      const t = this.str(g('target'));
      const mode = this.str(g('mode'));
      let modeNum: number | undefined;
      if (mode !== undefined) {
        modeNum = /^0[0-7]*$/.test(mode) ? Number.parseInt(mode, 8) : Number(mode);
        const modeNode = g('mode');
        if (!Number.isInteger(modeNum) && modeNode !== undefined) modeNum = this.bad(modeNode, [...path, i, 'mode'], `invalid mode ${JSON.stringify(mode)}`, 'write an octal mode such as 0440');
      }
      return {
        source,
        target: t === undefined ? target(source) : t.startsWith('/') ? t : target(t),
        uid: this.str(g('uid')),
        gid: this.str(g('gid')),
        mode: modeNum,
      };
    });
  }

  network(key: string, n: PNode | undefined, path: PathSeg[]): NetworkModel {
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const { name, external } = this.identity(key, n, path);
    const ipam = g('ipam');
    const cfg = getEntry(ipam, 'config')?.value;
    return {
      name,
      driver: this.str(g('driver')),
      driver_opts: this.strMap(g('driver_opts')),
      external,
      internal: this.bool(g('internal'), [...path, 'internal']),
      attachable: this.bool(g('attachable'), [...path, 'attachable']),
      enable_ipv6: this.bool(g('enable_ipv6'), [...path, 'enable_ipv6']),
      ipam: {
        driver: this.str(getEntry(ipam, 'driver')?.value),
        config: cfg?.kind === 'seq' ? cfg.items.map((c) => ({ subnet: this.str(getEntry(c, 'subnet')?.value), ip_range: this.str(getEntry(c, 'ip_range')?.value), gateway: this.str(getEntry(c, 'gateway')?.value) })) : [],
      },
      labels: this.strMap(g('labels')),
      x: this.xOf(n),
    };
  }

  /**
   * `external` and the engine-side name of a network, volume, secret or config: `name:` if set, else the key
   * for an external object, else `<project>_<key>`. The legacy `external: {name: X}` is honoured as Compose
   * does (X becomes the name; a different `name:` beside it is an error) with a deprecation warning.
   */
  identity(key: string, n: PNode | undefined, path: PathSeg[]): { name: string; external: boolean } {
    const ext = getEntry(n, 'external');
    const nameNode = getEntry(n, 'name')?.value;
    const declared = this.str(nameNode);
    if (ext?.value.kind === 'map') {
      const legacy = getEntry(ext.value, 'name');
      const legacyName = this.str(legacy?.value);
      if (legacy === undefined || legacyName === undefined) return { name: declared ?? key, external: true };
      const where = formatPath(path);
      this.reporter.warn('SPEC_DEPRECATED_KEY', `${where}: \`external.name\` is deprecated`, legacy.keyPos, [...path, 'external', 'name'],
        `write \`external: true\` and \`name: ${legacyName}\` instead`);
      if (declared !== undefined && declared !== legacyName && nameNode !== undefined) {
        this.reporter.error('SPEC_INVALID_VALUE', `${where}: \`name\` ${JSON.stringify(declared)} and \`external.name\` ${JSON.stringify(legacyName)} conflict`, nameNode.pos, [...path, 'name'],
          'keep only `name` (with `external: true`)');
      }
      return { name: declared ?? legacyName, external: true };
    }
    const external = ext === undefined ? false : this.bool(ext.value, [...path, 'external']);
    return { name: declared ?? (external ? key : `${this.input.name}_${key}`), external };
  }

  volume(key: string, n: PNode | undefined, path: PathSeg[]): VolumeModel {
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const { name, external } = this.identity(key, n, path);
    return {
      name,
      driver: this.str(g('driver')),
      driver_opts: this.strMap(g('driver_opts')),
      external,
      labels: this.strMap(g('labels')),
      x: this.xOf(n),
    };
  }

  fileObject(key: string, n: PNode | undefined, path: PathSeg[]): FileObjectModel {
    const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
    const { name, external } = this.identity(key, n, path);
    const file = g('file');
    const envName = this.str(g('environment'));
    const sources = ['file', 'content', 'environment'].filter((k) => g(k) !== undefined).length + (external ? 1 : 0);
    if (sources !== 1 && n !== undefined) {
      this.reporter.error('SPEC_INVALID_VALUE', `${String(path[0]).slice(0, -1)} "${key}" must have exactly one of file, content, environment or external (it has ${sources})`, n.pos, path);
    }
    return {
      name,
      file: file?.kind === 'scalar' && file.value !== null ? this.path(String(file.value), file.pos) : undefined,
      content: this.str(g('content')) ?? (envName === undefined ? undefined : this.input.lookup(envName)),
      environment: envName,
      external,
      labels: this.strMap(g('labels')),
      x: this.xOf(n),
    };
  }
}

/**
 * deploy.restart_policy.condition in the model's spelling. Compose maps `always` like `any` and `no` like
 * `none`, and passes `unless-stopped` on to the engine; anything else the schema has refused already.
 */
function restartCondition(c: string | undefined): RestartCondition {
  if (c === undefined || c === 'always') return 'any';
  if (c === 'no') return 'none';
  return c as RestartCondition;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    // Only objects are walked into (a call per member costs in the cold CLI: most members are scalars).
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const m: unknown = v[i];
        if (m !== null && typeof m === 'object') deepFreeze(m);
      }
    } else {
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        const m = obj[k];
        if (m !== null && typeof m === 'object') deepFreeze(m);
      }
    }
  }
  return v;
}

export function normalizeStack(input: NormalizeInput, reporter: Reporter): StackModel {
  return new Normalizer(reporter, input).stack();
}
