// `stack convert --to kubernetes`: the normalised stack model → Kubernetes objects. Pure: files (configs,
// secrets) are read through the injected reader, and every choice is explained in docs/architecture.md
// ("Kubernetes"). Objects come out in a fixed order with a fixed key order, so the YAML is stable.

import type { Diagnostic, DiagnosticCode, PathSeg, PNode, ServiceModel, StackModel, StackSource, VolumeMountModel, HealthcheckModel, FileObjectModel } from '../stack/index.js';
import { bytesQuantity, cpuQuantity, isConfigKey, isDns1035Label, isDns1123Label, isQuantity, toDnsLabel } from './names.js';
import type { KubeObject } from './types.js';
import { KIND_ORDER, KUBE_LABELS, WAIT_IMAGE } from './types.js';
import { unmappedKeys } from './unmapped.js';
import { sortDiagnostics } from '../stack/report.js';

export interface ConvertOptions {
  /** Set on every object (and a Namespace object is made) when given. */
  readonly namespace?: string | undefined;
  readonly storageClass?: string | undefined;
  /** Size of a volume's claim unless the volume says (x-gantry.kubernetes.size). Default 1Gi. */
  readonly volumeSize?: string | undefined;
  /** Published ports go to an Ingress for this host instead of LoadBalancer Services. */
  readonly ingressHost?: string | undefined;
  /** Reads a config's or secret's file (capped, no symlinks followed); throws a GantryError when it cannot. */
  readonly readFile: (path: string) => Buffer;
}

export interface ConvertResult {
  readonly objects: readonly KubeObject[];
  /** Warnings (unmapped keys, renamed objects ...) and errors (host binds ...); objects are meaningless with errors. */
  readonly diagnostics: readonly Diagnostic[];
}

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'Job';

/** A service's own extension: `x-gantry: {kubernetes: {kind: Deployment|StatefulSet|Job}}`. */
interface ServiceExt { readonly kind: WorkloadKind | undefined }
/** A volume's: `x-gantry: {kubernetes: {size: 10Gi, storage_class: fast, access_mode: ReadWriteMany}}`. */
interface VolumeExt { readonly size: string | undefined; readonly storageClass: string | undefined; readonly accessMode: string | undefined }

const ACCESS_MODES = new Set(['ReadWriteOnce', 'ReadWriteMany', 'ReadOnlyMany', 'ReadWriteOncePod']);
const DEFAULT_INTERVAL_S = 30;
const DEFAULT_TIMEOUT_S = 30;
const DEFAULT_RETRIES = 3;
const DEFAULT_START_INTERVAL_S = 5;

type Json = Record<string, unknown>;

function ext(x: Readonly<Record<string, unknown>>): Json | undefined {
  const g = x['x-gantry'];
  const k = g !== null && typeof g === 'object' ? (g as Json)['kubernetes'] : undefined;
  return k !== null && typeof k === 'object' && !Array.isArray(k) ? (k as Json) : undefined;
}

/** Kubernetes expands `$(VAR)` (and `$$`) in command, args and env values: escape so the stack's text is literal. */
export function escapeExpansion(s: string): string {
  return s.replace(/\$(?=[($])/g, '$$$$');
}

function seconds(ns: number | undefined): number | undefined {
  return ns === undefined ? undefined : Math.max(1, Math.ceil(ns / 1e9));
}

function nonEmpty<T extends Json>(o: T): T | undefined {
  return Object.values(o).some((v) => v !== undefined) ? o : undefined;
}

function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const keys = Object.keys(r).sort();
  return keys.length === 0 ? undefined : Object.fromEntries(keys.map((k) => [k, r[k] as string]));
}

class Converter {
  readonly diagnostics: Diagnostic[] = [];
  readonly objects: KubeObject[] = [];
  private readonly seen = new Set<string>();
  /** Stack service name → its Kubernetes name (a DNS-1035 label). */
  readonly names = new Map<string, string>();
  readonly kinds = new Map<string, WorkloadKind>();
  /** Volume key → the claim's name, or undefined for an external volume's own name. */
  private readonly claims = new Map<string, string>();

  constructor(readonly model: StackModel, readonly source: StackSource, readonly opts: ConvertOptions) {}

  warn(code: DiagnosticCode, message: string, path: readonly PathSeg[], hint?: string, at: 'key' | 'value' = 'key'): void {
    const d = this.source.diagnostic('warning', code, message, path, hint, at);
    if (!this.diagnostics.some((o) => o.code === d.code && o.path === d.path && o.message === d.message)) this.diagnostics.push(d);
  }

