// The planner: (normalised stack, observed state, options) → plan. Pure: no I/O, no clock, no randomness.
// Every operation carries the reason it exists; dependencies between operations form a DAG the executor walks.
import { GantryError } from '../common/errors.js';
import { serviceConfigHash } from '../stack/hash.js';
import type { ServiceModel, StackModel } from '../stack/model.js';
import { containerName } from './labels.js';
import type { DownOptions, ObservedContainer, ObservedState, Operation, Plan, PlanError, UpOptions, WaitCondition } from './types.js';

class PlanBuilder {
  readonly ops: Operation[] = [];
  readonly warnings: string[] = [];
  readonly errors: PlanError[] = [];

  add(op: Omit<Operation, 'id'>): number {
    const id = this.ops.length + 1;
    this.ops.push({ ...op, id, dependsOn: [...new Set(op.dependsOn)].sort((a, b) => a - b), ...(op.after === undefined ? {} : { after: [...new Set(op.after)].sort((a, b) => a - b) }) });
    return id;
  }
}

const ACTIVE = new Set(['running', 'paused', 'restarting']);
export const isActiveStatus = (status: string): boolean => ACTIVE.has(status);

/** Services in dependency order (dependencies first), ties broken by name. Cycles are the loader's job. */
export function serviceOrder(model: StackModel, names: Iterable<string> = Object.keys(model.services)): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || model.services[name] === undefined) return;
    seen.add(name);
    for (const dep of Object.keys(model.services[name]!.depends_on).sort()) visit(dep);
    out.push(name);
  };
  for (const n of [...names].sort()) visit(n);
  return out;
}

/** The named services plus (unless noDeps) everything they depend on. Empty names: every service. */
export function selectServices(model: StackModel, names: readonly string[], noDeps: boolean): Set<string> {
  const all = Object.keys(model.services);
  for (const n of names) {
    if (model.services[n] === undefined) {
      throw new GantryError('INVALID_ARGUMENT', `no such service: ${n}`, { hint: `services in this stack: ${all.sort().join(', ') || '(none)'}` });
    }
  }
  if (names.length === 0) return new Set(all);
  const out = new Set<string>();
  const add = (n: string): void => {
    if (out.has(n) || model.services[n] === undefined) return;
    out.add(n);
    if (!noDeps) for (const d of Object.keys(model.services[n]!.depends_on)) add(d);
  };
  for (const n of names) add(n);
  return out;
}

/** Name of container `num` of a service: `container_name` for a single container, else `<project>-<svc>-<n>`. */
export function serviceContainerName(model: StackModel, service: ServiceModel, num: number): string {
  return service.container_name !== undefined && num === 1 ? service.container_name : containerName(model.name, service.name, num);
}

/** Services some other service waits on with `service_completed_successfully` (one-shots). */
function oneShotServices(model: StackModel): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(model.services)) {
    for (const [dep, d] of Object.entries(s.depends_on)) if (d.condition === 'service_completed_successfully') out.add(dep);
  }
  return out;
}

function stopTimeout(service: ServiceModel | undefined, override: number | undefined): number | undefined {
  if (override !== undefined) return override;
  if (service?.stop_grace_period === undefined) return undefined;
  return Math.ceil(service.stop_grace_period / 1e9);
}

function byNumber(a: ObservedContainer, b: ObservedContainer): number {
  return a.number - b.number || a.name.localeCompare(b.name);
}

