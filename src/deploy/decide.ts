// The pure half of a tick: what to do with what git and the engine said (decideTick), when to look again
// (nextDelayMs), and what `deploy status` reports (computeStatus). No clock, no I/O: unit-tested on plain data.
import type { ObservedContainer } from '../reconcile/types.js';
import type { StackModel } from '../stack/model.js';
import type { DeployRecord, DeployStatus, Health, Revision, ServiceStatus, SyncStatus } from './types.js';

/** One difference between the running revision and the containers: the step `up` would take, and its service. */
export interface DriftItem { readonly service: string | undefined; readonly text: string }

const texts = (drift: readonly DriftItem[]): string => drift.map((d) => d.text).join('; ');

/** What git said about the ref: its commit, or why it could not be asked. */
export type RemoteAnswer = { readonly ok: true; readonly commit: string } | { readonly ok: false; readonly error: string };

export type TickDecision =
  /** Finish a revision the daemon died applying. */
  | { readonly kind: 'resume'; readonly rev: number }
  | { readonly kind: 'deploy'; readonly commit: string; readonly cause: string }
  /** Apply the running revision again (drift, self-heal on). */
  | { readonly kind: 'heal'; readonly drift: readonly DriftItem[] }
  /** Nothing to apply; `why` is for the log and the status. */
  | { readonly kind: 'idle'; readonly why: string }
  /** git could not answer: back off. */
  | { readonly kind: 'fail'; readonly error: string };

export interface TickInput {
  readonly record: DeployRecord;
  readonly remote: RemoteAnswer;
  /** Why the running revision's containers differ from it (empty: they match). */
  readonly drift: readonly DriftItem[];
}

export function appliedRevision(record: DeployRecord): Revision | undefined {
  const rev = record.state.appliedRev;
  return rev === undefined ? undefined : record.revisions.find((r) => r.rev === rev);
}

export function shortSha(commit: string | undefined): string {
  return commit === undefined ? '-' : commit.slice(0, 12);
}

export function decideTick({ record, remote, drift }: TickInput): TickDecision {
  const { state, spec } = record;
  if (state.applying !== undefined && record.revisions.some((r) => r.rev === state.applying?.rev)) return { kind: 'resume', rev: state.applying.rev };
  if (!remote.ok) return { kind: 'fail', error: remote.error };
  if (state.suspended) return { kind: 'idle', why: `suspended (${state.suspendedReason ?? 'by hand'}); \`gantry deploy resume ${spec.name}\` syncs again` };
  const applied = appliedRevision(record);
  if (remote.commit !== applied?.commit) {
    if (remote.commit !== state.failedCommit) return { kind: 'deploy', commit: remote.commit, cause: applied === undefined ? 'first sync' : 'new commit' };
    // The bad commit is not tried again until the ref moves; the running revision is still looked after.
    if (drift.length > 0 && spec.selfHeal && applied !== undefined) return { kind: 'heal', drift };
    return { kind: 'idle', why: `commit ${shortSha(remote.commit)} failed; waiting for the ref to move` };
  }
  if (drift.length > 0) {
    return spec.selfHeal ? { kind: 'heal', drift } : { kind: 'idle', why: `drift (not corrected: --self-heal is off): ${texts(drift)}` };
  }
  return { kind: 'idle', why: 'synced' };
}

/** The longest wait between polls after failures: 5 minutes, or the interval when that is longer. */
export const MAX_BACKOFF_MS = 5 * 60_000;

/** Poll again after one interval; after n failures in a row after interval·2ⁿ, capped. */
export function nextDelayMs(intervalMs: number, consecutiveFailures: number): number {
  const cap = Math.max(intervalMs, MAX_BACKOFF_MS);
  return Math.min(cap, intervalMs * 2 ** Math.min(consecutiveFailures, 30));
}

// ---- status -----------------------------------------------------------------------------------------------

const RANK: Record<Health, number> = { Healthy: 0, Progressing: 1, Suspended: 1, Degraded: 2, Missing: 3 };

/** One-shots: services others wait for with `service_completed_successfully` (their exit 0 is their health). */
function oneShots(model: StackModel): Set<string> {
  return new Set(Object.values(model.services).flatMap((s) => Object.entries(s.depends_on).filter(([, d]) => d.condition === 'service_completed_successfully').map(([k]) => k)));
}

