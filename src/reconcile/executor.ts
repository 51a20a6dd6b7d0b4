// Runs a plan: every operation starts once the operations it depends on succeeded; independent operations
// run in parallel. The only effectful part of the reconciler; it reports progress as events and nothing else.
import { GantryError } from '../common/errors.js';
import type { ContainerSpec, NetworkCreateRequest } from '../engine/engine.js';
import type { EngineOps } from './engine-ops.js';
import { inheritAnonymousVolumes } from './inherit-volumes.js';
import type { Operation, Plan } from './types.js';

export type OpStatus = 'started' | 'done' | 'failed' | 'skipped';

/** A progress event (streamed to the CLI as one JSON line). */
export interface ExecEvent {
  readonly kind: 'op';
  readonly id: number;
  readonly type: Operation['type'];
  readonly resource: string;
  readonly cause: string;
  readonly status: OpStatus;
  readonly message?: string | undefined;
}

export interface ExecContext {
  readonly ops: EngineOps;
  readonly project: string;
  /** The spec of container `num` of `service` (labels, mounts, networks...). */
  readonly containerSpec: (service: string, num: number) => ContainerSpec;
  readonly networkSpec: (key: string) => NetworkCreateRequest;
  readonly volumeLabels: (key: string) => Record<string, string>;
  readonly volumeName: (key: string) => string;
  readonly signal: AbortSignal;
}

export interface ExecResult {
  readonly failed: ReadonlyArray<{ readonly op: Operation; readonly error: GantryError }>;
  readonly skipped: readonly Operation[];
}

function nameOf(resource: string): string {
  return resource.slice(resource.indexOf(':') + 1);
}

function asGantryError(e: unknown): GantryError {
  if (e instanceof GantryError) return e;
  return new GantryError('INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
}

async function runOne(op: Operation, ctx: ExecContext): Promise<string | undefined> {
  const { ops } = ctx;
  const name = nameOf(op.resource);
  switch (op.type) {
    case 'create-network': await ops.createNetwork(ctx.networkSpec(op.key!)); return undefined;
    case 'remove-network': await ops.removeNetwork(name); return undefined;
    case 'create-volume': await ops.createVolume(ctx.volumeName(op.key!), ctx.volumeLabels(op.key!)); return undefined;
    case 'remove-volume': await ops.removeVolume(name); return undefined;
    case 'create-container': {
      // The slot's anonymous volumes a `down` left (or a scale down) are taken over, unless -V renews them.
      const spec = { ...ctx.containerSpec(op.service!, op.number!), name };
      const left = op.removeVolumes === true ? [] : ops.leftAnonymousVolumes(ctx.project, op.service!, op.number!);
      const id = await ops.createContainer(left.length === 0 ? spec : inheritAnonymousVolumes(spec, left, ops.imageVolumes(spec.image)));
      return id.slice(0, 12);
    }
    case 'recreate-container': return recreate(op, name, ctx);
    case 'replace-container': return op.order === 'start-first' ? replaceStartFirst(op, name, ctx) : replaceStopFirst(op, name, ctx);
    case 'start-container': await ops.startContainer(op.containerId ?? name); return undefined;
    case 'stop-container': await ops.stopContainer(op.containerId ?? name, op.timeout); return undefined;
    case 'remove-container': await ops.removeContainer(op.containerId ?? name, { volumes: op.removeVolumes === true }); return undefined;
    case 'wait-container': {
      const ids = ops.observe(ctx.project, []).containers.filter((c) => c.service === op.service && !c.oneOff).map((c) => c.id);
      if (op.waitFor === 'healthy') {
        await Promise.all(ids.map((id) => ops.waitHealthy(id, ctx.signal)));
        return 'healthy';
      }
      const codes = await Promise.all(ids.map((id) => ops.waitExit(id, ctx.signal)));
      const bad = codes.find((c) => c !== 0);
      if (bad !== undefined) {
        throw new GantryError('CONFLICT', `service "${op.service}" didn't complete successfully: exit ${bad}`,
          { hint: `see its output: gantry stack logs ${op.service}` });
      }
      return 'exited 0';
    }
  }
}

/** The successor of `op`'s container, named `name`: with the old one's anonymous volumes unless -V renews them. */
function successorSpec(op: Operation, name: string, ctx: ExecContext): ContainerSpec {
  const fresh = { ...ctx.containerSpec(op.service!, op.number!), name };
  if (op.removeVolumes === true) return fresh;
  return inheritAnonymousVolumes(fresh, ctx.ops.containerVolumes(op.containerId!), ctx.ops.imageVolumes(fresh.image));
}

/** Moves the old container out of its slot's name (`<id12>_<name>`); answers the name to give back. */
function park(old: string, name: string, ctx: ExecContext): Promise<string> {
  return ctx.ops.renameContainer(old, `${old.slice(0, 12)}_${name}`);
}

/**
 * Compose's recreate: stop the old container, park it under `<id12>_<name>`, create the new one with the old
 * one's anonymous volumes (unless -V), then remove the old one without them. A failed create renames the old
 * container back, so it (and its data) stays in place.
 */
async function recreate(op: Operation, name: string, ctx: ExecContext): Promise<string> {
  const { ops } = ctx;
  const old = op.containerId!;
  await ops.stopContainer(old, op.timeout);
  const renew = op.removeVolumes === true;
  const spec = successorSpec(op, name, ctx);
  const oldName = await park(old, name, ctx);
  let id: string;
  try {
    id = await ops.createContainer(spec);
  } catch (e) {
    await ops.renameContainer(old, oldName).catch(() => undefined);
    throw e;
  }
  await ops.removeContainer(old, { volumes: renew });
  return id.slice(0, 12);
}

/** How long a start-first hand-over waits for the connections still going to the old container. */
const DRAIN_MS = 10_000;

/** The new container is good: running (healthy, with a healthcheck) and still so after `monitor`. */
async function provesGood(id: string, op: Operation, ctx: ExecContext): Promise<void> {
  await ctx.ops.waitHealthy(id, ctx.signal);
  if ((op.monitorMs ?? 0) > 0) await ctx.ops.staysUp(id, op.monitorMs!, ctx.signal);
}

/** A failed replacement's message says what stayed. */
function failedReplacement(e: unknown, name: string, kept: boolean): GantryError {
  const err = asGantryError(e);
  const what = kept ? `the previous container of ${name} was kept` : `${name} is not running`;
  return new GantryError(err.code, `${err.message}; ${what}`, { hint: err.hint ?? `see its output: gantry logs ${name}`, cause: err });
}

/**
 * update_config order start-first: the old container keeps serving while its successor is created (under the slot's
 * name, the old one parked as `<id12>_<name>`), started without the host ports the old one holds, and proven good;
 * then ports and DNS move to it (listeners kept: no connection refused) and the old one is stopped and removed. Any
 * failure before the hand-over removes the new container and gives the old one its name back: it never stopped.
 */
async function replaceStartFirst(op: Operation, name: string, ctx: ExecContext): Promise<string> {
  const { ops } = ctx;
  const old = op.containerId!;
  const renew = op.removeVolumes === true;
  const spec = successorSpec(op, name, ctx);
  const oldName = await park(old, name, ctx);
  let id: string | undefined;
  try {
    id = await ops.createContainer(spec);
    ops.expectHandover(id, old);
    await ops.startContainer(id);
    await provesGood(id, op, ctx);
  } catch (e) {
    if (id !== undefined) await ops.removeContainer(id, { volumes: false }).catch(() => undefined);
    await ops.renameContainer(old, oldName).catch(() => undefined);
    throw failedReplacement(e, name, true);
  }
  await ops.handOver(old, id, DRAIN_MS);
  await ops.stopContainer(old, op.timeout);
  await ops.removeContainer(old, { volumes: renew });
  return `${id.slice(0, 12)} (start-first)`;
}

/**
 * update_config order stop-first: as compose's recreate, but the successor is started here and proven good; with
 * failure_action rollback a failure removes it and starts the parked old container again under its name.
 */
async function replaceStopFirst(op: Operation, name: string, ctx: ExecContext): Promise<string> {
  const { ops } = ctx;
  const old = op.containerId!;
  await ops.stopContainer(old, op.timeout);
  const renew = op.removeVolumes === true;
  const spec = successorSpec(op, name, ctx);
  const oldName = await park(old, name, ctx);
  let id: string | undefined;
  try {
    id = await ops.createContainer(spec);
    if (op.rollback !== true) await ops.removeContainer(old, { volumes: renew });
    await ops.startContainer(id);
    await provesGood(id, op, ctx);
  } catch (e) {
    if (op.rollback !== true && id !== undefined) throw failedReplacement(e, name, false);
    if (id !== undefined) await ops.removeContainer(id, { volumes: false }).catch(() => undefined);
    await ops.renameContainer(old, oldName).catch(() => undefined);
    const back = await ops.startContainer(old).then(() => true, () => false);
    throw failedReplacement(e, name, back);
  }
  if (op.rollback === true) await ops.removeContainer(old, { volumes: renew });
  return id.slice(0, 12);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done);
  });
}

