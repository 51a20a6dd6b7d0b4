// Stacks in the daemon: the desired state of each project (stored atomically under <root>/stacks/), `up` and
// `down` (observe → plan → execute, one at a time per project), and the repair loop that keeps stored stacks
// converged when a container is removed by hand or the daemon restarts.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { GantryError } from '../common/errors.js';
import { KeyedMutex } from '../common/mutex.js';
import { canonicalJson, serviceConfigHash } from '../stack/hash.js';
import type { StackModel } from '../stack/model.js';
import { systemClock, type Clock, type Timer } from '../engine/clock.js';
import { pullDecision, shouldPull } from '../stack/pull-policy.js';
import type { Engine } from '../engine/engine.js';
import { containerSpec, networkSpec, type StackFiles } from '../reconcile/container-spec.js';
import { engineOps, type EngineOps } from '../reconcile/engine-ops.js';
import { executePlan, type ExecEvent } from '../reconcile/executor.js';
import { COMPOSE_LABEL, LABEL, volumeLabels } from '../reconcile/labels.js';
import { formatPlan, planDown, reconcile, selectServices } from '../reconcile/plan.js';
import { DEFAULT_UP_OPTIONS, type DownOptions, type Operation, type Plan, type UpOptions } from '../reconcile/types.js';
import { StackStore, type StackRecord } from './stack-store.js';
import { credentialsOf, type AuthConfig } from '../engine/registry/auth-header.js';
import type { ProgressMessage } from '../engine/registry/progress.js';
import type { Credentials } from '../engine/registry/transport.js';
import { parseReference } from '../engine/images/reference.js';

export type { StackRecord } from './stack-store.js';

export interface UpRequest {
  model: StackModel;
  options: UpOptions;
  dryRun?: boolean | undefined;
  /** Wait for every service to be running/healthy (one-shots: exited 0). */
  wait?: boolean | undefined;
  waitTimeoutSeconds?: number | undefined;
  /** Credentials per registry domain (`docker.io`, `127.0.0.1:5000`) for the images `up` pulls, Docker's AuthConfig. */
  registryAuth?: Record<string, AuthConfig> | undefined;
}

/** What `up` pulls images with (the daemon's registry service). */
export interface ImagePuller {
  pull(req: { reference: string; credentials?: Credentials | undefined }, emit: (m: ProgressMessage) => void): Promise<unknown>;
}

export interface DownRequest {
  model?: StackModel | undefined;
  options: DownOptions;
  dryRun?: boolean | undefined;
}

/** `stack run`: a one-off container of a service, made in the daemon from the model (the CLI attaches). */
export interface OneOffRequest {
  model: StackModel;
  service: string;
  name: string;
  cmd?: string[] | undefined;
  entrypoint?: string[] | undefined;
  user?: string | undefined;
  workingDir?: string | undefined;
  env: string[];
  tty: boolean;
  interactive: boolean;
  autoRemove: boolean;
}

export interface StackFailure { service: string | undefined; resource: string; message: string; hint?: string | undefined; code?: string | undefined }

/** Events streamed to the CLI (JSON lines). */
/** The start or end of one image's pull during an `up`. */
export interface PullMark { image: string; status: 'pulling' | 'pulled' | 'failed'; error?: string }

export type StackEvent =
  /** A line for the user; `pull` says it is the start or end of an image's pull (a TTY shows those as a task). */
  | { kind: 'waiting'; message: string; pull?: PullMark }
  /** The images an `up` pulls now (before their progress), then each one's progress messages. */
  | { kind: 'pulls'; images: readonly string[] }
  | { kind: 'pull'; image: string; progress: ProgressMessage }
  | { kind: 'plan'; text: string; operations: readonly Operation[]; warnings: readonly string[] }
  | ExecEvent
  | { kind: 'wait'; service: string; status: 'started' | 'done' | 'failed'; message?: string | undefined }
  | { kind: 'result'; ok: boolean; failures: StackFailure[] };

const NAME_RE = /^[a-z0-9][a-z0-9_-]*$/;