  error(code: DiagnosticCode, message: string, path: readonly PathSeg[], hint?: string, at: 'key' | 'value' = 'value'): void {
    this.diagnostics.push(this.source.diagnostic('error', code, message, path, hint, at));
  }

  /** The node the user wrote at `path` (undefined when not written: defaults do not count). */
  node(path: readonly PathSeg[]): PNode | undefined {
    let n: PNode | undefined = this.source.root;
    for (const seg of path) {
      if (n === undefined) return undefined;
      if (typeof seg === 'number') n = n.kind === 'seq' ? n.items[seg] : undefined;
      else n = n.kind === 'map' ? n.entries.get(seg)?.value : undefined;
    }
    return n;
  }

  add(obj: KubeObject, path: readonly PathSeg[]): void {
    const id = `${obj.kind}/${obj.metadata.name}`;
    if (this.seen.has(id)) {
      this.error('KUBE_BAD_VALUE', `two objects would both be ${obj.kind} "${obj.metadata.name}"`, path, 'rename one of the stack objects that map to this name', 'key');
      return;
    }
    this.seen.add(id);
    this.objects.push(obj);
  }

  meta(name: string, labels: Record<string, string>, annotations?: Record<string, string>): KubeObject['metadata'] {
    return { name, namespace: this.opts.namespace, labels, annotations: annotations === undefined || Object.keys(annotations).length === 0 ? undefined : annotations };
  }

  stackLabels(): Record<string, string> {
    return { [KUBE_LABELS.partOf]: this.model.name, [KUBE_LABELS.managedBy]: 'gantry', [KUBE_LABELS.project]: this.model.name };
  }

  selector(service: string): Record<string, string> {
    return { [KUBE_LABELS.name]: this.k8sName(service), [KUBE_LABELS.instance]: this.model.name };
  }

  serviceLabels(service: string): Record<string, string> {
    return { ...this.selector(service), ...this.stackLabels(), [KUBE_LABELS.service]: service };
  }

  k8sName(service: string): string {
    return this.names.get(service) ?? toDnsLabel(service);
  }

  // ---- names and kinds ----------------------------------------------------------------------------------

  planNames(): void {
    for (const name of Object.keys(this.model.services).sort()) {
      const k = isDns1035Label(name) ? name : toDnsLabel(name);
      if (k !== name) this.warn('KUBE_NAME_CHANGED', `service "${name}" is "${k}" in Kubernetes (a Service name is a DNS-1035 label)`, ['services', name], `other services must reach it as "${k}"; rename the service to keep one name`);
      this.names.set(name, k);
    }
    const oneShots = new Set<string>();
    for (const s of Object.values(this.model.services)) {
      for (const [dep, d] of Object.entries(s.depends_on)) if (d.condition === 'service_completed_successfully') oneShots.add(dep);
    }
    for (const [name, s] of Object.entries(this.model.services)) this.kinds.set(name, this.kindOf(name, s, oneShots.has(name)));
  }

  private kindOf(name: string, s: ServiceModel, completedBySomeone: boolean): WorkloadKind {
    const e = ext(s.x);
    const asked = e?.['kind'];
    if (asked !== undefined) {
      if (asked === 'Deployment' || asked === 'StatefulSet' || asked === 'Job') return asked;
      this.error('KUBE_BAD_VALUE', `x-gantry.kubernetes.kind must be Deployment, StatefulSet or Job, not ${JSON.stringify(asked)}`, ['services', name, 'x-gantry', 'kubernetes', 'kind']);
    }
    const restartWritten = this.node(['services', name, 'restart']) !== undefined;
    if ((restartWritten && s.restart === 'no') || s.deploy.restart_policy?.condition === 'none' || completedBySomeone) return 'Job';
    if (s.deploy.replicas === 1 && s.volumes.some((v) => v.type === 'volume' && v.source !== undefined)) return 'StatefulSet';
    return 'Deployment';
  }

  // ---- stack-wide objects -------------------------------------------------------------------------------