/** Executes the plan. Never throws for a failed step: failures (and the steps they prevented) are returned. */
export async function executePlan(plan: Plan, ctx: ExecContext, emit: (e: ExecEvent) => void): Promise<ExecResult> {
  const byId = new Map(plan.operations.map((o) => [o.id, o]));
  const outcome = new Map<number, Promise<boolean>>();
  const failed: Array<{ op: Operation; error: GantryError }> = [];
  const skipped: Operation[] = [];
  const ev = (op: Operation, status: OpStatus, message?: string): void =>
    emit({ kind: 'op', id: op.id, type: op.type, resource: op.resource, cause: op.cause, status, ...(message !== undefined ? { message } : {}) });

  const run = (op: Operation): Promise<boolean> => {
    let p = outcome.get(op.id);
    if (p !== undefined) return p;
    p = (async (): Promise<boolean> => {
      const deps = await Promise.all(op.dependsOn.map((d) => run(byId.get(d)!)));
      await Promise.all((op.after ?? []).map((d) => run(byId.get(d)!)));
      if (op.delayMs !== undefined && deps.every((ok) => ok)) await pause(op.delayMs, ctx.signal);
      if (deps.some((ok) => !ok) || ctx.signal.aborted) {
        const why = ctx.signal.aborted ? 'interrupted' : `skipped: #${op.dependsOn.filter((_d, i) => !deps[i]).join(', #')} failed`;
        skipped.push(op);
        ev(op, 'skipped', why);
        return false;
      }
      ev(op, 'started');
      try {
        const message = await runOne(op, ctx);
        ev(op, 'done', message);
        return true;
      } catch (e) {
        const error = asGantryError(e);
        failed.push({ op, error });
        ev(op, 'failed', error.message);
        return false;
      }
    })();
    outcome.set(op.id, p);
    return p;
  };
  await Promise.all(plan.operations.map(run));
  return { failed, skipped };
}