/** Plans `up`: networks and volumes first, then services in dependency order. */
export function reconcile(model: StackModel, observed: ObservedState, options: UpOptions): Plan {
  const b = new PlanBuilder();
  const selected = selectServices(model, options.services, options.noDeps);
  const order = serviceOrder(model).filter((s) => selected.has(s));
  const oneShots = oneShotServices(model);
  // -V: created and recreated containers get new anonymous volumes, none taken over.
  const renew = options.renewAnonVolumes === true;

  // Networks and volumes the selected services use. One of the stack's name that exists without this project's
  // label was made by someone else: it is refused (never adopted, so `down -v` can never delete it).
  const netOps = new Map<string, number>();
  const volOps = new Map<string, number>();
  const checked = new Set<string>();
  for (const svc of order) {
    const s = model.services[svc]!;
    const netKeys = s.network_mode === undefined ? Object.keys(s.networks).sort() : [];
    for (const key of netKeys) {
      const net = model.networks[key];
      if (net === undefined || netOps.has(key) || checked.has(`network:${net.name}`)) continue;
      checked.add(`network:${net.name}`);
      const found = observed.networks.find((n) => n.name === net.name);
      if (found !== undefined) {
        if (!net.external) refuseForeign(b, 'network', key, net.name, found.project, model.name);
        continue;
      }
      if (net.external) {
        throw new GantryError('NETWORK_NOT_FOUND', `network ${net.name} is declared as external, but could not be found`,
          { hint: `create it first: gantry network create ${net.name}` });
      }
      netOps.set(key, b.add({ type: 'create-network', resource: `network:${net.name}`, cause: 'not found', dependsOn: [], key }));
    }
    for (const m of s.volumes) {
      if (m.type !== 'volume' || m.source === undefined) continue;
      const vol = model.volumes[m.source];
      if (vol === undefined || volOps.has(m.source) || checked.has(`volume:${vol.name}`)) continue;
      checked.add(`volume:${vol.name}`);
      const found = observed.volumes.find((v) => v.name === vol.name);
      if (found !== undefined) {
        if (!vol.external) refuseForeign(b, 'volume', m.source, vol.name, found.project, model.name);
        continue;
      }
      if (vol.external) {
        throw new GantryError('VOLUME_NOT_FOUND', `volume ${vol.name} is declared as external, but could not be found`,
          { hint: `create it first: gantry volume create ${vol.name}` });
      }
      volOps.set(m.source, b.add({ type: 'create-volume', resource: `volume:${vol.name}`, cause: 'not found', dependsOn: [], key: m.source }));
    }
  }
  if (b.errors.length > 0) return { project: model.name, operations: [], warnings: [], errors: b.errors };

  // Orphans: containers of the project whose service is not in the stack.
  const orphans = observed.containers.filter((c) => !c.oneOff && model.services[c.service] === undefined).sort(byNumber);
  if (orphans.length > 0) {
    if (options.removeOrphans) {
      for (const c of orphans) removeContainer(b, c, `orphan (service "${c.service}" is not in the stack)`, [], undefined);
    } else {
      b.warnings.push(`found orphan containers (${orphans.map((c) => c.name).join(', ')}) for this project; run with --remove-orphans to remove them`);
    }
  }

  const readyOps = new Map<string, number[]>(); // service → ops that bring it up (start / recreate)
  const hasOps = new Set<string>();
  const recreated = new Set<string>();
  const waits = new Map<string, number>();

  const waitOp = (dep: string, cond: WaitCondition, forService: string): number[] => {
    const depContainers = observed.containers.filter((c) => c.service === dep && !c.oneOff);
    if (!hasOps.has(dep)) {
      const done = cond === 'healthy'
        ? depContainers.length > 0 && depContainers.every((c) => c.health === 'healthy' || (c.health === undefined && c.status === 'running'))
        : depContainers.length > 0 && depContainers.every((c) => c.status === 'exited' && c.exitCode === 0);
      if (done) return [];
    }
    const key = `${dep}:${cond}`;
    let id = waits.get(key);
    if (id === undefined) {
      id = b.add({ type: 'wait-container', resource: `service:${dep}`, cause: `${forService} waits for ${dep} to be ${cond === 'healthy' ? 'healthy' : 'completed successfully'}`,
        dependsOn: readyOps.get(dep) ?? [], service: dep, waitFor: cond });
      waits.set(key, id);
    }
    return [id];
  };

  for (const svc of order) {
    const s = model.services[svc]!;
    const hash = serviceConfigHash(s);
    const want = Math.max(0, options.scale[svc] ?? s.deploy.replicas);
    const existing = observed.containers.filter((c) => c.service === svc && !c.oneOff).sort(byNumber);
    const infra = [
      ...(s.network_mode === undefined ? Object.keys(s.networks).flatMap((k) => (netOps.has(k) ? [netOps.get(k)!] : [])) : []),
      ...s.volumes.flatMap((m) => (m.type === 'volume' && m.source !== undefined && volOps.has(m.source) ? [volOps.get(m.source)!] : [])),
    ];
    let gate: number[] | undefined;
    const depsGate = (): number[] => {
      if (gate !== undefined) return gate;
      gate = [];
      for (const [dep, d] of Object.entries(s.depends_on).sort(([a], [c]) => a.localeCompare(c))) {
        if (model.services[dep] === undefined || !selected.has(dep)) continue;
        if (d.condition === 'service_started') gate.push(...(readyOps.get(dep) ?? []));
        else gate.push(...waitOp(dep, d.condition === 'service_healthy' ? 'healthy' : 'completed', svc));
      }
      return gate;
    };
    const upstream = Object.keys(s.depends_on).filter((d) => recreated.has(d)).sort();
    const recreateReason = (c: ObservedContainer): string | undefined => {
      if (options.noRecreate) return undefined;
      if (options.forceRecreate) return 'forced (--force-recreate)';
      if (c.configHash !== hash) return 'config hash changed';
      const imageId = s.image === undefined ? undefined : observed.images[s.image];
      if (imageId !== undefined && c.imageId !== imageId) return 'image changed';
      if (upstream.length > 0) return `dependency ${upstream.map((u) => `"${u}"`).join(', ')} recreated`;
      return undefined;
    };
    const ready: number[] = [];
    const update = s.deploy.update_config;
    const groups: number[][] = []; // replace-container ops by update_config.parallelism group
    let replaced = 0;
    for (let n = 1; n <= want; n++) {
      const name = serviceContainerName(model, s, n);
      const c = existing.find((x) => x.number === n);
      if (c === undefined) {
        const create = b.add({ type: 'create-container', resource: `container:${name}`, cause: renew ? 'not found; new anonymous volumes (-V)' : 'not found',
          dependsOn: infra, service: svc, number: n, ...(renew ? { removeVolumes: true } : {}) });
        ready.push(b.add({ type: 'start-container', resource: `container:${name}`, cause: 'created', dependsOn: [create, ...depsGate()], service: svc, number: n }));
        continue;
      }
      const why = recreateReason(c);
      if (why !== undefined && update !== undefined) {
        // deploy.update_config: one operation replaces the container (and starts its successor), groups in turn
        recreated.add(svc);
        const group = update.parallelism === 0 ? 0 : Math.floor(replaced++ / update.parallelism);
        const previous = groups[group - 1] ?? [];
        const goOn = update.failure_action === 'continue';
        const id = b.add({ type: 'replace-container', resource: `container:${name}`, cause: `${why}; ${update.order}${renew ? '; new anonymous volumes (-V)' : ''}`,
          dependsOn: [...infra, ...depsGate(), ...(goOn ? [] : previous)], service: svc, number: n, containerId: c.id, timeout: stopTimeout(s, undefined),
          order: update.order, rollback: update.failure_action === 'rollback' || update.order === 'start-first', monitorMs: Math.round(update.monitor / 1e6),
          ...(goOn && previous.length > 0 ? { after: previous } : {}), ...(group > 0 && update.delay > 0 ? { delayMs: Math.round(update.delay / 1e6) } : {}),
          ...(renew ? { removeVolumes: true } : {}) });
        (groups[group] ??= []).push(id);
        ready.push(id);
      } else if (why !== undefined) {
        recreated.add(svc);
        const rec = b.add({ type: 'recreate-container', resource: `container:${name}`, cause: renew ? `${why}; new anonymous volumes (-V)` : why,
          dependsOn: infra, service: svc, number: n, containerId: c.id, timeout: stopTimeout(s, undefined), ...(renew ? { removeVolumes: true } : {}) });
        ready.push(b.add({ type: 'start-container', resource: `container:${name}`, cause: 'recreated', dependsOn: [rec, ...depsGate()], service: svc, number: n }));
      } else if (!isActiveStatus(c.status) && options.startStopped) {
        if (oneShots.has(svc) && c.status === 'exited' && c.exitCode === 0) continue; // a one-shot that did its job
        const state = c.status === 'exited' ? `exited (${c.exitCode})` : c.status;
        ready.push(b.add({ type: 'start-container', resource: `container:${c.name}`, cause: `not running: ${state}`, dependsOn: [...infra, ...depsGate()], service: svc, number: n, containerId: c.id }));
      }
    }
    const extra = existing.filter((c) => c.number > want || existing.find((x) => x.number === c.number) !== c);
    for (const c of extra.reverse()) {
      removeContainer(b, c, `scale ${existing.length} → ${want}`, [], stopTimeout(s, undefined));
      hasOps.add(svc);
    }
    if (ready.length > 0) hasOps.add(svc);
    readyOps.set(svc, ready);
  }
  return { project: model.name, operations: b.ops, warnings: b.warnings, errors: [] };
}

