// Keys that Compose accepts and the schema allows, but Gantry does not implement yet. Each one found in a
// stack file is reported as a located SPEC_UNSUPPORTED_KEY warning. Remove entries as features land.

import type { PathSeg, PNode } from './pnode.js';
import type { Reporter } from './report.js';

/** Dotted paths; `*` matches any (non-extension) key. */
export const UNSUPPORTED_KEYS: readonly string[] = [
  'models',
  'services.*.build',
  'services.*.develop',
  'services.*.deploy.placement',
  'services.*.deploy.update_config',
  'services.*.deploy.rollback_config',
  'services.*.deploy.endpoint_mode',
  'services.*.deploy.resources.reservations.devices',
  'services.*.deploy.resources.limits.devices',
  'services.*.logging',
  'services.*.devices',
  'services.*.device_cgroup_rules',
  'services.*.gpus',
  'services.*.security_opt',
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

export function reportUnsupported(root: PNode, reporter: Reporter): void {
  for (const pattern of UNSUPPORTED_KEYS) {
    const segs = pattern.split('.');
    const visit = (node: PNode, i: number, path: PathSeg[]): void => {
      const seg = segs[i] as string;
      const last = i === segs.length - 1;
      const children: [PathSeg, PNode, PNode['pos']][] = [];
      if (node.kind === 'map') {
        if (seg === '*') {
          for (const [k, e] of node.entries) if (!k.startsWith('x-')) children.push([k, e.value, e.keyPos]);
        } else {
          const e = node.entries.get(seg);
          if (e !== undefined) children.push([seg, e.value, e.keyPos]);
        }
      } else if (node.kind === 'seq' && seg === '*') {
        node.items.forEach((item, idx) => children.push([idx, item, item.pos]));
      }
      for (const [k, child, keyPos] of children) {
        const p = [...path, k];
        if (!last) visit(child, i + 1, p);
        else if (!(child.kind === 'scalar' && (child.value === null || child.value === false))) {
          reporter.warn('SPEC_UNSUPPORTED_KEY', `\`${String(k)}\` is not supported by Gantry yet and is ignored`, keyPos, p, 'remove it, or keep it for other tools that read this file');
        }
      }
    };
    visit(root, 0, []);
  }
  const version = root.kind === 'map' ? root.entries.get('version') : undefined;
  if (version !== undefined) reporter.warn('SPEC_UNSUPPORTED_KEY', '`version` is obsolete and ignored', version.keyPos, ['version'], 'remove it');
}
