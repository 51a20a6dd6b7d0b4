// Deployments from git in the daemon: one timer per source; each tick asks git for the ref's commit, and only
// when it moved fetches exactly that commit, loads it strictly, applies it through the stack service with
// `up --wait` semantics and records the revision. A revision not healthy within the timeout is replaced by the
// last good one and its commit is not tried again until the ref moves. Records are kept in memory and written
// through on every change (store.ts), so a daemon killed at any instant finds what it was doing.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GantryError } from '../common/errors.js';
import { KeyedMutex } from '../common/mutex.js';
import { systemClock, type Clock, type Timer } from '../engine/clock.js';
import type { StackEvent } from '../daemon/stack-service.js';
import { DEFAULT_UP_OPTIONS, type UpOptions } from '../reconcile/types.js';
import type { Diagnostic } from '../stack/diagnostic.js';
import type { StackModel } from '../stack/model.js';
import { appliedRevision, computeStatus, decideTick, driftOf, nextDelayMs, shortSha, trimRevisions, type DriftItem, type RemoteAnswer } from './decide.js';
import { GitSource, gitEnvironment, readSecretFile, type GitEnv } from './git.js';
import { loadCheckout } from './load.js';
import type { StackPort } from './port.js';
import { DeployStore } from './store.js';
import { INITIAL_STATE, MAX_REVISIONS, type DeployRecord, type DeploySpec, type DeployState, type DeployStatus, type Revision, type RevisionImage } from './types.js';
import { checkHook } from './webhook.js';

export interface RevisionSummary {
  rev: number; commit: string; appliedAt: string; result: Revision['result']; cause: string; message: string | undefined;
  services: string[]; images: Revision['images'];
}

export interface DeployServiceOptions {
  clock?: Clock | undefined;
  git?: GitSource | undefined;
  log?: ((msg: string) => void) | undefined;
  /** The environment git runs with (tests); default process.env. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class DeployService {
  private readonly store: DeployStore;
  private readonly records = new Map<string, DeployRecord>();
  private readonly timers = new Map<string, Timer>();
  private readonly drift = new Map<string, readonly DriftItem[]>();
  private readonly mutex = new KeyedMutex();
  private readonly clock: Clock;
  private readonly git: GitSource;
  private readonly log: (msg: string) => void;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly cacheDir: string;
  private stopped = false;

  constructor(root: string, private readonly port: StackPort, opts: DeployServiceOptions = {}) {
    this.store = new DeployStore(root);
    this.clock = opts.clock ?? systemClock;
    this.git = opts.git ?? new GitSource();
    this.log = opts.log ?? (() => undefined);
    this.env = opts.env ?? process.env;
    this.cacheDir = join(root, 'deploy', 'cache');
    mkdirSync(this.cacheDir, { recursive: true, mode: 0o700 });
  }

  // ---- records ----------------------------------------------------------------------------------------------

  private record(name: string): DeployRecord {
    const known = this.records.get(name);
    if (known !== undefined) return known;
    const r = this.store.must(name);
    this.records.set(name, r);
    return r;
  }

  /** Read-modify-write of a record, synchronously: concurrent updates never lose each other's changes. */
  private update(name: string, fn: (r: DeployRecord) => DeployRecord): DeployRecord {
    const next = fn(this.record(name));
    this.store.save(next);
    this.records.set(name, next);
    return next;
  }

