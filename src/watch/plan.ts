// Which changes go to which service and what is done there: for each change, every rule whose path holds it and
// does not ignore it; sync actions map the host path to the container path below the rule's target; deletions
// become removals (a removal below another removal is dropped), writes become copies (parents first); restart
// and exec are collected per service, once per batch.

import { posix } from 'node:path';
import type { WatchAction, WatchExecModel, WatchRuleModel } from '../stack/model.js';
import type { Change } from './batcher.js';
import type { RuleFilter } from './ignore.js';

export interface WatchedRule {
  readonly service: string;
  readonly rule: WatchRuleModel;
  readonly filter: RuleFilter;
}

export interface Copy {
  readonly hostPath: string;
  readonly containerPath: string;
  readonly isDir: boolean;
  /** The container directory the archive is extracted into: the rule's target (its parent for the rule's own path). */
  readonly base: string;
}

export interface ServicePlan {
  readonly service: string;
  /** Files and directories to write (parents before children). */
  readonly copies: Copy[];
  /** Container paths to delete (none below another). */
  readonly removals: string[];
  readonly restart: boolean;
  readonly execs: WatchExecModel[];
  /** Host paths that caused this plan, rule-relative, for the batch line. */
  readonly files: string[];
}

const SYNCS: ReadonlySet<WatchAction> = new Set(['sync', 'sync+restart', 'sync+exec']);

export function containerPathOf(rule: WatchRuleModel, rel: string): string {
  return rel === '' ? rule.target! : posix.join(rule.target!, rel);
}

/** The rules a change concerns (in declaration order); planBatch leaves `rebuild` rules to the session. */
export function rulesFor(change: Change, rules: readonly WatchedRule[]): WatchedRule[] {
  return rules.filter((r) => r.filter.relative(change.path) !== undefined && !r.filter.ignores(change.path, change.isDir));
}

function isBelow(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

export function planBatch(changes: readonly Change[], rules: readonly WatchedRule[]): ServicePlan[] {
  const plans = new Map<string, { copies: Map<string, Copy>; removals: Set<string>; restart: boolean; execs: WatchExecModel[]; files: Set<string> }>();
  for (const change of changes) {
    for (const w of rulesFor(change, rules)) {
      if (w.rule.action === 'rebuild') continue;
      let p = plans.get(w.service);
      if (p === undefined) plans.set(w.service, p = { copies: new Map(), removals: new Set(), restart: false, execs: [], files: new Set() });
      const rel = w.filter.relative(change.path)!;
      p.files.add(posix.join(posix.basename(w.rule.path), rel));
      if (w.rule.action === 'restart' || w.rule.action === 'sync+restart') p.restart = true;
      if (w.rule.action === 'sync+exec' && w.rule.exec !== undefined && !p.execs.includes(w.rule.exec)) p.execs.push(w.rule.exec);
      if (!SYNCS.has(w.rule.action)) continue;
      const containerPath = containerPathOf(w.rule, rel);
      if (change.kind === 'remove') {
        p.copies.delete(containerPath);
        p.removals.add(containerPath);
      } else {
        p.removals.delete(containerPath);
        p.copies.set(containerPath, { hostPath: change.path, containerPath, isDir: change.isDir, base: rel === '' ? posix.dirname(w.rule.target!) : w.rule.target! });
      }
    }
  }
  return [...plans].map(([service, p]) => {
    const removed = [...p.removals].sort();
    const removals = removed.filter((r, i) => !removed.slice(0, i).some((o) => isBelow(r, o)));
    // a copy below a removed directory is written after the removal (the directory came back with new content)
    const copies = [...p.copies.values()].sort((a, b) => a.containerPath.split('/').length - b.containerPath.split('/').length || (a.containerPath < b.containerPath ? -1 : 1));
    return { service, copies, removals, restart: p.restart, execs: p.execs, files: [...p.files].sort() };
  });
}
