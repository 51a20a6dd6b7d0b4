// Checks the schema cannot express: references between services and to top-level resources, dependency
// cycles, container_name with replicas, duplicate published host ports. Defensive about shapes, so it can
// run even when the schema already found problems.

import { dirname, relative } from 'node:path';
import { formatPath } from './diagnostic.js';
import type { PathSeg, PEntry, PMap, PNode, Pos } from './pnode.js';
import { getEntry, locate } from './pnode.js';
import type { Reporter } from './report.js';
import { parsePortShort, parseVolumeShort, isPathSource, SyntaxProblem } from './short-syntax.js';

function text(n: PNode | undefined): string | undefined {
  return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
}

function mapEntries(n: PNode | undefined): PEntry[] {
  const out: PEntry[] = [];
  if (n?.kind === 'map') n.entries.forEach((e) => { if (!e.key.startsWith('x-')) out.push(e); });
  return out;
}

function listHint(what: string, names: readonly string[]): string {
  return names.length === 0 ? `no ${what} are defined` : `defined ${what} are: ${[...names].sort().join(', ')}`;
}

export interface SemanticInput {
  readonly root: PMap;
  /** Services enabled by the active profiles. */
  readonly enabled: ReadonlySet<string>;
}

export function checkSemantics({ root, enabled }: SemanticInput, reporter: Reporter): void {
  const services = mapEntries(root.entries.get('services')?.value);
  const all = services.map((e) => e.key);
  const defined = (kind: string): string[] => mapEntries(root.entries.get(kind)?.value).map((e) => e.key);
  const networks = defined('networks');
  const volumes = defined('volumes');
  const secrets = defined('secrets');
  const configs = defined('configs');
  const graph = new Map<string, { dep: string; path: PathSeg[] }[]>();

  for (const { key: name, keyPos, value: svc } of services) {
    if (!enabled.has(name)) continue;
    const base: PathSeg[] = ['services', name];
    // Compose: `service "web" has neither an image nor a build context specified`.
    const image = getEntry(svc, 'image');
    const noImage = image === undefined || (image.value.kind === 'scalar' && (text(image.value) ?? '') === '');
    // A service whose `extends` failed has lost what it meant to inherit: that error says enough.
    const extendsFailed = reporter.diagnostics.some((d) => d.severity === 'error' && d.path.startsWith(`${formatPath(base)}.extends`));
    if (svc.kind === 'map' && noImage && getEntry(svc, 'build') === undefined && !extendsFailed) {
      if (image === undefined) {
        reporter.error('SPEC_NO_IMAGE', `service "${name}" has neither \`image\` nor \`build\``, keyPos, base, 'give the service an image, e.g. `image: nginx:1.27`, or `build: ./dir` with a Dockerfile');
      } else {
        reporter.error('SPEC_NO_IMAGE', `service "${name}" has an empty \`image\` and no \`build\``, image.value.pos, [...base, 'image'], 'an image given by a variable (${VAR}) needs that variable to be set');
      }
    }
    const deps: { dep: string; path: PathSeg[] }[] = [];
    for (const e of mapEntries(getEntry(svc, 'depends_on')?.value)) {
      const path = [...base, 'depends_on', e.key];
      const required = text(getEntry(e.value, 'required')?.value) !== 'false';
      if (!all.includes(e.key)) {
        if (required) reporter.error('SPEC_UNKNOWN_DEPENDENCY', `service "${name}" depends on "${e.key}", which is not defined`, e.keyPos, path, listHint('services', all));
      } else if (!enabled.has(e.key)) {
        if (required) reporter.error('SPEC_INACTIVE_DEPENDENCY', `service "${name}" depends on "${e.key}", which no active profile enables`, e.keyPos, path, 'enable one of its profiles with --profile, or mark the dependency `required: false`');
      } else deps.push({ dep: e.key, path });
    }
    graph.set(name, deps);
    const links = getEntry(svc, 'links')?.value;
    if (links?.kind === 'seq') {
      links.items.forEach((item, i) => {
        const target = text(item)?.split(':')[0];
        if (target !== undefined && !all.includes(target)) reporter.error('SPEC_UNKNOWN_LINK', `service "${name}" links to "${target}", which is not defined`, item.pos, [...base, 'links', i], listHint('services', all));
      });
    }
    const nm = text(getEntry(svc, 'network_mode')?.value);
    if (nm?.startsWith('service:') === true) {
      const target = nm.slice('service:'.length);
      if (!all.includes(target)) reporter.error('SPEC_UNKNOWN_NETWORK_MODE_SERVICE', `network_mode of "${name}" names service "${target}", which is not defined`, locate(root, [...base, 'network_mode']), [...base, 'network_mode'], listHint('services', all));
    }
    const vf = getEntry(svc, 'volumes_from')?.value;
    if (vf?.kind === 'seq') {
      vf.items.forEach((item, i) => {
        const t = text(item)?.split(':')[0];
        if (t === undefined || t.startsWith('container')) return;
        if (!all.includes(t)) reporter.error('SPEC_UNKNOWN_VOLUMES_FROM', `volumes_from of "${name}" names service "${t}", which is not defined`, item.pos, [...base, 'volumes_from', i], listHint('services', all));
      });
    }
    // networks
    const sn = getEntry(svc, 'networks')?.value;
    for (const e of mapEntries(sn)) {
      if (!networks.includes(e.key) && e.key !== 'default') {
        reporter.error('SPEC_UNDEFINED_NETWORK', `service "${name}" uses network "${e.key}", which is not defined under top-level \`networks\``, e.keyPos, [...base, 'networks', e.key], listHint('networks', networks));
      }
    }
    // named volumes
    const vols = getEntry(svc, 'volumes')?.value;
    if (vols?.kind === 'seq') {
      vols.items.forEach((item, i) => {
        let source: string | undefined;
        let isVolume = false;
        if (item.kind === 'scalar' && typeof item.value === 'string') {
          try {
            const v = parseVolumeShort(item.value);
            source = v.source;
            isVolume = v.type === 'volume';
          } catch (err) {
            if (err instanceof SyntaxProblem) reporter.error('SPEC_INVALID_VALUE', err.message, item.pos, [...base, 'volumes', i], err.hint);
            return;
          }
        } else if (item.kind === 'map') {
          source = text(getEntry(item, 'source')?.value);
          isVolume = text(getEntry(item, 'type')?.value) === 'volume';
        }
        if (isVolume && source !== undefined && !isPathSource(source) && !volumes.includes(source)) {
          reporter.error('SPEC_UNDEFINED_VOLUME', `service "${name}" mounts volume "${source}", which is not defined under top-level \`volumes\``, item.pos, [...base, 'volumes', i], `${listHint('volumes', volumes)}; a host path must start with "/" or "."`);
        }
      });
    }
    const buildSecrets = getEntry(getEntry(svc, 'build')?.value, 'secrets')?.value;
    if (buildSecrets?.kind === 'seq') {
      buildSecrets.items.forEach((item, i) => {
        const src = item.kind === 'map' ? text(getEntry(item, 'source')?.value) : text(item);
        if (src !== undefined && !secrets.includes(src)) {
          reporter.error('SPEC_UNDEFINED_SECRET', `service "${name}" builds with secret "${src}", which is not defined under top-level \`secrets\``, item.pos, [...base, 'build', 'secrets', i], listHint('secrets', secrets));
        }
      });
    }
    for (const [kind, names, code] of [['secrets', secrets, 'SPEC_UNDEFINED_SECRET'], ['configs', configs, 'SPEC_UNDEFINED_CONFIG']] as const) {
      const list = getEntry(svc, kind)?.value;
      if (list?.kind !== 'seq') continue;
      list.items.forEach((item, i) => {
        const src = item.kind === 'map' ? text(getEntry(item, 'source')?.value) : text(item);
        if (src !== undefined && !names.includes(src)) {
          reporter.error(code, `service "${name}" uses ${kind.slice(0, -1)} "${src}", which is not defined under top-level \`${kind}\``, item.pos, [...base, kind, i], listHint(kind, names));
        }
      });
    }
    // container_name with replicas
    const cn = getEntry(svc, 'container_name');
    const replicas = Number(text(getEntry(getEntry(svc, 'deploy')?.value, 'replicas')?.value) ?? text(getEntry(svc, 'scale')?.value) ?? '1');
    if (cn !== undefined && replicas > 1) {
      reporter.error('SPEC_CONTAINER_NAME_REPLICAS', `service "${name}" sets container_name but runs ${replicas} replicas`, cn.keyPos, [...base, 'container_name'], 'a container name must be unique: remove container_name or run one replica');
    }
  }
  checkCycles(graph, reporter, root);
  checkHostPorts(services.filter((s) => enabled.has(s.key)), reporter);
}