function checkProject(project: string): void {
  if (!NAME_RE.test(project)) throw new GantryError('INVALID_ARGUMENT', `invalid project name "${project}"`, { hint: 'project names use lowercase letters, digits, "-" and "_"' });
}

/**
 * What the repair loop keeps converged after an `up`: the services brought up so far (all of them once a plain
 * `up` ran; `up web` adds web and its dependencies), each at the scale its last `up` gave it.
 */
export function keptOptions(prev: StackRecord | undefined, model: StackModel, options: UpOptions): UpOptions {
  const selected = selectServices(model, options.services, options.noDeps);
  const prevAll = prev !== undefined && prev.options.services.length === 0;
  const services = options.services.length === 0 || prevAll ? []
    : [...new Set([...(prev?.options.services ?? []).filter((s) => model.services[s] !== undefined), ...selected])].sort();
  const scale: Record<string, number> = {};
  for (const [svc, n] of Object.entries(prev?.options.scale ?? {})) if (!selected.has(svc) && model.services[svc] !== undefined) scale[svc] = n;
  for (const [svc, n] of Object.entries(options.scale)) if (selected.has(svc)) scale[svc] = n;
  return { ...options, services, scale, noDeps: services.length > 0, forceRecreate: false, renewAnonVolumes: false, startStopped: false };
}

export class StackService {
  readonly dir: string;
  private readonly records: StackStore;
  private readonly mutex = new KeyedMutex();
  private readonly busy = new Map<string, number>();
  private readonly repairTimers = new Map<string, Timer>();
  private unsubscribe: (() => void) | undefined;

  private readonly ops: EngineOps;

  constructor(root: string, private readonly engine: Engine, private readonly log: (msg: string) => void = () => undefined,
    private readonly clock: Clock = systemClock, private readonly puller?: ImagePuller) {
    this.ops = engineOps(engine);
    this.records = new StackStore(root);
    this.dir = this.records.dir;
  }

  // ---- records ------------------------------------------------------------------------------------------

  list(): StackRecord[] {
    return this.records.list();
  }

  get(project: string): StackRecord | undefined {
    checkProject(project);
    return this.records.get(project);
  }

  private save(rec: StackRecord): void {
    this.records.save(rec);
  }

  /** Stores the stack as `up` leaves it; an `up` that changes nothing (same model, options, not held) writes nothing. */
  private remember(model: StackModel, options: UpOptions): void {
    const prior = this.get(model.name);
    const kept = keptOptions(prior, model, options);
    if (prior !== undefined && !prior.held && canonicalJson(prior.model) === canonicalJson(model) && canonicalJson(prior.options) === canonicalJson(kept)) return;
    this.save({ project: model.name, model, options: kept, held: false, updated: new Date().toISOString() });
  }

  setHeld(project: string, held: boolean): void {
    const rec = this.get(project);
    if (rec === undefined) return;
    this.save({ ...rec, held, updated: new Date().toISOString() });
  }

  /** Secrets/configs as host files: `file:` as is; `content:`/`environment:` written under the stack's dir. */
  stackFiles(model: StackModel): StackFiles {
    const base = join(this.dir, model.name);
    const out = { secrets: {} as Record<string, string>, configs: {} as Record<string, string> };
    for (const kind of ['secrets', 'configs'] as const) {
      for (const [key, obj] of Object.entries(model[kind])) {
        if (obj.file !== undefined) { out[kind][key] = obj.file; continue; }
        const content = obj.content ?? (obj.environment !== undefined ? '' : undefined);
        if (content === undefined) continue;
        mkdirSync(join(base, kind), { recursive: true, mode: 0o700 });
        const path = join(base, kind, key);
        writeFileAtomic(path, content, 0o444);
        out[kind][key] = path;
      }
    }
    return out;
  }

  private async exclusive<T>(project: string, emit: (e: StackEvent) => void, fn: () => Promise<T>): Promise<T> {
    if ((this.busy.get(project) ?? 0) > 0) emit({ kind: 'waiting', message: `another operation on stack ${project} is running; waiting for it to finish` });
    this.busy.set(project, (this.busy.get(project) ?? 0) + 1);
    try {
      return await this.mutex.run(project, fn);
    } finally {
      this.busy.set(project, (this.busy.get(project) ?? 1) - 1);
    }
  }

