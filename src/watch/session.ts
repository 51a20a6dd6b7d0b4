// A watch session: chokidar over every rule's path (ignored directories never walked), events batched, each
// batch planned per service and applied to every container of it, one batch at a time (files go into stopped and
// crash-looping containers too, through their layers, so a container waiting for them starts with them; restarts go
// to running and restarting ones, execs to running ones). The daemon's
// event stream tells which containers (re)started: such a container gets a full resync of its service's sync
// rules before any further batch (nothing synced before its restart is lost, and nothing changed while it was
// down either). A failure (the container died mid-sync, the stack went down, the daemon restarted) is reported
// and the container marked stale; it is resynced when it is running again. Nothing here throws out of the loop.

import { lstat, readdir } from 'node:fs/promises';
import { SyncManifest } from './manifest.js';
import { join, posix } from 'node:path';
import type { Clock } from '../engine/clock.js';
import type { StackModel, WatchRuleModel } from '../stack/model.js';
import { Batcher, type Change } from './batcher.js';
import type { DaemonPort, WatchedContainer } from './daemon-port.js';
import { RuleFilter } from './ignore.js';
import { containerPathOf, planBatch, rulesFor, type Copy, type ServicePlan, type WatchedRule } from './plan.js';
import { changedSince, syncArchive, type SentFiles } from './tarball.js';

export interface SessionOptions {
  readonly quiet: boolean;
  readonly quietMs?: number | undefined;
  readonly out: (line: string) => void;
  /** Reads a file of the project (the .dockerignore), undefined when absent. */
  readonly readText: (path: string) => Promise<string | undefined>;
  /**
   * `rebuild` rules: rebuilds the service's image and recreates only its containers (never its dependencies); false
   * when the build failed (the old containers keep running). Without it, rebuild rules are skipped with a note.
   */
  readonly rebuild?: ((service: string) => Promise<boolean>) | undefined;
  /** What was synced in earlier sessions (deletions made on the host meanwhile are applied at full syncs); in memory when absent. */
  readonly manifest?: SyncManifest | undefined;
}

/** A rule whose host path is bind-mounted at its target already needs no sync. */
export function boundByMount(model: StackModel, service: string, rule: WatchRuleModel): string | undefined {
  if (rule.target === undefined) return undefined;
  for (const v of model.services[service]?.volumes ?? []) {
    if (v.type !== 'bind' || v.source === undefined) continue;
    const rel = posix.relative(v.source, rule.path);
    if (rel.startsWith('..') || posix.isAbsolute(rel)) continue;
    if (posix.join(v.target, rel) === rule.target) return `${v.source}:${v.target}`;
  }
  return undefined;
}

/** Every path below a rule's root that the filter keeps (ignored directories are not entered), parents first. */
export async function walkRule(w: WatchedRule): Promise<Copy[]> {
  const out: Copy[] = [];
  const root = w.rule.path;
  const st = await lstat(root).catch(() => undefined);
  if (st === undefined) return out;
  if (!st.isDirectory()) return [{ hostPath: root, containerPath: w.rule.target!, isDir: false, base: posix.dirname(w.rule.target!) }];
  const walk = async (dir: string): Promise<void> => {
    const names = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const d of names.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, d.name);
      const isDir = d.isDirectory();
      if (w.filter.ignores(p, isDir)) continue;
      out.push({ hostPath: p, containerPath: containerPathOf(w.rule, w.filter.relative(p)!), isDir, base: w.rule.target! });
      if (isDir) await walk(p);
    }
  };
  await walk(root);
  return out;
}