/** A network/volume named like the stack's own that this project did not create: a plan error saying what to do. */
function refuseForeign(b: PlanBuilder, kind: 'network' | 'volume', key: string, name: string, owner: string | undefined, project: string): void {
  if (owner === project) return;
  const whose = owner === undefined ? '' : ` (it belongs to project "${owner}")`;
  b.errors.push({
    code: 'STACK_OBJECT_NOT_OURS', resource: `${kind}:${name}`,
    message: `${kind} "${name}" exists but was not created by gantry for project "${project}"${whose}`,
    hint: `declare it external (${kind}s: { ${key}: { name: ${name}, external: true } }) to use it, or remove it (gantry ${kind} rm ${name})`,
  });
}

function removeContainer(b: PlanBuilder, c: ObservedContainer, cause: string, after: number[], timeout: number | undefined): number {
  const deps = [...after];
  if (isActiveStatus(c.status)) {
    deps.push(b.add({ type: 'stop-container', resource: `container:${c.name}`, cause, dependsOn: after, service: c.service, number: c.number, containerId: c.id, timeout }));
  }
  return b.add({ type: 'remove-container', resource: `container:${c.name}`, cause, dependsOn: deps, service: c.service, number: c.number, containerId: c.id });
}

/**
 * Plans `down`: containers stop dependents-first (the reverse of up), then are removed; then the project's
 * networks and, with -v, its volumes. Without a model (no stack file, no stored stack) every container of the
 * project goes.
 */