  /** A change of the poll times alone stays in memory (an idle tick writes nothing); anything else is written. */
  private setState(name: string, change: Partial<DeployState>): DeployRecord {
    const cur = this.record(name);
    const volatile = Object.entries(change).every(([k, v]) => k === 'lastPoll' || k === 'nextPoll' || cur.state[k as keyof DeployState] === v);
    if (volatile) {
      const next = { ...cur, state: { ...cur.state, ...change } };
      this.records.set(name, next);
      return next;
    }
    return this.update(name, (r) => ({ ...r, state: { ...r.state, ...change } }));
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  /** Polls every stored source now (an apply the daemon died in is finished first). */
  start(): void {
    for (const r of this.store.list()) { this.records.set(r.spec.name, r); this.schedule(r.spec.name, 0); }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private schedule(name: string, delayMs: number): void {
    if (this.stopped) return;
    this.timers.get(name)?.cancel();
    const at = this.clock.now() + delayMs;
    if (this.records.has(name)) this.setState(name, { nextPoll: new Date(at).toISOString() });
    this.timers.set(name, this.clock.after(delayMs, () => {
      this.timers.delete(name);
      void this.tick(name).catch((e: unknown) => this.log(`deploy ${name}: tick failed: ${message(e)}`));
    }));
  }

  // ---- API ----------------------------------------------------------------------------------------------------

  add(spec: DeploySpec): DeployStatus {
    if (this.store.get(spec.name) !== undefined) throw new GantryError('NAME_IN_USE', `a deployment named ${spec.name} exists`, { hint: `\`gantry deploy rm ${spec.name}\` first, or pick another name` });
    const rec: DeployRecord = { spec, state: INITIAL_STATE, revisions: [], created: new Date(this.clock.now()).toISOString() };
    this.store.save(rec);
    this.records.set(spec.name, rec);
    this.port.event('add', spec.name, { repo: spec.repo, ref: spec.ref });
    this.schedule(spec.name, 0);
    return this.status(spec.name);
  }

  names(): string[] {
    return [...this.records.keys()].sort();
  }

  list(): DeployStatus[] {
    return this.names().map((n) => this.status(n));
  }

  status(name: string): DeployStatus {
    const r = this.record(name);
    const project = appliedRevision(r)?.model.name;
    return computeStatus({ record: r, containers: project === undefined ? [] : this.port.containers(project), drift: this.drift.get(name) ?? [] });
  }

  history(name: string): RevisionSummary[] {
    return this.record(name).revisions.slice().reverse().map((v) => ({
      rev: v.rev, commit: v.commit, appliedAt: v.appliedAt, result: v.result, cause: v.cause, message: v.message,
      services: Object.keys(v.model.services).sort(), images: v.images,
    }));
  }

  suspend(name: string, reason = 'suspended by hand'): DeployStatus {
    this.setState(name, { suspended: true, suspendedReason: reason });
    this.port.event('suspend', name, {});
    return this.status(name);
  }

  resume(name: string): DeployStatus {
    this.setState(name, { suspended: false, suspendedReason: undefined, consecutiveFailures: 0 });
    this.port.event('resume', name, {});
    this.schedule(name, 0);
    return this.status(name);
  }

  /** Polls now and resolves once that tick is done. */
  async sync(name: string): Promise<DeployStatus> {
    this.record(name);
    this.timers.get(name)?.cancel();
    this.timers.delete(name);
    await this.tick(name);
    return this.status(name);
  }

  /** Applies a recorded revision (default: the one before the running one) and suspends automatic sync. */
  async rollback(name: string, rev: number | undefined): Promise<DeployStatus> {
    await this.mutex.run(name, async () => {
      const r = this.record(name);
      const current = r.state.appliedRev;
      const target = rev !== undefined ? r.revisions.find((v) => v.rev === rev)
        : r.revisions.slice().reverse().find((v) => v.rev !== current && v.result === 'good' && v.commit !== appliedRevision(r)?.commit);
      if (target === undefined) {
        throw new GantryError('NOT_FOUND', rev === undefined ? `deployment ${name} has no earlier good revision to go back to` : `deployment ${name} has no revision ${rev}`,
          { hint: `\`gantry deploy history ${name}\` lists the kept revisions` });
      }
      this.setState(name, { suspended: true, suspendedReason: `rolled back to rev ${target.rev}` });
      await this.apply(name, target.commit, target.model, `rollback to rev ${target.rev}`);
    });
    return this.status(name);
  }

  /** Forgets the source; `down`: the stack goes too (its volumes stay). */
  async remove(name: string, down: boolean): Promise<void> {
    await this.mutex.run(name, async () => {
      const r = this.record(name);
      const project = appliedRevision(r)?.model.name;
      this.timers.get(name)?.cancel();
      this.timers.delete(name);
      this.store.delete(name);
      this.records.delete(name);
      this.drift.delete(name);
      rmSync(join(this.cacheDir, name), { recursive: true, force: true });
      if (project !== undefined) {
        if (down) await this.port.down(project);
        else this.port.setHeld(project, false);
      }
      this.port.event('remove', name, {});
    });
  }

  /** A webhook call: when it checks out, the next poll happens now. The payload is never used otherwise. */
  hook(name: string, headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): { polled: true } {
    const r = this.record(name);
    if (r.spec.webhookSecretFile === undefined) throw new GantryError('WEBHOOK_DENIED', `deployment ${name} has no webhook`, { hint: `add it with --webhook-secret-file F to turn the webhook on` });
    const verdict = checkHook(readSecretFile(r.spec.webhookSecretFile, 'webhook secret file'), headers, body);
    if (!verdict.ok) {
      this.log(`deploy ${name}: webhook refused: ${verdict.reason}`);
      throw new GantryError('WEBHOOK_DENIED', `webhook call for ${name} refused: ${verdict.reason}`, { hint: 'sign the body with the shared secret (X-Hub-Signature-256) or send it as X-Gitlab-Token' });
    }
    this.port.event('hook', name, { via: verdict.via });
    this.schedule(name, 0);
    return { polled: true };
  }

  // ---- the tick -------------------------------------------------------------------------------------------------

  private gitEnv(spec: DeploySpec): GitEnv {
    return gitEnvironment(spec.auth, (p) => readSecretFile(p, 'token file'), this.env);
  }

  private upOptions(spec: DeploySpec): UpOptions {
    return { ...DEFAULT_UP_OPTIONS, removeOrphans: spec.prune };
  }

  private async observeDrift(r: DeployRecord): Promise<readonly DriftItem[]> {
    const applied = appliedRevision(r);
    if (applied === undefined) return [];
    try {
      // As the repair loop looks: a stopped container is its restart policy's business (health shows it).
      return driftOf(await this.port.plan(applied.model, { ...this.upOptions(r.spec), startStopped: false }));
    } catch (e) {
      return [{ service: undefined, text: `cannot plan: ${message(e)}` }];
    }
  }

  async tick(name: string): Promise<void> {
    await this.mutex.run(name, async () => {
      if (!this.records.has(name) && this.store.get(name) === undefined) return;
      const r = this.record(name);
      let remote: RemoteAnswer;
      let env: GitEnv | undefined;
      try {
        env = this.gitEnv(r.spec);
        remote = { ok: true, commit: await this.git.resolve(r.spec.repo, r.spec.ref, env) };
      } catch (e) {
        remote = { ok: false, error: message(e) };
      }
      const drift = await this.observeDrift(r);
      const driftText = drift.map((x) => x.text).join('; ');
      const driftChanged = driftText !== (this.drift.get(name) ?? []).map((x) => x.text).join('; ');
      this.drift.set(name, drift);
      const now = new Date(this.clock.now()).toISOString();
      const decision = decideTick({ record: r, remote, drift });
      let failed = false;
      switch (decision.kind) {
        case 'fail':
          failed = true;
          this.setState(name, { lastError: decision.error, lastPoll: now });
          this.port.event('poll-failed', name, {});
          this.log(`deploy ${name}: ${decision.error}`);
          break;
        case 'idle':
          this.setState(name, { lastPoll: now, latestCommit: remote.ok ? remote.commit : r.state.latestCommit,
            ...(decision.why === 'synced' ? { lastError: undefined, consecutiveFailures: 0 } : {}) });
          if (drift.length > 0 && driftChanged) this.port.event('drift', name, { drift: driftText.slice(0, 500) });
          break;
        case 'resume': {
          const v = r.revisions.find((x) => x.rev === decision.rev)!;
          this.log(`deploy ${name}: finishing rev ${v.rev} (${shortSha(v.commit)}), interrupted by a daemon stop`);
          failed = !(await this.apply(name, v.commit, v.model, 'resumed after a daemon restart', v.rev));
          break;
        }
        case 'heal': {
          const v = appliedRevision(r)!;
          this.log(`deploy ${name}: self-heal: ${decision.drift.map((x) => x.text).join('; ')}`);
          this.port.event('self-heal', name, { commit: v.commit });
          this.setState(name, { lastPoll: now });
          const healed = await this.upAndWait(name, v.model, r.spec);
          failed = !healed.ok;
          this.setState(name, { lastError: healed.ok ? undefined : `self-heal of rev ${v.rev} (${shortSha(v.commit)}) failed: ${healed.failure}` });
          this.drift.set(name, await this.observeDrift(this.record(name)));
          break;
        }
        case 'deploy':
          this.setState(name, { lastPoll: now, latestCommit: decision.commit });
          failed = !(await this.deployCommit(name, decision.commit, env!, decision.cause));
          break;
      }
      const after = this.records.get(name);
      if (after === undefined) return;
      const failures = failed ? after.state.consecutiveFailures + 1 : decision.kind === 'idle' ? after.state.consecutiveFailures : 0;
      this.setState(name, { consecutiveFailures: failures });
      this.schedule(name, nextDelayMs(after.spec.intervalMs, failures));
    });
  }

  private checkoutDir(name: string, commit: string): string {
    return join(this.cacheDir, name, 'checkouts', commit);
  }

  /** Fetch, check out, load: a bad commit is recorded as failed (not retried until the ref moves); then apply. */
  private async deployCommit(name: string, commit: string, env: GitEnv, cause: string): Promise<boolean> {
    const spec = this.record(name).spec;
    const dir = this.checkoutDir(name, commit);
    try {
      await this.git.checkout(spec.repo, commit, join(this.cacheDir, name, 'git'), dir, env);
      const loaded = await loadCheckout(spec, dir, commit);
      const diagnostics = loaded.diagnostics.map((d) => relativeDiagnostic(d, dir));
      if (!loaded.ok) {
        this.setState(name, { failedCommit: commit, lastError: `commit ${shortSha(commit)}: ${loaded.message.split(dir + '/').join('')}`, diagnostics });
        this.port.event('invalid', name, { commit });
        this.log(`deploy ${name}: commit ${shortSha(commit)} not applied: ${loaded.message.split(dir + '/').join('')}`);
        return false;
      }
      this.setState(name, { diagnostics });
      const rec = this.record(name);
      const before = appliedRevision(rec);
      if (before !== undefined && before.model.name !== loaded.model.name) {
        this.setState(name, { failedCommit: commit, lastError: `commit ${shortSha(commit)} renames the project from ${before.model.name} to ${loaded.model.name}; not applied` });
        return false;
      }
      return await this.apply(name, commit, loaded.model, cause);
    } catch (e) {
      // A tree over the caps stays too big: not retried until the ref moves. A fetch that failed is retried.
      const permanent = e instanceof GantryError && e.code === 'TOO_LARGE';
      this.setState(name, { lastError: `commit ${shortSha(commit)}: ${message(e)}`, ...(permanent ? { failedCommit: commit } : {}) });
      this.log(`deploy ${name}: commit ${shortSha(commit)}: ${message(e)}`);
      this.port.event('failed', name, { commit });
      return false;
    }
  }

  private async upAndWait(name: string, model: StackModel, spec: DeploySpec): Promise<{ ok: boolean; failure: string }> {
    const failures: string[] = [];
    const emit = (e: StackEvent): void => {
      if (e.kind === 'result') for (const f of e.failures) failures.push(`${f.service !== undefined ? `service ${f.service}: ` : ''}${f.message}`);
    };
    let ok: boolean;
    try {
      // `build:` services first: a failed build leaves the running revision as it is (nothing is applied)
      const built = await this.port.build(model, new AbortController().signal);
      if (built !== undefined) return { ok: false, failure: built };
      ok = await this.port.up({ model, options: this.upOptions(spec), wait: true, waitTimeoutSeconds: Math.max(1, Math.round(spec.timeoutMs / 1000)) }, emit, new AbortController().signal);
    } catch (e) {
      ok = false;
      failures.push(message(e));
    }
    // Without self-heal the stack service's own repair loop must not correct drift either: only report it.
    this.port.setHeld(model.name, !spec.selfHeal);
    return { ok, failure: failures.join('; ').slice(0, 1000) };
  }

  /**
   * Applies a model as revision `existing` (finishing it) or as a new one, health-gated; a bad one is followed by
   * the last good revision (a new revision entry, cause "automatic rollback").
   */
  private async apply(name: string, commit: string, model: StackModel, cause: string, existing?: number): Promise<boolean> {
    const r0 = this.record(name);
    const rev = existing ?? r0.state.nextRev;
    const revision: Revision = { rev, commit, appliedAt: new Date(this.clock.now()).toISOString(), result: 'applying', cause, model, images: {} };
    this.update(name, (r) => ({
      ...r,
      revisions: existing === undefined ? trimRevisions([...r.revisions, revision], keepSet(r), MAX_REVISIONS + 1) : r.revisions,
      state: { ...r.state, applying: { commit, rev }, nextRev: existing === undefined ? rev + 1 : r.state.nextRev },
    }));
    this.port.event('apply', name, { commit, rev: String(rev) });
    this.log(`deploy ${name}: applying rev ${rev} (${shortSha(commit)}): ${cause}`);
    const { ok, failure } = await this.upAndWait(name, model, r0.spec);
    const images: Record<string, RevisionImage> = {};
    for (const [svc, s] of Object.entries(model.services)) {
      if (s.image === undefined) continue;
      const i = this.port.image(s.image);
      images[svc] = { ref: s.image, id: i?.id, ...(i !== undefined && i.repoDigests.length > 0 ? { repoDigests: [...i.repoDigests] } : {}) };
    }
    const isRollback = /rollback to rev \d+/.test(cause);
    this.update(name, (r) => {
      const revisions = trimRevisions(r.revisions.map((v) => (v.rev === rev ? { ...v, result: ok ? 'good' as const : 'bad' as const, images, message: ok ? undefined : failure } : v)),
        new Set([rev, ...(ok ? [] : r.state.lastGoodRev === undefined ? [] : [r.state.lastGoodRev])]), MAX_REVISIONS);
      const state: DeployState = ok
        ? { ...r.state, applying: undefined, appliedRev: rev, lastGoodRev: rev, failedCommit: isRollback ? r.state.failedCommit : undefined, lastError: undefined }
        : { ...r.state, applying: undefined, appliedRev: rev, failedCommit: isRollback ? r.state.failedCommit : commit, lastError: `rev ${rev} (${shortSha(commit)}) failed: ${failure}` };
      return { ...r, revisions, state };
    });
    this.port.event(ok ? 'synced' : 'unhealthy', name, { commit, rev: String(rev) });
    this.gcCheckouts(name);
    if (ok) return true;
    this.log(`deploy ${name}: rev ${rev} (${shortSha(commit)}) failed: ${failure}`);
    const r1 = this.record(name);
    const good = r1.state.lastGoodRev === undefined ? undefined : r1.revisions.find((v) => v.rev === r1.state.lastGoodRev);
    if (good === undefined || good.rev === rev || isRollback) return false;
    this.port.event('rollback', name, { commit: good.commit, rev: String(good.rev) });
    const back = await this.apply(name, good.commit, good.model, `automatic rollback to rev ${good.rev} (rev ${rev} failed)`);
    // The failure that caused the rollback is what the status reports.
    if (back) this.setState(name, { lastError: `rev ${rev} (${shortSha(commit)}) failed: ${failure}; rolled back to rev ${good.rev}` });
    return false;
  }

  /** Keeps the checkouts of the kept revisions (their models name files in them); removes the rest. */
  private gcCheckouts(name: string): void {
    const dir = join(this.cacheDir, name, 'checkouts');
    if (!existsSync(dir)) return;
    const keep = new Set(this.record(name).revisions.map((v) => v.commit));
    for (const entry of readdirSync(dir)) if (!keep.has(entry)) rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

function keepSet(r: DeployRecord): Set<number> {
  return new Set([r.state.appliedRev, r.state.lastGoodRev].filter((x): x is number => x !== undefined));
}

/** Diagnostics with paths relative to the checkout (the cache path says nothing to the user). */
function relativeDiagnostic(d: Diagnostic, dir: string): Diagnostic {
  return d.location === undefined ? d : { ...d, location: { ...d.location, file: d.location.file.startsWith(dir) ? relative(dir, d.location.file) : d.location.file } };
}