  namespace(): void {
    const ns = this.opts.namespace;
    if (ns === undefined) return;
    this.add({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: this.stackLabels() } }, []);
  }

  volumes(): void {
    const users = new Map<string, string[]>();
    for (const [name, s] of Object.entries(this.model.services)) {
      for (const v of s.volumes) if (v.type === 'volume' && v.source !== undefined) users.set(v.source, [...(users.get(v.source) ?? []), name]);
    }
    for (const key of Object.keys(this.model.volumes).sort()) {
      const v = this.model.volumes[key]!;
      const path = ['volumes', key];
      if (v.external) {
        this.claims.set(key, toDnsLabel(v.name));
        continue;
      }
      const name = toDnsLabel(key);
      if (name !== key) this.warn('KUBE_NAME_CHANGED', `volume "${key}" is the claim "${name}" in Kubernetes`, path);
      this.claims.set(key, name);
      const e = ext(v.x);
      const ve: VolumeExt = { size: typeof e?.['size'] === 'string' ? e['size'] : undefined, storageClass: typeof e?.['storage_class'] === 'string' ? e['storage_class'] : undefined, accessMode: typeof e?.['access_mode'] === 'string' ? e['access_mode'] : undefined };
      const size = ve.size ?? this.opts.volumeSize ?? '1Gi';
      if (!isQuantity(size)) this.error('KUBE_BAD_VALUE', `volume size ${JSON.stringify(size)} is not a Kubernetes quantity`, ve.size === undefined ? path : [...path, 'x-gantry', 'kubernetes', 'size'], 'write it like 1Gi or 500Mi');
      const who = users.get(key) ?? [];
      const pods = who.reduce((n, s) => n + (this.model.services[s]?.deploy.replicas ?? 1), 0);
      let mode = ve.accessMode ?? (pods > 1 ? 'ReadWriteMany' : 'ReadWriteOnce');
      if (!ACCESS_MODES.has(mode)) {
        this.error('KUBE_BAD_VALUE', `access mode ${JSON.stringify(mode)} is not one of ${[...ACCESS_MODES].join(', ')}`, [...path, 'x-gantry', 'kubernetes', 'access_mode']);
        mode = 'ReadWriteOnce';
      }
      if (pods > 1 && ve.accessMode === undefined) {
        this.warn('KUBE_SHARED_VOLUME', `volume "${key}" is mounted by ${pods} pods (${who.join(', ')}): its claim is ReadWriteMany`, path, 'the storage class must support ReadWriteMany (e.g. NFS, CephFS); or set x-gantry.kubernetes.access_mode');
      }
      this.add({
        apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: this.meta(name, this.stackLabels(), sortedRecord(v.labels)),
        spec: { accessModes: [mode], storageClassName: ve.storageClass ?? this.opts.storageClass, resources: { requests: { storage: size } } },
      }, path);
    }
  }

  private fileData(kind: 'configs' | 'secrets', key: string, o: FileObjectModel): Buffer | undefined {
    if (o.content !== undefined) return Buffer.from(o.content, 'utf8');
    if (o.file !== undefined) {
      try {
        return this.opts.readFile(o.file);
      } catch (e) {
        this.error('KUBE_BAD_VALUE', `${kind === 'configs' ? 'config' : 'secret'} "${key}": ${e instanceof Error ? e.message : String(e)}`, [kind, key, 'file'], 'a ConfigMap or Secret holds at most 1 MiB; the file must be a regular file');
        return undefined;
      }
    }
    return Buffer.alloc(0);
  }

  fileObjects(): void {
    for (const kind of ['configs', 'secrets'] as const) {
      const objs = this.model[kind];
      for (const key of Object.keys(objs).sort()) {
        const o = objs[key]!;
        if (o.external) continue;
        const name = toDnsLabel(key);
        const data = this.fileData(kind, key, o);
        if (data === undefined) continue;
        const dataKey = isConfigKey(key) ? key : name;
        const labels = this.stackLabels();
        if (kind === 'secrets') {
          this.add({ apiVersion: 'v1', kind: 'Secret', metadata: this.meta(name, labels, sortedRecord(o.labels)), type: 'Opaque', data: { [dataKey]: data.toString('base64') } }, [kind, key]);
        } else {
          const text = data.toString('utf8');
          const utf8 = Buffer.from(text, 'utf8').equals(data);
          this.add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: this.meta(name, labels, sortedRecord(o.labels)), ...(utf8 ? { data: { [dataKey]: text } } : { binaryData: { [dataKey]: data.toString('base64') } }) }, [kind, key]);
        }
      }
    }
  }

  // ---- per service --------------------------------------------------------------------------------------

  service(name: string, s: ServiceModel): void {
    const path = ['services', name];
    const kind = this.kinds.get(name) ?? 'Deployment';
    const k = this.k8sName(name);
    const labels = this.serviceLabels(name);
    if (s.build !== undefined) {
      this.warn('KUBE_LOCAL_IMAGE', `service "${name}" builds its image ${s.image ?? ''}: the cluster pulls it from a registry`, [...path, 'build'],
        s.image !== undefined && s.image.includes('/') ? 'run `gantry stack push` before deploying' : 'name a registry in `image:` (e.g. registry.example.com/app:1) and run `gantry stack push` before deploying');
    }
    const onNetwork = s.network_mode === undefined || s.network_mode === 'bridge';
    if (s.network_mode !== undefined && s.network_mode !== 'host' && s.network_mode !== 'bridge') {
      this.warn('KUBE_UNMAPPED_KEY', `network_mode: ${s.network_mode} has no Kubernetes mapping (a pod always has its own network)`, [...path, 'network_mode']);
    }
    const podSpec = this.podSpec(name, s, kind);
    if (podSpec === undefined) return;
    const template = { metadata: { labels, annotations: sortedRecord({ ...s.labels, ...s.annotations }) }, spec: podSpec };
    const deployAnn = sortedRecord(s.deploy.labels);
    if (kind === 'Job') {
      const rp = s.deploy.restart_policy;
      const onFailure = s.restart.startsWith('on-failure') || rp?.condition === 'on-failure';
      const max = rp?.max_attempts ?? (s.restart.startsWith('on-failure:') ? Number(s.restart.slice('on-failure:'.length)) : undefined);
      podSpec['restartPolicy'] = onFailure ? 'OnFailure' : 'Never';
      if (s.deploy.replicas !== 1) this.warn('KUBE_UNMAPPED_KEY', 'a one-shot Job runs once: replicas are not mapped', [...path, 'deploy', 'replicas']);
      this.add({ apiVersion: 'batch/v1', kind: 'Job', metadata: this.meta(k, labels, deployAnn), spec: { backoffLimit: onFailure ? (max ?? 6) : 0, template } }, path);
    } else {
      if (s.restart.startsWith('on-failure') || s.deploy.restart_policy?.condition === 'on-failure') {
        const where = s.restart.startsWith('on-failure') ? [...path, 'restart'] : [...path, 'deploy', 'restart_policy', 'condition'];
        if (this.node(where) !== undefined) this.warn('KUBE_UNMAPPED_KEY', `restart on-failure has no mapping for a ${kind}: its pods are always restarted`, where, 'make it a one-shot Job with `restart: "no"` or x-gantry.kubernetes.kind: Job');
      }
      const spec: Json = { replicas: s.deploy.replicas, selector: { matchLabels: this.selector(name) } };
      if (kind === 'StatefulSet') spec['serviceName'] = k;
      spec['template'] = template;
      this.add({ apiVersion: 'apps/v1', kind, metadata: this.meta(k, labels, deployAnn), spec }, path);
    }
    if (onNetwork) this.services(name, s, k, labels);
  }

  private podSpec(name: string, s: ServiceModel, kind: WorkloadKind): Json | undefined {
    const path = ['services', name];
    const volumes: Json[] = [];
    const mounts: Json[] = [];
    s.volumes.forEach((v, i) => this.mount(name, v, i, volumes, mounts));
    s.tmpfs.forEach((t, i) => {
      const target = t.split(':')[0] ?? t;
      volumes.push({ name: `tmpfs-${i}`, emptyDir: { medium: 'Memory' } });
      mounts.push({ name: `tmpfs-${i}`, mountPath: target });
    });
    if (s.shm_size !== undefined) {
      volumes.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: bytesQuantity(s.shm_size) } });
      mounts.push({ name: 'shm', mountPath: '/dev/shm' });
    }
    for (const kind2 of ['configs', 'secrets'] as const) {
      s[kind2].forEach((g, i) => {
        const obj = this.model[kind2][g.source];
        if (obj === undefined) return;
        const vol = `${kind2 === 'configs' ? 'config' : 'secret'}-${toDnsLabel(g.source)}`.slice(0, 63).replace(/-+$/, '');
        const ref = obj.external ? toDnsLabel(obj.name) : toDnsLabel(g.source);
        const key = isConfigKey(g.source) ? g.source : toDnsLabel(g.source);
        const item = { key, path: key, mode: g.mode };
        if (!volumes.some((v) => v['name'] === vol)) volumes.push({ name: vol, ...(kind2 === 'configs' ? { configMap: { name: ref, items: [item] } } : { secret: { secretName: ref, items: [item] } }) });
        mounts.push({ name: vol, mountPath: g.target, subPath: key, readOnly: true });
        if (g.uid !== undefined || g.gid !== undefined) this.warn('KUBE_UNMAPPED_KEY', `${kind2.slice(0, -1)} "${g.source}": uid/gid have no mapping (files of a volume belong to the pod's fsGroup)`, [...path, kind2, i]);
      });
    }
    const container = this.container(name, s, mounts);
    const initContainers = this.waits(name, s);
    const dns = nonEmpty({ nameservers: s.dns.length > 0 ? [...s.dns] : undefined, searches: s.dns_search.length > 0 ? [...s.dns_search] : undefined,
      options: s.dns_opt.length > 0 ? s.dns_opt.map((o) => { const [n, v] = o.split(':'); return { name: n ?? o, value: v }; }) : undefined });
    const hostAliases = new Map<string, string[]>();
    s.extra_hosts.forEach((h) => {
      const i = h.indexOf(':');
      const host = h.slice(0, i);
      const ip = h.slice(i + 1);
      hostAliases.set(ip, [...(hostAliases.get(ip) ?? []), host]);
    });
    const groups = s.group_add.filter((g) => /^\d+$/.test(g)).map(Number);
    s.group_add.forEach((g, i) => { if (!/^\d+$/.test(g)) this.warn('KUBE_UNMAPPED_KEY', `group_add "${g}" is a name: Kubernetes needs a numeric gid`, [...path, 'group_add', i], undefined, 'value'); });
    const sysctls = Object.keys(s.sysctls).sort().map((k) => ({ name: k, value: s.sysctls[k] as string }));
    const podSecurity = nonEmpty({ supplementalGroups: groups.length > 0 ? groups : undefined, sysctls: sysctls.length > 0 ? sysctls : undefined });
    return {
      enableServiceLinks: false,
      hostname: s.hostname === undefined ? undefined : toDnsLabel(s.hostname),
      hostNetwork: s.network_mode === 'host' ? true : undefined,
      shareProcessNamespace: s.init ? true : undefined,
      terminationGracePeriodSeconds: s.stop_grace_period === undefined ? undefined : Math.ceil(s.stop_grace_period / 1e9),
      securityContext: podSecurity,
      dnsConfig: dns,
      hostAliases: hostAliases.size === 0 ? undefined : [...hostAliases].map(([ip, hostnames]) => ({ ip, hostnames })),
      initContainers: initContainers.length === 0 ? undefined : initContainers,
      containers: [container],
      volumes: volumes.length === 0 ? undefined : volumes,
      restartPolicy: kind === 'Job' ? 'Never' : undefined,
    };
  }

  private mount(service: string, v: VolumeMountModel, i: number, volumes: Json[], mounts: Json[]): void {
    const path = ['services', service, 'volumes', i];
    const volName = `vol-${i}`;
    if (v.type === 'bind') {
      this.error('KUBE_HOST_BIND', `service "${service}" bind-mounts a host path at ${v.target}: a cluster has no host files to mount`, path,
        'put a file into a config (top-level `configs: {NAME: {file: ./PATH}}`, granted with `configs: [{source: NAME, target: ' + v.target + '}]`), data into a named volume, or code into the image');
      return;
    }
    if (v.type === 'tmpfs') {
      volumes.push({ name: volName, emptyDir: { medium: 'Memory', sizeLimit: v.tmpfs?.size === undefined ? undefined : bytesQuantity(v.tmpfs.size) } });
      mounts.push({ name: volName, mountPath: v.target });
      return;
    }
    if (v.source === undefined) {
      volumes.push({ name: volName, emptyDir: {} });
      mounts.push({ name: volName, mountPath: v.target });
      return;
    }
    const claim = this.claims.get(v.source) ?? toDnsLabel(v.source);
    const existing = volumes.find((x) => (x['persistentVolumeClaim'] as Json | undefined)?.['claimName'] === claim);
    const name = existing === undefined ? toDnsLabel(v.source).slice(0, 63) : (existing['name'] as string);
    if (existing === undefined) volumes.push({ name, persistentVolumeClaim: { claimName: claim } });
    mounts.push({ name, mountPath: v.target, subPath: v.volume?.subpath, readOnly: v.read_only ? true : undefined });
  }

  private container(name: string, s: ServiceModel, mounts: Json[]): Json {
    const path = ['services', name];
    const env: Json[] = [];
    const written = this.writtenEnvironment(name);
    const fromFile: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.environment)) {
      if (v === null) continue;
      if (written.has(k) || this.node([...path, 'env_file']) === undefined) env.push({ name: k, value: escapeExpansion(v) });
      else fromFile[k] = v;
    }
    let envFrom: Json[] | undefined;
    if (Object.keys(fromFile).length > 0) {
      const cm = `${this.k8sName(name)}-env`.slice(0, 63);
      this.add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: this.meta(cm, this.serviceLabels(name)), data: sortedRecord(fromFile) }, [...path, 'env_file']);
      envFrom = [{ configMapRef: { name: cm } }];
    }
    const ports = this.containerPorts(s);
    const limits = nonEmpty({ cpu: (s.deploy.limits.cpus ?? s.cpus) === undefined ? undefined : cpuQuantity((s.deploy.limits.cpus ?? s.cpus) as number),
      memory: (s.deploy.limits.memory ?? s.mem_limit) === undefined ? undefined : bytesQuantity((s.deploy.limits.memory ?? s.mem_limit) as number) });
    const requests = nonEmpty({ cpu: s.deploy.reservations.cpus === undefined ? undefined : cpuQuantity(s.deploy.reservations.cpus),
      memory: (s.deploy.reservations.memory ?? s.mem_reservation) === undefined ? undefined : bytesQuantity((s.deploy.reservations.memory ?? s.mem_reservation) as number) });
    const probes = this.probes(s.healthcheck);
    const caps = (l: readonly string[]): string[] | undefined => (l.length === 0 ? undefined : l.map((c) => c.toUpperCase().replace(/^CAP_/, '')));
    let runAsUser: number | undefined;
    let runAsGroup: number | undefined;
    if (s.user !== undefined) {
      const m = /^(\d+)(?::(\d+))?$/.exec(s.user);
      if (m === null) this.warn('KUBE_UNMAPPED_KEY', `user "${s.user}" is a name: Kubernetes runs as a numeric uid (runAsUser)`, [...path, 'user'], 'write the numeric uid[:gid], as the image\'s /etc/passwd has it', 'value');
      else {
        runAsUser = Number(m[1]);
        runAsGroup = m[2] === undefined ? undefined : Number(m[2]);
      }
    }
    const security = nonEmpty({ runAsUser, runAsGroup, privileged: s.privileged ? true : undefined, readOnlyRootFilesystem: s.read_only ? true : undefined,
      capabilities: nonEmpty({ add: caps(s.cap_add), drop: caps(s.cap_drop) }) });
    const pull = s.pull_policy === 'always' ? 'Always' : s.pull_policy === 'never' ? 'Never' : s.pull_policy === 'missing' || s.pull_policy === 'if_not_present' ? 'IfNotPresent' : undefined;
    if (s.pull_policy !== undefined && pull === undefined) this.warn('KUBE_UNMAPPED_KEY', `pull_policy ${s.pull_policy} has no Kubernetes mapping`, [...path, 'pull_policy'], undefined, 'value');
    return {
      name: this.k8sName(name),
      image: s.image,
      imagePullPolicy: pull,
      command: s.entrypoint === undefined ? undefined : s.entrypoint.map(escapeExpansion),
      args: s.command === undefined ? undefined : s.command.map(escapeExpansion),
      workingDir: s.working_dir,
      env: env.length === 0 ? undefined : env,
      envFrom,
      ports: ports.length === 0 ? undefined : ports.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol })),
      resources: nonEmpty({ requests, limits }),
      readinessProbe: probes?.readiness,
      livenessProbe: probes?.liveness,
      startupProbe: probes?.startup,
      securityContext: security,
      stdin: s.stdin_open ? true : undefined,
      tty: s.tty ? true : undefined,
      volumeMounts: mounts.length === 0 ? undefined : mounts,
    };
  }

  /** The keys the service's own `environment:` sets (the rest of the model's environment came from env_file). */
  private writtenEnvironment(name: string): Set<string> {
    const n = this.node(['services', name, 'environment']);
    const out = new Set<string>();
    if (n?.kind === 'map') for (const k of n.entries.keys()) out.add(k);
    if (n?.kind === 'seq') for (const item of n.items) if (item.kind === 'scalar' && item.value !== null) out.add(String(item.value).split('=')[0] ?? '');
    return out;
  }

  /** The ports a service listens on: `ports` targets and `expose`, each (port, protocol) once, in order. */
  containerPorts(s: ServiceModel): { name: string; port: number; protocol: string }[] {
    const out: { name: string; port: number; protocol: string }[] = [];
    const add = (port: number, protocol: string): void => {
      if (!Number.isInteger(port) || port < 1 || port > 65535) return;
      if (out.some((p) => p.port === port && p.protocol === protocol)) return;
      out.push({ name: `${protocol.toLowerCase()}-${port}`, port, protocol });
    };
    for (const p of s.ports) add(p.target, p.protocol.toUpperCase());
    for (const e of s.expose) {
      const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(e);
      if (m === null) continue;
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Math.min(Number(m[2]), from + 100);
      for (let port = from; port <= to; port++) add(port, (m[3] ?? 'tcp').toUpperCase());
    }
    return out;
  }

  private probes(h: HealthcheckModel | undefined): { readiness: Json; liveness: Json; startup: Json | undefined } | undefined {
    if (h === undefined || h.disable || h.test.length === 0 || h.test[0] === 'NONE') return undefined;
    const [form, ...rest] = h.test;
    const command = form === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : form === 'CMD' ? [...rest] : [...h.test];
    const period = seconds(h.interval) ?? DEFAULT_INTERVAL_S;
    const base = { exec: { command }, periodSeconds: period, timeoutSeconds: seconds(h.timeout) ?? DEFAULT_TIMEOUT_S, failureThreshold: h.retries ?? DEFAULT_RETRIES };
    let startup: Json | undefined;
    if (h.start_period !== undefined && h.start_period > 0) {
      // Compose does not count failures during start_period and probes every start_interval meanwhile: a startup
      // probe does both, and readiness/liveness begin once it has passed.
      const every = seconds(h.start_interval) ?? DEFAULT_START_INTERVAL_S;
      startup = { ...base, periodSeconds: every, failureThreshold: Math.ceil((h.start_period / 1e9) / every) + base.failureThreshold };
    }
    return { readiness: base, liveness: base, startup };
  }

  /** `depends_on: {X: {condition: service_healthy}}`: an init container that waits until X's Service has a ready pod. */
  private waits(name: string, s: ServiceModel): Json[] {
    const out: Json[] = [];
    for (const dep of Object.keys(s.depends_on).sort()) {
      const d = s.depends_on[dep]!;
      const path = ['services', name, 'depends_on', dep];
      const target = this.model.services[dep];
      if (target === undefined) continue;
      if (d.condition === 'service_started') {
        if (this.node(['services', name, 'depends_on'])?.kind === 'map') this.warn('KUBE_UNMAPPED_KEY', `depends_on ${dep} (service_started) has no mapping: pods start in any order`, path, 'use condition: service_healthy with a healthcheck on the dependency to wait for it');
        else this.warn('KUBE_UNMAPPED_KEY', `depends_on ${dep} (service_started) has no mapping: pods start in any order`, ['services', name, 'depends_on'], 'use condition: service_healthy with a healthcheck on the dependency to wait for it');
        continue;
      }
      if (d.condition === 'service_completed_successfully') {
        this.warn('KUBE_UNMAPPED_KEY', `depends_on ${dep} (service_completed_successfully) has no in-cluster mapping: ${dep} is a Job`, path,
          `\`gantry stack deploy\` applies "${name}" only once the Job "${this.k8sName(dep)}" has completed`);
        continue;
      }
      const svc = this.k8sName(dep);
      if (target.healthcheck === undefined || target.healthcheck.disable) this.warn('KUBE_UNMAPPED_KEY', `depends_on ${dep} (service_healthy): ${dep} has no healthcheck, so its pods are ready when they start`, path);
      const ports = this.containerPorts(target).filter((p) => p.protocol === 'TCP');
      const first = ports[0];
      // A ClusterIP Service refuses connections until a pod behind it is ready; a headless one has no DNS
      // records until then.
      const script = first !== undefined
        ? `until nc -z -w 2 ${svc} ${first.port}; do echo "waiting for ${svc}:${first.port}"; sleep 2; done`
        : `until nslookup ${svc}.$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace).svc.cluster.local >/dev/null 2>&1; do echo "waiting for ${svc}"; sleep 2; done`;
      out.push({ name: `wait-for-${svc}`.slice(0, 63).replace(/-+$/, ''), image: WAIT_IMAGE, command: ['sh', '-c', script] });
    }
    return out;
  }

  private services(name: string, s: ServiceModel, k: string, labels: Record<string, string>): void {
    const path = ['services', name];
    const ports = this.containerPorts(s);
    const spec: Json = ports.length === 0
      ? { clusterIP: 'None', selector: this.selector(name) }
      : { type: 'ClusterIP', selector: this.selector(name), ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: p.protocol })) };
    this.add({ apiVersion: 'v1', kind: 'Service', metadata: this.meta(k, labels), spec }, path);
    // Network aliases that are valid Service names become Services of their own (same pods).
    const aliases = new Set<string>();
    for (const [net, n] of Object.entries(s.networks)) {
      n.aliases.forEach((a, i) => {
        if (a === name || aliases.has(a)) return;
        if (!isDns1035Label(a)) {
          this.warn('KUBE_UNMAPPED_KEY', `alias "${a}" is not a valid Service name (a DNS-1035 label), so no Service answers to it`, ['services', name, 'networks', net, 'aliases', i], `use an alias like "${toDnsLabel(a)}", or reach the service as "${k}"`, 'value');
          return;
        }
        aliases.add(a);
        this.add({ apiVersion: 'v1', kind: 'Service', metadata: this.meta(a, { ...labels, [KUBE_LABELS.component]: 'alias' }), spec }, ['services', name, 'networks', net, 'aliases', i]);
      });
    }
    this.published(name, s, k, labels);
  }

  private published(name: string, s: ServiceModel, k: string, labels: Record<string, string>): void {
    const lb: Json[] = [];
    s.ports.forEach((p, i) => {
      const path = ['services', name, 'ports', i];
      if (p.published === undefined) return;
      const published = Number(p.published.split('-')[0]);
      if (p.published.includes('-')) this.warn('KUBE_UNMAPPED_KEY', `the port range ${p.published} is published as its first port, ${published}`, path, undefined, 'value');
      if (p.host_ip !== undefined && p.host_ip !== '0.0.0.0' && p.host_ip !== '::') this.warn('KUBE_UNMAPPED_KEY', `host_ip ${p.host_ip} has no mapping: a published port is reachable on the load balancer's address`, path, undefined, 'value');
      if (this.opts.ingressHost !== undefined && p.protocol === 'tcp') {
        this.ingress.push({ service: name, k, port: p.target, published, path });
        return;
      }
      const entry = { name: `${p.protocol}-${published}`, port: published, targetPort: p.target, protocol: p.protocol.toUpperCase() };
      if (!lb.some((x) => x['port'] === entry.port && x['protocol'] === entry.protocol)) lb.push(entry);
    });
    if (lb.length > 0) {
      this.add({ apiVersion: 'v1', kind: 'Service', metadata: this.meta(`${k}-public`.slice(0, 63), { ...labels, [KUBE_LABELS.component]: 'published' }),
        spec: { type: 'LoadBalancer', selector: this.selector(name), ports: lb } }, ['services', name, 'ports']);
    }
  }

  readonly ingress: { service: string; k: string; port: number; published: number; path: PathSeg[] }[] = [];

  ingressObject(): void {
    const host = this.opts.ingressHost;
    if (host === undefined || this.ingress.length === 0) return;
    const rules = this.ingress.map((r) => {
      const ofService = this.ingress.filter((x) => x.service === r.service).length;
      const h = this.ingress.length === 1 ? host : ofService === 1 ? `${r.k}.${host}` : `${r.k}-${r.published}.${host}`;
      return { host: h, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: r.k, port: { number: r.port } } } }] } };
    });
    this.add({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: this.meta(toDnsLabel(this.model.name), this.stackLabels()), spec: { rules } }, []);
  }

  unmapped(): void {
    for (const u of unmappedKeys(this.source.root, Object.keys(this.model.services))) {
      const key = u.path[u.path.length - 1];
      this.warn('KUBE_UNMAPPED_KEY', `\`${String(key)}\` is not converted: ${u.reason}`, u.path);
    }
  }
}

function order(a: KubeObject, b: KubeObject): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
}

/** Drops undefined members (the YAML and the API never see them). */
function clean(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clean);
  if (v !== null && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) if (x !== undefined) out[k] = clean(x);
    return out;
  }
  return v;
}

export function convertStack(model: StackModel, source: StackSource, opts: ConvertOptions): ConvertResult {
  const c = new Converter(model, source, opts);
  if (opts.namespace !== undefined && !isDns1123Label(opts.namespace)) {
    c.diagnostics.push(source.diagnostic('error', 'KUBE_BAD_VALUE', `namespace "${opts.namespace}" is not a DNS-1123 label`, [], 'use lowercase letters, digits and "-"'));
  }
  c.planNames();
  c.unmapped();
  c.namespace();
  c.volumes();
  c.fileObjects();
  for (const name of Object.keys(model.services).sort()) c.service(name, model.services[name]!);
  c.ingressObject();
  const objects = [...c.objects].sort(order).map((o) => clean(o) as KubeObject);
  return { objects, diagnostics: sortDiagnostics(c.diagnostics) };
}
