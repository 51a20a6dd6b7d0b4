// Keys that Compose accepts and the schema allows, but Gantry does not implement yet. Each one found in a
// stack file is reported as a located SPEC_UNSUPPORTED_KEY warning. Remove entries as features land.

import type { PathSeg, PNode, Pos } from './pnode.js';
import type { Reporter } from './report.js';

/** Dotted paths; `*` matches any (non-extension) key. */
export const UNSUPPORTED_KEYS: readonly string[] = [
  'models',
  'services.*.build.ssh',
  'services.*.build.cache_from',
  'services.*.build.cache_to',
  'services.*.build.additional_contexts',
  'services.*.build.extra_hosts',
  'services.*.build.isolation',
  'services.*.build.privileged',
  'services.*.build.platforms',
  'services.*.build.shm_size',
  'services.*.build.ulimits',
  'services.*.build.entitlements',
  'services.*.build.no_cache',
  'services.*.build.pull',
  'services.*.deploy.placement',
  'services.*.deploy.update_config.max_failure_ratio',
  'services.*.deploy.rollback_config',
  'services.*.deploy.endpoint_mode',
  'services.*.deploy.resources.reservations.devices',
  'services.*.deploy.resources.limits.devices',
  'services.*.devices',
  'services.*.device_cgroup_rules',
  'services.*.gpus',
  'services.*.userns_mode',
  'services.*.uts',
  'services.*.ipc',
  'services.*.pid',
  'services.*.cgroup',
  'services.*.cgroup_parent',
  'services.*.platform',
  'services.*.runtime',
  'services.*.storage_opt',
  'services.*.blkio_config',
  'services.*.cpu_count',
  'services.*.cpu_percent',
  'services.*.cpu_shares',
  'services.*.cpu_quota',
  'services.*.cpu_period',
  'services.*.cpu_rt_period',
  'services.*.cpu_rt_runtime',
  'services.*.cpuset',
  'services.*.credential_spec',
  'services.*.isolation',
  'services.*.oom_kill_disable',
  'services.*.oom_score_adj',
  'services.*.mem_swappiness',
  'services.*.external_links',
  'services.*.links',
  'services.*.volumes_from',
  'services.*.label_file',
  'services.*.post_start',
  'services.*.pre_stop',
  'services.*.provider',
  'services.*.use_api_socket',
  'services.*.attach',
  'secrets.*.external',
  'secrets.*.driver',
  'secrets.*.driver_opts',
  'secrets.*.template_driver',
  'configs.*.external',
  'configs.*.driver',
  'configs.*.driver_opts',
  'configs.*.template_driver',
  'networks.*.ipam.options',
  'networks.*.ipam.config.*.aux_addresses',
];

interface Trie {
  /** Children by key; `*` matches any non-extension key (or any item of a list). */
  readonly next: Map<string, Trie>;
  /** Indexes in UNSUPPORTED_KEYS of the patterns that end here. */
  readonly ends: number[];
}

let trie: Trie | undefined;

function patternTrie(): Trie {
  if (trie !== undefined) return trie;
  const root: Trie = { next: new Map(), ends: [] };
  UNSUPPORTED_KEYS.forEach((pattern, index) => {
    let t = root;
    for (const seg of pattern.split('.')) {
      let n = t.next.get(seg);
      if (n === undefined) {
        n = { next: new Map(), ends: [] };
        t.next.set(seg, n);
      }
      t = n;
    }
    t.ends.push(index);
  });
  trie = root;
  return root;
}

interface Found {
  readonly pattern: number;
  readonly key: PathSeg;
  readonly keyPos: Pos;
  readonly path: PathSeg[];
}

/** One walk for all patterns; warnings come out pattern by pattern, each in document order. */
export function reportUnsupported(root: PNode, reporter: Reporter): void {
  const found: Found[] = [];
  const path: PathSeg[] = [];
  const step = (t: Trie | undefined, k: PathSeg, child: PNode, keyPos: Pos): void => {
    if (t === undefined) return;
    path.push(k);
    if (t.ends.length > 0 && !(child.kind === 'scalar' && (child.value === null || child.value === false))) {
      for (const pattern of t.ends) found.push({ pattern, key: k, keyPos, path: path.slice() });
    }
    if (t.next.size > 0) visit(child, t);
    path.pop();
  };
  const visit = (node: PNode, t: Trie): void => {
    const any = t.next.get('*');
    if (node.kind === 'map') {
      node.entries.forEach((e, k) => {
        // A pattern ending at a node is reported once even when `*` and the key itself both lead there.
        const exact = t.next.get(k);
        if (any !== undefined && !k.startsWith('x-')) step(any, k, e.value, e.keyPos);
        if (exact !== undefined && exact !== any) step(exact, k, e.value, e.keyPos);
      });
    } else if (node.kind === 'seq' && any !== undefined) {
      node.items.forEach((item, idx) => step(any, idx, item, item.pos));
    }
  };
  visit(root, patternTrie());
  // Stable: within a pattern, document order.
  found.sort((a, b) => a.pattern - b.pattern);
  for (const f of found) {
    reporter.warn('SPEC_UNSUPPORTED_KEY', `\`${String(f.key)}\` is not supported by Gantry yet and is ignored`, f.keyPos, f.path, 'remove it, or keep it for other tools that read this file');
  }
  const version = root.kind === 'map' ? root.entries.get('version') : undefined;
  if (version !== undefined) reporter.warn('SPEC_UNSUPPORTED_KEY', '`version` is obsolete and ignored', version.keyPos, ['version'], 'remove it');
}