export function planDown(model: StackModel | undefined, observed: ObservedState, options: DownOptions): Plan {
  const b = new PlanBuilder();
  const inStack = (c: ObservedContainer): boolean => model === undefined || c.oneOff || model.services[c.service] !== undefined;
  const targets = observed.containers.filter((c) => inStack(c) || options.removeOrphans);
  const orphans = observed.containers.filter((c) => !inStack(c));
  if (orphans.length > 0 && !options.removeOrphans) {
    b.warnings.push(`found orphan containers (${orphans.sort(byNumber).map((c) => c.name).join(', ')}) for this project; run with --remove-orphans to remove them`);
  }
  const dependents = new Map<string, string[]>();
  const order = model === undefined ? [] : serviceOrder(model);
  for (const svc of order) {
    for (const dep of Object.keys(model!.services[svc]!.depends_on)) dependents.set(dep, [...(dependents.get(dep) ?? []), svc]);
  }
  const services = [...new Set([...order, ...targets.map((c) => c.service).sort()])];
  const stopOps = new Map<string, number[]>();
  const removeOps: number[] = [];
  for (const svc of services.reverse()) {
    const after = (dependents.get(svc) ?? []).flatMap((d) => stopOps.get(d) ?? []);
    const service = model?.services[svc];
    const stops: number[] = [];
    for (const c of targets.filter((x) => x.service === svc).sort(byNumber)) {
      const cause = inStack(c) ? (c.oneOff ? 'one-off container' : 'project down') : `orphan (service "${c.service}" is not in the stack)`;
      const timeout = stopTimeout(service, options.timeout);
      const deps = [...after];
      if (isActiveStatus(c.status)) {
        const stop = b.add({ type: 'stop-container', resource: `container:${c.name}`, cause, dependsOn: after, service: svc, number: c.number, containerId: c.id, timeout });
        stops.push(stop);
        deps.push(stop);
      }
      // Anonymous volumes go with their container only on `down -v` (compose's rule); named ones never here.
      removeOps.push(b.add({ type: 'remove-container', resource: `container:${c.name}`, cause: options.removeVolumes ? `${cause}; anonymous volumes too (-v)` : cause,
        dependsOn: deps, service: svc, number: c.number, containerId: c.id, ...(options.removeVolumes ? { removeVolumes: true } : {}) }));
    }
    stopOps.set(svc, stops);
  }
  // Only what carries this project's label (what its `up` created); external ones are never touched.
  const externalNets = new Set(model === undefined ? [] : Object.values(model.networks).filter((n) => n.external).map((n) => n.name));
  for (const n of [...observed.networks].sort((x, y) => x.name.localeCompare(y.name))) {
    if (n.project !== observed.project || externalNets.has(n.name)) continue;
    b.add({ type: 'remove-network', resource: `network:${n.name}`, cause: 'project down', dependsOn: removeOps, key: n.name });
  }
  if (options.removeVolumes) {
    const externalVols = new Set(model === undefined ? [] : Object.values(model.volumes).filter((v) => v.external).map((v) => v.name));
    for (const v of [...observed.volumes].sort((x, y) => x.name.localeCompare(y.name))) {
      if (v.project !== observed.project || externalVols.has(v.name)) continue;
      b.add({ type: 'remove-volume', resource: `volume:${v.name}`, cause: 'project down (-v)', dependsOn: removeOps, key: v.name });
    }
  }
  return { project: observed.project, operations: b.ops, warnings: b.warnings, errors: [] };
}

/** The plan as text, one operation a line: `#3 start-container container:demo-web-1 (created) after #2`. */
export function formatPlan(plan: Plan): string {
  const lines = plan.errors.flatMap((e) => [`error: ${e.message}`, `  hint: ${e.hint}`]);
  lines.push(...plan.warnings.map((w) => `warning: ${w}`));
  if (plan.operations.length === 0 && plan.errors.length === 0) lines.push('nothing to do');
  for (const op of plan.operations) {
    const after = op.dependsOn.length > 0 ? ` after ${op.dependsOn.map((d) => `#${d}`).join(',')}` : '';
    const ordered = (op.after?.length ?? 0) > 0 ? ` once ${op.after!.map((d) => `#${d}`).join(',')} ended` : '';
    const delay = op.delayMs !== undefined ? ` then ${op.delayMs / 1000}s` : '';
    lines.push(`#${op.id} ${op.type} ${op.resource} (${op.cause})${after}${ordered}${delay}`);
  }
  return lines.join('\n') + '\n';
}