function containerHealth(c: ObservedContainer, oneShot: boolean): { health: Health; detail: string } {
  if (c.status === 'running') {
    if (c.health === 'unhealthy') return { health: 'Degraded', detail: `${c.name} unhealthy` };
    if (c.health === 'starting') return { health: 'Progressing', detail: `${c.name} health: starting` };
    return { health: 'Healthy', detail: `${c.name} running${c.health === 'healthy' ? ' (healthy)' : ''}` };
  }
  if (c.status === 'exited' && oneShot && c.exitCode === 0) return { health: 'Healthy', detail: `${c.name} completed` };
  if (c.status === 'created' || c.status === 'restarting') return { health: 'Progressing', detail: `${c.name} ${c.status}` };
  return { health: 'Degraded', detail: `${c.name} ${c.status}${c.status === 'exited' ? ` (${c.exitCode})` : ''}` };
}

/** Per service of the model: the worst of its containers (none: Degraded). */
export function serviceHealth(model: StackModel, containers: readonly ObservedContainer[]): ServiceStatus[] {
  const shots = oneShots(model);
  return Object.keys(model.services).sort().map((service) => {
    const own = containers.filter((c) => c.service === service && !c.oneOff);
    if (own.length === 0) return { service, health: 'Degraded' as Health, detail: 'no container' };
    const each = own.map((c) => containerHealth(c, shots.has(service)));
    const worst = each.reduce((a, b) => (RANK[b.health] > RANK[a.health] ? b : a));
    return { service, health: worst.health, detail: each.map((e) => e.detail).join(', ') };
  });
}

export function worstHealth(healths: readonly Health[]): Health {
  return healths.reduce<Health>((a, b) => (RANK[b] > RANK[a] ? b : a), 'Healthy');
}

export interface StatusInput {
  readonly record: DeployRecord;
  readonly containers: readonly ObservedContainer[];
  readonly drift: readonly DriftItem[];
}

export function computeStatus({ record, containers, drift }: StatusInput): DeployStatus {
  const { spec, state } = record;
  const applied = appliedRevision(record);
  let sync: SyncStatus;
  let syncReason: string;
  if (state.latestCommit === undefined && applied === undefined) { sync = 'Unknown'; syncReason = state.lastError ?? 'not polled yet'; }
  else if (applied === undefined) { sync = 'OutOfSync'; syncReason = state.failedCommit !== undefined ? `commit ${shortSha(state.failedCommit)} failed; nothing applied yet` : 'not applied yet'; }
  else if (state.latestCommit !== undefined && state.latestCommit !== applied.commit) {
    sync = 'OutOfSync';
    syncReason = state.latestCommit === state.failedCommit ? `commit ${shortSha(state.latestCommit)} failed; running rev ${applied.rev} (${shortSha(applied.commit)})`
      : state.suspended ? `new commit ${shortSha(state.latestCommit)} (suspended)` : `new commit ${shortSha(state.latestCommit)}`;
  } else if (drift.length > 0) { sync = 'OutOfSync'; syncReason = `drift: ${texts(drift)}`; }
  else { sync = 'Synced'; syncReason = `rev ${applied.rev} (${shortSha(applied.commit)})`; }
  const services = applied === undefined ? [] : serviceHealth(applied.model, containers).map((v) => {
    const own = drift.filter((d) => d.service === v.service);
    return { ...v, sync: own.length > 0 ? 'OutOfSync' as const : 'Synced' as const, syncReason: own.length > 0 ? `drift: ${texts(own)}` : undefined };
  });
  const health: Health = state.applying !== undefined ? 'Progressing' : applied === undefined ? 'Missing' : worstHealth(services.map((s) => s.health));
  return {
    name: spec.name, project: applied?.model.name, repo: spec.repo, ref: spec.ref, paths: spec.paths, sync, syncReason, health, services,
    appliedCommit: applied?.commit, appliedRev: applied?.rev, latestCommit: state.latestCommit, failedCommit: state.failedCommit,
    suspended: state.suspended, suspendedReason: state.suspendedReason, lastError: state.lastError, diagnostics: state.diagnostics,
    lastPoll: state.lastPoll, nextPoll: state.nextPoll, intervalMs: spec.intervalMs, prune: spec.prune, selfHeal: spec.selfHeal,
    webhook: spec.webhookSecretFile !== undefined,
  };
}

/** Drift as the reconciler sees it: the steps an `up` of the running revision would take, one phrase each. */
export function driftOf(operations: readonly { readonly type: string; readonly resource: string; readonly cause: string; readonly service?: string | undefined }[]): DriftItem[] {
  return operations.filter((o) => o.type !== 'wait-container').map((o) => ({ service: o.service, text: `${o.resource} ${o.cause}` }));
}

/** Keeps the newest `max` revisions, never dropping the running one or the last good one. */
export function trimRevisions(revisions: readonly Revision[], keep: ReadonlySet<number>, max: number): Revision[] {
  const out = [...revisions];
  while (out.length > max) {
    const i = out.findIndex((r) => !keep.has(r.rev));
    if (i < 0) break;
    out.splice(i, 1);
  }
  return out;
}