  private execContext(model: StackModel, signal: AbortSignal): Parameters<typeof executePlan>[1] {
    const files = this.stackFiles(model);
    return {
      ops: this.ops, project: model.name, signal,
      containerSpec: (svc, num) => { const s = model.services[svc]!; return containerSpec(model, s, num, serviceConfigHash(s), files); },
      networkSpec: (key) => networkSpec(model.name, key, model.networks[key]!),
      volumeName: (key) => model.volumes[key]!.name,
      volumeLabels: (key) => ({ ...model.volumes[key]!.labels, ...volumeLabels(model.name, key) }),
    };
  }

  private imageRefs(model: StackModel): string[] {
    return [...new Set(Object.values(model.services).flatMap((s) => (s.image ? [s.image] : [])))];
  }

  // ---- up / down / run --------------------------------------------------------------------------------------

  /** Creates a one-off container of a service: no published ports, no restart policy (compose's rules). */
  async createOneOff(req: OneOffRequest): Promise<string> {
    checkProject(req.model.name);
    const s = req.model.services[req.service];
    if (s === undefined) throw new GantryError('INVALID_ARGUMENT', `no such service: ${req.service}`, { hint: `services: ${Object.keys(req.model.services).sort().join(', ')}` });
    const base = containerSpec(req.model, s, 1, serviceConfigHash(s), this.get(req.model.name) !== undefined ? this.stackFiles(req.model) : { secrets: {}, configs: {} });
    const spec = {
      // A one-off's anonymous volumes are its own: not labelled for the service's slot, never taken over.
      ...base, name: req.name, labels: { ...base.labels, [LABEL.ONE_OFF]: 'True', [COMPOSE_LABEL.ONE_OFF]: 'True' }, anonymousVolumeLabels: undefined,
      ...(req.cmd !== undefined ? { cmd: req.cmd } : {}), ...(req.entrypoint !== undefined ? { entrypoint: req.entrypoint } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}), ...(req.workingDir !== undefined ? { workingDir: req.workingDir } : {}),
      env: [...base.env, ...req.env], tty: req.tty, openStdin: req.interactive,
      host: { ...base.host, portBindings: [], restartPolicy: { name: 'no' as const, maximumRetryCount: 0 }, autoRemove: req.autoRemove },
    };
    return (await this.engine.createContainer(spec)).id;
  }

  /** Plans and applies `up`; stores the desired state first so the daemon keeps it converged. */
  async up(req: UpRequest, emit: (e: StackEvent) => void, signal: AbortSignal): Promise<boolean> {
    const model = req.model;
    checkProject(model.name);
    return this.exclusive(model.name, emit, async () => {
      const options = { ...DEFAULT_UP_OPTIONS, ...req.options };
      if (!req.dryRun) {
        const failures = await this.pullImages(model, selectServices(model, options.services, options.noDeps), req.registryAuth ?? {}, emit);
        if (failures.length > 0) { emit({ kind: 'result', ok: false, failures }); return false; }
      }
      const observed = this.ops.observe(model.name, this.imageRefs(model));
      const plan = reconcile(model, observed, options);
      emit({ kind: 'plan', text: formatPlan(plan), operations: plan.operations, warnings: plan.warnings });
      if (plan.errors.length > 0) {
        // Refused as a whole, before anything is made; the stack is not stored, so the daemon does not retry it.
        emit({ kind: 'result', ok: false, failures: plan.errors.map((e) => ({ service: undefined, resource: e.resource, message: e.message, hint: e.hint, code: e.code })) });
        return false;
      }
      if (req.dryRun) { emit({ kind: 'result', ok: true, failures: [] }); return true; }
      this.remember(model, options);
      const failures = await this.apply(model, plan, emit, signal);
      if (failures.length === 0 && req.wait) {
        failures.push(...await this.waitReady(model, selectServices(model, options.services, options.noDeps), req.waitTimeoutSeconds, emit, signal));
      }
      emit({ kind: 'result', ok: failures.length === 0, failures });
      return failures.length === 0;
    });
  }

  /**
   * Pulls the images of `services` per their `pull_policy` (compose's): `always`/`refresh` pull, `missing` (the
   * default, also `if_not_present`) pulls when the image is not in the store, `daily`/`weekly`/`every_<duration>`
   * also when its last pull (or tag) is older than that, `never` and `build` do not pull. Several
   * images at once; a failed pull fails `up` before anything is changed.
   */
  private async pullImages(model: StackModel, services: Set<string>, auth: Record<string, AuthConfig>, emit: (e: StackEvent) => void): Promise<StackFailure[]> {
    const puller = this.puller;
    if (puller === undefined) return [];
    const wanted = new Map<string, string>();
    for (const name of [...services].sort()) {
      const s = model.services[name];
      if (s?.image === undefined) continue;
      const present = this.engine.images.resolve(s.image);
      const pulledAt = present === undefined ? undefined : Date.parse(present.lastTagTime ?? present.created);
      if (!shouldPull(pullDecision(s.pull_policy), pulledAt === undefined ? undefined : Number.isNaN(pulledAt) ? 0 : pulledAt, this.clock.now())) continue;
      if (!wanted.has(s.image)) wanted.set(s.image, name);
    }
    const failures: StackFailure[] = [];
    if (wanted.size > 0) emit({ kind: 'pulls', images: [...wanted.keys()] });
    await Promise.all([...wanted].map(async ([image, service]) => {
      emit({ kind: 'waiting', message: ` Image ${image}  Pulling`, pull: { image, status: 'pulling' } });
      try {
        let domain: string;
        try { domain = parseReference(image).domain; } catch { domain = ''; }
        await puller.pull({ reference: image, credentials: credentialsOf(auth[domain]) }, (progress) => { if (progress.id !== undefined) emit({ kind: 'pull', image, progress }); });
        emit({ kind: 'waiting', message: ` Image ${image}  Pulled`, pull: { image, status: 'pulled' } });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        emit({ kind: 'waiting', message: ` Image ${image}  Error: ${message}`, pull: { image, status: 'failed', error: message } });
        failures.push({ service, resource: `image:${image}`, message, hint: e instanceof GantryError ? e.hint : undefined, code: e instanceof GantryError ? e.code : undefined });
      }
    }));
    return failures;
  }

  private async apply(model: StackModel, plan: Plan, emit: (e: StackEvent) => void, signal: AbortSignal): Promise<StackFailure[]> {
    if (plan.operations.length === 0) return [];
    const r = await executePlan(plan, this.execContext(model, signal), emit);
    return r.failed.map(({ op, error }) => ({ service: op.service, resource: op.resource, message: error.message, hint: error.hint }));
  }

  private async waitReady(model: StackModel, services: Set<string>, timeoutSeconds: number | undefined, emit: (e: StackEvent) => void, signal: AbortSignal): Promise<StackFailure[]> {
    const oneShots = new Set(Object.values(model.services).flatMap((s) => Object.entries(s.depends_on).filter(([, d]) => d.condition === 'service_completed_successfully').map(([k]) => k)));
    const timeout = AbortSignal.timeout((timeoutSeconds ?? 300) * 1000);
    const both = AbortSignal.any([signal, timeout]);
    const failures: StackFailure[] = [];
    const containers = this.ops.observe(model.name, []).containers.filter((c) => services.has(c.service) && !c.oneOff);
    await Promise.all([...services].sort().map(async (svc) => {
      emit({ kind: 'wait', service: svc, status: 'started' });
      try {
        for (const c of containers.filter((x) => x.service === svc)) {
          if (oneShots.has(svc)) {
            const code = await this.ops.waitExit(c.id, both);
            if (code !== 0) throw new GantryError('CONFLICT', `container ${c.name} exited with code ${code}`);
          } else {
            await this.ops.waitHealthy(c.id, both);
          }
        }
        emit({ kind: 'wait', service: svc, status: 'done' });
      } catch (e) {
        const message = timeout.aborted ? `not ready after ${timeoutSeconds ?? 300}s` : e instanceof Error ? e.message : String(e);
        failures.push({ service: svc, resource: `service:${svc}`, message, hint: e instanceof GantryError ? e.hint : undefined });
        emit({ kind: 'wait', service: svc, status: 'failed', message });
      }
    }));
    return failures;
  }

  /** Plans and applies `down`, then forgets the stack. Uses the stored model when none is given. */
  async down(project: string, req: DownRequest, emit: (e: StackEvent) => void, signal: AbortSignal): Promise<boolean> {
    checkProject(project);
    return this.exclusive(project, emit, async () => {
      const stored = this.get(project); // a record a newer gantry wrote stops here, before anything is removed
      const model = req.model ?? stored?.model;
      const plan = planDown(model, this.ops.observe(project, []), req.options);
      emit({ kind: 'plan', text: formatPlan(plan), operations: plan.operations, warnings: plan.warnings });
      if (req.dryRun) { emit({ kind: 'result', ok: true, failures: [] }); return true; }
      this.records.delete(project);
      const failures = plan.operations.length === 0 ? [] : (await executePlan(plan, {
        ops: this.ops, project, signal, volumeName: (k) => k, volumeLabels: () => ({}),
        containerSpec: () => { throw new GantryError('INTERNAL', 'down creates no container'); },
        networkSpec: () => { throw new GantryError('INTERNAL', 'down creates no network'); },
      }, emit)).failed.map(({ op, error }) => ({ service: op.service, resource: op.resource, message: error.message, hint: error.hint }));
      if (failures.length === 0) rmSync(join(this.dir, project), { recursive: true, force: true });
      emit({ kind: 'result', ok: failures.length === 0, failures });
      return failures.length === 0;
    });
  }

  // ---- keeping stacks converged ----------------------------------------------------------------------------

  /** Re-converges a stored stack (not started containers stay stopped: their restart policy decides). */
  async repair(project: string): Promise<void> {
    await this.mutex.run(project, async () => {
      const rec = this.get(project);
      if (rec === undefined || rec.held) return;
      const plan = reconcile(rec.model, this.ops.observe(project, this.imageRefs(rec.model)), { ...rec.options, startStopped: false, noRecreate: true, removeOrphans: false });
      if (plan.errors.length > 0) { this.log(`stack ${project}: cannot repair\n${formatPlan(plan)}`); return; }
      if (plan.operations.length === 0) return;
      this.log(`stack ${project}: repairing drift\n${formatPlan(plan)}`);
      const failures = await this.apply(rec.model, plan, () => undefined, new AbortController().signal);
      this.engine.events.emit('stack', failures.length === 0 ? 'repair' : 'repair-failed', project, { name: project });
      for (const f of failures) this.log(`stack ${project}: ${f.resource}: ${f.message}`);
    });
  }

  private scheduleRepair(project: string): void {
    this.repairTimers.get(project)?.cancel();
    const t = this.clock.after(300, () => {
      this.repairTimers.delete(project);
      void this.repair(project).catch((e: unknown) => this.log(`stack ${project}: repair failed: ${e instanceof Error ? e.message : String(e)}`));
    });
    this.repairTimers.set(project, t);
  }

  /** Watches for containers of stored stacks that die or vanish, and converges every stored stack now. */
  start(): void {
    this.unsubscribe = this.engine.events.subscribe((e) => {
      if (e.Type !== 'container' || (e.Action !== 'destroy' && e.Action !== 'die')) return;
      // By label, never by name: a service with its own container_name belongs to its project too.
      // (no read of the stored stacks per event: the debounced repair reads its one record, and skips a project
      // that has none or is held)
      const project = e.Actor.Attributes[LABEL.PROJECT];
      if (project !== undefined) this.scheduleRepair(project);
    });
    for (const rec of this.list()) this.scheduleRepair(rec.project);
  }

  stop(): void {
    this.unsubscribe?.();
    for (const t of this.repairTimers.values()) t.cancel();
  }
}