function checkCycles(graph: ReadonlyMap<string, readonly { dep: string; path: PathSeg[] }[]>, reporter: Reporter, root: PMap): void {
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string): void => {
    state.set(n, 'active');
    stack.push(n);
    for (const { dep, path } of graph.get(n) ?? []) {
      if (state.get(dep) === 'active') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        const key = [...cycle.slice(0, -1)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          reporter.error('SPEC_DEPENDENCY_CYCLE', `dependency cycle: ${cycle.join(' -> ')}`, locate(root, path, true), path, 'remove one of these depends_on entries');
        }
      } else if (state.get(dep) === undefined) visit(dep);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (state.get(n) === undefined) visit(n);
}

/** One host port published by one port entry. */
interface Binding {
  readonly service: string;
  readonly ip: string;
  readonly pos: Pos;
  readonly path: PathSeg[];
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function clashes(a: Binding, b: Binding): boolean {
  return a.ip === b.ip || isWildcard(a.ip) || isWildcard(b.ip);
}

/**
 * Host ports published twice. One error per set of clashing entries (a range that clashes on many ports is
 * one error), at the first entry that repeats a port, naming every service that publishes it and where.
 */
function checkHostPorts(services: readonly PEntry[], reporter: Reporter): void {
  const byPort = new Map<string, Binding[]>(); // "proto|port" -> bindings in document order
  for (const { key: name, value: svc } of services) {
    const ports = getEntry(svc, 'ports')?.value;
    if (ports?.kind !== 'seq') continue;
    ports.items.forEach((item, i) => {
      const path: PathSeg[] = ['services', name, 'ports', i];
      let entries: { published: string | undefined; host_ip: string | undefined; protocol: string }[] = [];
      if (item.kind === 'scalar' && (typeof item.value === 'string' || typeof item.value === 'number')) {
        try {
          entries = parsePortShort(item.value);
        } catch (err) {
          if (err instanceof SyntaxProblem) reporter.error('SPEC_INVALID_VALUE', err.message, item.pos, path, err.hint);
          return;
        }
      } else if (item.kind === 'map') {
        entries = [{ published: text(getEntry(item, 'published')?.value), host_ip: text(getEntry(item, 'host_ip')?.value), protocol: text(getEntry(item, 'protocol')?.value) ?? 'tcp' }];
      }
      for (const p of entries) {
        if (p.published === undefined || p.published === '') continue;
        const [lo, hi] = p.published.split('-').map(Number) as [number, number | undefined];
        for (let port = lo; port <= (hi ?? lo); port++) {
          const key = `${p.protocol}|${port}`;
          const list = byPort.get(key) ?? [];
          list.push({ service: name, ip: p.host_ip ?? '0.0.0.0', pos: item.pos, path });
          byPort.set(key, list);
        }
      }
    });
  }
  // Group the clashing ports by the entries involved, so that consecutive ports of the same entries are one range.
  const groups = new Map<string, { protocol: string; ports: number[]; bindings: Binding[] }>();
  byPort.forEach((list, key) => {
    if (list.length < 2) return; // a port published once clashes with nothing
    const involved = list.filter((b, i) => list.some((o, j) => i !== j && clashes(b, o)));
    if (involved.length < 2) return;
    const [protocol, port] = key.split('|') as [string, string];
    const id = `${protocol}|${involved.map((b) => `${b.pos.file}:${b.pos.line}:${b.pos.col}`).join(',')}`;
    const g = groups.get(id) ?? { protocol, ports: [], bindings: involved };
    g.ports.push(Number(port));
    groups.set(id, g);
  });
  for (const g of groups.values()) {
    // Reported at the first entry that repeats a port published before it.
    const at = g.bindings.find((b, i) => g.bindings.slice(0, i).some((o) => clashes(b, o))) as Binding;
    const names = [...new Set(g.bindings.map((b) => b.service))];
    const many = g.ports.length > 1;
    const subject = `host port${many ? 's' : ''} ${portRanges(g.ports.sort((a, b) => a - b))}/${g.protocol} ${many ? 'are' : 'is'} published`;
    const by = names.length > 1 ? `by services ${andList(names.map((n) => `"${n}"`))}` : `${g.bindings.length === 2 ? 'twice' : `${g.bindings.length} times`} by service "${names[0] as string}"`;
    const others = g.bindings.filter((b) => b !== at).map((b) => `service "${b.service}" at ${where(b.pos, at.pos)}`);
    reporter.error('SPEC_DUPLICATE_HOST_PORT', `${subject} ${by}`, at.pos, at.path, `also published by ${andList(others)}; publish each host port once: pick another host port, or bind another host IP`);
  }
}

function portRanges(ports: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ports.length; i++) {
    const start = ports[i] as number;
    while (i + 1 < ports.length && ports[i + 1] === (ports[i] as number) + 1) i++;
    out.push(start === ports[i] ? String(start) : `${start}-${ports[i] as number}`);
  }
  return out.join(', ');
}

function andList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] as string}`;
}

/** FILE:LINE:COL, FILE relative to the directory of the file of `from` (where the error is shown). */
function where(pos: Pos, from: Pos): string {
  return `${relative(dirname(from.file), pos.file) || pos.file}:${pos.line}:${pos.col}`;
}
