// Which keys of a stack file have a Kubernetes mapping. `stack convert` walks what the user wrote (the merged
// tree, so positions point at the source) and lists every key without one once, located, as a warning: a
// conversion never drops a setting silently. Keys whose mapping depends on their value (network_mode, restart,
// user, depends_on conditions, published host IPs, aliases) are judged by the converter itself.

import type { PathSeg, PNode } from '../stack/index.js';

/** `true`: mapped (see docs/architecture.md, "Kubernetes"); a string: not mapped, and why; a table: look inside. */
type Rule = true | string | { readonly [key: string]: Rule };

const FLAT = 'a cluster network is flat (every pod reaches every Service); there are no per-stack networks';
const NODE = 'a node-level setting the pod spec does not carry';

const SERVICE: Rule = {
  image: true, build: true, command: true, entrypoint: true, environment: true, env_file: true, ports: true, expose: true,
  volumes: true, tmpfs: true, network_mode: true, depends_on: true, healthcheck: true, mem_limit: true, mem_reservation: true,
  cpus: true, user: true, working_dir: true, hostname: true, labels: true, annotations: true, cap_add: true, cap_drop: true,
  privileged: true, read_only: true, init: true, stop_grace_period: true, sysctls: true, tty: true, stdin_open: true,
  extra_hosts: true, dns: true, dns_search: true, dns_opt: true, secrets: true, configs: true, profiles: true, restart: true,
  pull_policy: true, shm_size: true, group_add: true, scale: true, extends: true,
  networks: { '*': { aliases: true, priority: 'pods have one network interface', ipv4_address: 'pod addresses are assigned by the cluster', ipv6_address: 'pod addresses are assigned by the cluster', mac_address: 'pod MAC addresses are assigned by the cluster', link_local_ips: 'pod addresses are assigned by the cluster', driver_opts: FLAT, gw_priority: 'pods have one network interface' } },
  deploy: {
    replicas: true, labels: true,
    resources: { limits: { cpus: true, memory: true, pids: 'a pod has no pids limit of its own (the kubelet sets one per node)' }, reservations: { cpus: true, memory: true } },
    restart_policy: { condition: true, max_attempts: true, delay: 'the kubelet\'s restart back-off is fixed', window: 'the kubelet\'s restart back-off is fixed' },
  },
  container_name: 'a controller names its pods; use the service name (its Service) to reach them',
  ulimits: NODE, pids_limit: 'a pod has no pids limit of its own (the kubelet sets one per node)', memswap_limit: NODE,
  stop_signal: 'the kubelet always sends SIGTERM (set STOPSIGNAL in the image)', logging: 'cluster logging is configured per node',
  security_opt: 'set a seccomp or AppArmor profile in the pod\'s securityContext by hand', develop: 'develop.watch is for `gantry watch` on one host',
  domainname: 'pod DNS names come from the cluster domain', mac_address: 'pod MAC addresses are assigned by the cluster',
};

const TOP: Rule = {
  name: true, services: true, volumes: { '*': { name: true, external: true, labels: true, 'x-gantry': true, driver: 'the storage class decides (use --storage-class or x-gantry.kubernetes.storage_class)', driver_opts: 'the storage class decides (use --storage-class or x-gantry.kubernetes.storage_class)' } },
  secrets: { '*': { name: true, file: true, content: true, environment: true, external: true, labels: true } },
  configs: { '*': { name: true, file: true, content: true, environment: true, external: true, labels: true } },
  networks: FLAT, include: true, version: true,
};

export interface Unmapped {
  readonly path: readonly PathSeg[];
  readonly reason: string;
}

function walk(node: PNode, rule: Rule, path: PathSeg[], out: Unmapped[], skip: (path: readonly PathSeg[]) => boolean): void {
  if (rule === true || node.kind !== 'map') return;
  if (typeof rule === 'string') return;
  for (const [key, entry] of node.entries) {
    if (key.startsWith('x-')) continue;
    const p = [...path, key];
    if (skip(p)) continue;
    const r = rule[key] ?? rule['*'];
    if (r === undefined) out.push({ path: p, reason: 'it has no Kubernetes mapping' });
    else if (typeof r === 'string') {
      if (!(entry.value.kind === 'scalar' && (entry.value.value === null || entry.value.value === false))) out.push({ path: p, reason: r });
    } else walk(entry.value, r, p, out, skip);
  }
}

/** Every key without a mapping in the services given (others are disabled by profiles) and the top level. */
export function unmappedKeys(root: PNode, services: readonly string[]): Unmapped[] {
  const out: Unmapped[] = [];
  walk(root, TOP, [], out, () => false);
  const svcs = root.kind === 'map' ? root.entries.get('services')?.value : undefined;
  if (svcs?.kind === 'map') {
    for (const name of services) {
      const node = svcs.entries.get(name)?.value;
      if (node !== undefined) walk(node, SERVICE, ['services', name], out, () => false);
    }
  }
  return out;
}