function summary(files: readonly string[]): string {
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} (+${files.length - 3} more)` : shown;
}

export class WatchSession {
  readonly rules: WatchedRule[] = [];
  private readonly batcher: Batcher;
  private queue: Promise<void> = Promise.resolve();
  /** Containers that need a full resync before their next batch (restarted, recreated, or a sync failed). */
  private readonly stale = new Set<string>();
  /** Containers watch restarts itself: their next start is not a reason to resync. */
  private readonly restarting = new Set<string>();
  /** Deletions a container could not be given yet (down, unreachable): applied with its resync. */
  private readonly lostRemovals = new Map<string, Set<string>>();
  private closed = false;
  private readonly manifest: SyncManifest;
  private listed: Promise<WatchedContainer[]> | undefined;
  /** Resolves when a batch (or resync) finishes: tests and the bench wait on it. */
  onIdle: (() => void) | undefined;

  constructor(
    private readonly model: StackModel,
    private readonly services: readonly string[],
    private readonly port: DaemonPort,
    clock: Clock,
    private readonly o: SessionOptions,
  ) {
    this.batcher = new Batcher(clock, (changes) => this.enqueue(() => this.applyBatch(changes)), o.quietMs);
    this.manifest = o.manifest ?? new SyncManifest(undefined);
  }

  private say(line: string): void { this.o.out(line); }

  /** Builds the rule filters and says what is skipped. */
  async prepare(): Promise<void> {
    for (const service of this.services) {
      const develop = this.model.services[service]?.develop;
      const ignoreText = develop?.context === undefined ? undefined : await this.o.readText(join(develop.context, '.dockerignore'));
      for (const rule of develop?.watch ?? []) {
        if (rule.action === 'rebuild' && this.o.rebuild === undefined) { this.say(`${service}: skipping the rebuild rule for ${rule.path}: nothing here can build`); continue; }
        const bound = boundByMount(this.model, service, rule);
        if (bound !== undefined) { this.say(`${service}: ${rule.path} is bind-mounted (${bound}): changes show without sync; rule skipped`); continue; }
        const filter = new RuleFilter({ root: rule.path, ignore: rule.ignore, include: rule.include,
          dockerignore: ignoreText === undefined || develop?.context === undefined ? undefined : { contextDir: develop.context, text: ignoreText } });
        this.rules.push({ service, rule, filter });
      }
    }
  }

  /** Feeds one file event (from chokidar). */
  change(c: Change): void {
    if (!this.closed) this.batcher.add(c);
  }

  /** A container event of the project. */
  containerEvent(action: string, id: string, service: string): void {
    this.listed = undefined; // created, started, died, renamed, destroyed…: list again at the next batch
    if (!this.services.includes(service)) return;
    if (action === 'start') {
      if (this.restarting.delete(id)) return;
      this.stale.add(id);
      this.enqueue(() => this.resyncStale());
    }
  }

  /** The daemon came back after going away: every container is resynced. */
  daemonBack(): void {
    this.listed = undefined;
    this.enqueue(async () => {
      for (const c of await this.port.containers(this.model.name).catch(() => [])) if (this.services.includes(c.service)) this.stale.add(c.id);
      await this.resyncStale();
    });
  }

  /** initial_sync: the rules that ask for it, into every running container. */
  initialSync(): Promise<void> {
    return this.enqueue(() => this.fullSync((w) => w.rule.initial_sync && w.rule.target !== undefined && w.rule.action !== 'restart', undefined, 'initial sync'));
  }

  /** Closes the open batch and waits for all work. */
  async close(): Promise<void> {
    this.batcher.close();
    this.closed = true;
    await this.queue;
    this.manifest.flush();
  }

  /** Waits for the work queued so far. */
  idle(): Promise<void> { return this.queue; }

  private enqueue(job: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(job).catch((e: unknown) => this.say(`watch: ${e instanceof Error ? e.message : String(e)}`)).then(() => this.onIdle?.());
    return this.queue;
  }

  /** Every container of the service (running or not: files are written into either). */
  private async present(service: string): Promise<WatchedContainer[]> {
    return (await this.projectContainers()).filter((c) => c.service === service);
  }

  /** The project's containers, listed once and kept until a container event (or a failure) says they changed. */
  private projectContainers(): Promise<WatchedContainer[]> {
    if (this.listed === undefined) {
      const listing = this.port.containers(this.model.name);
      this.listed = listing;
      listing.catch(() => { if (this.listed === listing) this.listed = undefined; });
    }
    return this.listed;
  }

  private async running(service: string): Promise<WatchedContainer[]> {
    return (await this.present(service)).filter((c) => c.state === 'running');
  }

  private async resyncStale(): Promise<void> {
    if (this.stale.size === 0) return;
    const ids = new Set(this.stale);
    this.stale.clear();
    await this.fullSync((w) => w.rule.target !== undefined && w.rule.action !== 'restart', ids, 'resync after restart');
  }

  /** Copies every kept file of the chosen rules into the running containers (all, or those in `only`). */
  private async fullSync(pick: (w: WatchedRule) => boolean, only: ReadonlySet<string> | undefined, why: string): Promise<void> {
    const byService = new Map<string, Copy[]>();
    const roots = new Map<string, string[]>();
    for (const w of this.rules.filter(pick)) {
      byService.set(w.service, [...(byService.get(w.service) ?? []), ...(await walkRule(w))]);
      roots.set(w.service, [...(roots.get(w.service) ?? []), w.rule.path]);
    }
    for (const service of this.lostRemovals.keys()) if (!byService.has(service)) byService.set(service, []);
    for (const [service, copies] of byService) {
      const targets = (await this.present(service).catch(() => [])).filter((c) => only === undefined || only.has(c.id));
      if (targets.length === 0) {
        if (only !== undefined) for (const id of only) this.stale.add(id);
        continue;
      }
      const gone = await this.goneFromHost(service, copies, roots.get(service) ?? []);
      const removals = [...new Set([...(this.lostRemovals.get(service) ?? []), ...gone])].sort();
      const written: WatchedContainer[] = [];
      for (const c of targets) if (await this.write(c, copies, removals)) written.push(c);
      const done = written.map((c) => c.name);
      if (done.length > 0) this.manifest.wrote(service, copies);
      await this.kickWaiting(written);
      if (done.length === targets.length) { this.lostRemovals.delete(service); this.manifest.removed(service, gone); }
      const files = copies.filter((x) => !x.isDir).length;
      if (!this.o.quiet && done.length > 0) this.say(`${service}: ${why}: ${files} file${files === 1 ? '' : 's'}${gone.length > 0 ? `, ${gone.length} removed (deleted on the host)` : ''} to ${done.join(', ')}`);
    }
  }

  /**
   * Paths synced in an earlier session (the manifest) below one of `roots` whose host file is gone and was not
   * walked now: deleted on the host while nobody watched. Only what watch itself once wrote; a directory's
   * entries are left out when the directory is gone too.
   */
  private async goneFromHost(service: string, copies: readonly Copy[], roots: readonly string[]): Promise<string[]> {
    const walked = new Set(copies.map((c) => c.containerPath));
    const under = (host: string): boolean => roots.some((r) => host === r || host.startsWith(r.endsWith('/') ? r : `${r}/`));
    const gone: string[] = [];
    for (const [containerPath, hostPath] of [...this.manifest.of(service)].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (walked.has(containerPath) || !under(hostPath)) continue;
      if (gone.some((g) => containerPath.startsWith(`${g}/`))) continue;
      if (await lstat(hostPath).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT' || e.code === 'ENOTDIR')) gone.push(containerPath);
    }
    return gone;
  }

  /** Writes and removes in one container; false (container marked stale) when it failed. */
  private async write(c: WatchedContainer, copies: readonly Copy[], removals: readonly string[], sent?: SentFiles): Promise<boolean> {
    try {
      const bases = new Map<string, Copy[]>();
      for (const x of copies) bases.set(x.base, [...(bases.get(x.base) ?? []), x]);
      if (removals.length > 0) await this.port.removePaths(c.id, removals);
      for (const [base, list] of bases) {
        try {
          await this.port.putArchive(c.id, base, syncArchive(base, list, sent));
        } catch (e) {
          // the target directory does not exist yet in the container: extract from / (it is created)
          if (!(e instanceof Error && 'code' in e && e.code === 'NOT_FOUND')) throw e;
          await this.port.putArchive(c.id, '/', syncArchive('/', list, sent));
        }
      }
      return true;
    } catch (e) {
      this.listed = undefined;
      this.stale.add(c.id);
      this.say(`${c.name}: sync failed (${e instanceof Error ? e.message : String(e)}); it is resynced when it runs again`);
      return false;
    }
  }

  private async applyBatch(changes: Change[]): Promise<void> {
    await this.resyncStale();
    const rebuilt = await this.rebuildHit(changes);
    // A rebuilt service's new containers get a full resync when they start (their start event): nothing to sync now.
    for (const plan of planBatch(changes, this.rules)) if (!rebuilt.has(plan.service)) await this.applyPlan(plan);
  }

  /** Rebuilds every service a `rebuild` rule of this batch concerns, once each; answers those rebuilt. */
  private async rebuildHit(changes: readonly Change[]): Promise<Set<string>> {
    const hit = new Map<string, Set<string>>();
    for (const change of changes) {
      for (const w of rulesFor(change, this.rules)) {
        if (w.rule.action !== 'rebuild') continue;
        const files = hit.get(w.service) ?? new Set<string>();
        files.add(posix.join(posix.basename(w.rule.path), w.filter.relative(change.path)!));
        hit.set(w.service, files);
      }
    }
    const rebuilt = new Set<string>();
    for (const [service, files] of hit) {
      this.say(`${service}: ${summary([...files].sort())} changed: rebuilding`);
      const ok = await this.o.rebuild!(service).catch((e: unknown) => { this.say(`${service}: rebuild failed: ${e instanceof Error ? e.message : String(e)}`); return false; });
      if (ok) rebuilt.add(service);
      this.say(ok ? `${service}: rebuilt; its containers were recreated` : `${service}: the build failed; the running containers are kept`);
      if (ok) await this.restartDependents(service);
    }
    return rebuilt;
  }

  /** After a rebuild: services that depend on it with `restart: true` are restarted (compose's rule); none other. */
  private async restartDependents(service: string): Promise<void> {
    const dependents = Object.entries(this.model.services).filter(([, s]) => s.depends_on?.[service]?.restart === true).map(([name]) => name).sort();
    for (const dependent of dependents) {
      const targets = await this.running(dependent).catch(() => []);
      for (const c of targets) {
        await this.restartByWatch(c, true);
      }
      if (targets.length > 0) this.say(`${dependent}: restarted (depends on ${service} with restart: true)`);
    }
  }

  /** A restart watch makes (its start is then no reason to resync); false when it failed (said when `say`). */
  private async restartByWatch(c: WatchedContainer, say: boolean): Promise<boolean> {
    this.restarting.add(c.id);
    try {
      await this.port.restart(c.id);
      return true;
    } catch (e) {
      this.restarting.delete(c.id);
      if (say) this.say(`${c.name}: restart failed: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /** A crash-looping container waiting out its restart delay is started now: the files just written may be its fix. */
  private async kickWaiting(written: readonly WatchedContainer[]): Promise<void> {
    for (const c of written.filter((x) => x.state === 'restarting')) await this.restartByWatch(c, false);
  }

  private keepRemovals(plan: ServicePlan): void {
    if (plan.removals.length === 0) return;
    const kept = this.lostRemovals.get(plan.service) ?? new Set<string>();
    for (const r of plan.removals) kept.add(r);
    this.lostRemovals.set(plan.service, kept);
  }

  private async applyPlan(plan: ServicePlan): Promise<void> {
    let targets: WatchedContainer[];
    try {
      targets = await this.present(plan.service);
    } catch (e) {
      this.keepRemovals(plan);
      this.say(`${plan.service}: cannot reach the daemon (${e instanceof Error ? e.message : String(e)}); changes are synced when it is back`);
      return;
    }
    if (targets.length === 0) {
      this.keepRemovals(plan);
      this.say(`${plan.service}: no container; ${summary(plan.files)} will be synced when one is created`);
      return;
    }
    const did: string[] = [];
    const synced = plan.copies.length > 0 || plan.removals.length > 0;
    const ok: WatchedContainer[] = [];
    const sent: SentFiles = new Map();
    for (const c of targets) if (!synced || await this.write(c, plan.copies, plan.removals, sent)) ok.push(c);
    if (ok.length < targets.length) this.keepRemovals(plan);
    else this.manifest.removed(plan.service, plan.removals);
    if (ok.length > 0) this.manifest.wrote(plan.service, plan.copies);
    // a file written again while it was being read (its event may have been folded into the one we handled)
    for (const path of await changedSince(sent)) this.batcher.add({ path, kind: 'write', isDir: false });
    if (synced) {
      const files = plan.copies.filter((x) => !x.isDir).length;
      did.push(`synced ${files} file${files === 1 ? '' : 's'}${plan.removals.length > 0 ? `, removed ${plan.removals.length}` : ''}`);
    }
    if (!plan.restart && synced) await this.kickWaiting(ok);
    if (plan.restart) {
      for (const c of ok.filter((x) => x.state !== 'down')) {
        if (!(await this.restartByWatch(c, true))) this.stale.add(c.id);
      }
      did.push('restarted');
    }
    for (const x of plan.execs) {
      for (const c of ok.filter((y) => y.state === 'running')) {
        const code = await this.port.exec(c.id, x, (line) => this.say(`${c.name} | ${line}`)).catch((e: unknown) => { this.say(`${c.name}: exec failed: ${e instanceof Error ? e.message : String(e)}`); return -1; });
        if (code !== 0 && code !== -1) this.say(`${c.name}: \`${x.command.join(' ')}\` exited ${code}`);
      }
      did.push(`ran ${x.command.join(' ')}`);
    }
    if (!this.o.quiet) this.say(`${plan.service}: ${summary(plan.files)} → ${ok.map((c) => c.name).join(', ') || 'no container'}: ${did.join(', ')}`);
  }
}
