// `develop.watch` of a service (the Compose Specification's development section), read into WatchRuleModel:
// paths resolved against the project directory, targets checked to be absolute, strict mode's project
// boundary applied to watched paths, and `rebuild` checked against `build`. Located diagnostics throughout.

import { posix } from 'node:path';
import type { FilePolicy } from './file-policy.js';
import { allowPath } from './file-policy.js';
import { resolveHostPath } from './host-path.js';
import type { DevelopModel, WatchAction, WatchExecModel, WatchRuleModel } from './model.js';
import type { PathSeg, PNode } from './pnode.js';
import { getEntry } from './pnode.js';
import type { Reporter } from './report.js';
import { shellSplit } from './units.js';

const SYNC_ACTIONS: ReadonlySet<WatchAction> = new Set(['sync', 'sync+restart', 'sync+exec']);

export interface DevelopContext {
  readonly projectDir: string;
  readonly policy: FilePolicy;
  /** The service's `build` (a context path, or a mapping with `context`), undefined without one. */
  readonly build: PNode | undefined;
  readonly service: string;
}

function text(n: PNode | undefined): string | undefined {
  return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
}

function texts(n: PNode | undefined): string[] {
  if (n === undefined) return [];
  if (n.kind === 'seq') return n.items.map(text).filter((s): s is string => s !== undefined);
  const one = text(n);
  return one === undefined ? [] : [one];
}

function truthy(n: PNode | undefined): boolean {
  const t = text(n);
  return t !== undefined && /^(true|yes|on|1)$/i.test(t);
}

function environment(n: PNode | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (n?.kind === 'map') for (const e of n.entries.values()) out[e.key] = text(e.value) ?? '';
  if (n?.kind === 'seq') {
    for (const item of texts(n)) {
      const eq = item.indexOf('=');
      out[eq < 0 ? item : item.slice(0, eq)] = eq < 0 ? '' : item.slice(eq + 1);
    }
  }
  return out;
}

function execOf(n: PNode | undefined, path: readonly PathSeg[], reporter: Reporter): WatchExecModel | undefined {
  if (n?.kind !== 'map') return undefined;
  const commandNode = getEntry(n, 'command')?.value;
  const command = commandNode?.kind === 'seq' ? texts(commandNode) : (shellSplit(text(commandNode) ?? '') ?? []);
  if (command.length === 0) {
    reporter.error('SPEC_INVALID_VALUE', 'the `exec` of a watch rule needs a command', commandNode?.pos ?? n.pos, [...path, 'command'], 'e.g. `command: kill -HUP 1`');
    return undefined;
  }
  return {
    command,
    user: text(getEntry(n, 'user')?.value),
    privileged: truthy(getEntry(n, 'privileged')?.value),
    working_dir: text(getEntry(n, 'working_dir')?.value),
    environment: environment(getEntry(n, 'environment')?.value),
  };
}

function rule(n: PNode, path: readonly PathSeg[], ctx: DevelopContext, reporter: Reporter): WatchRuleModel | undefined {
  if (n.kind !== 'map') return undefined;
  const g = (k: string): PNode | undefined => getEntry(n, k)?.value;
  const action = text(g('action')) as WatchAction | undefined;
  const pathNode = g('path');
  const rawPath = text(pathNode);
  if (action === undefined || rawPath === undefined || pathNode === undefined) return undefined; // the schema reported it
  const hostPath = resolveHostPath(ctx.projectDir, rawPath);
  if (!allowPath(ctx.policy, reporter, hostPath, 'watch path', pathNode.pos, [...path, 'path'])) return undefined;
  const targetNode = g('target');
  const target = text(targetNode);
  let ok = true;
  if (SYNC_ACTIONS.has(action)) {
    if (target === undefined) {
      reporter.error('SPEC_MISSING_KEY', `watch rule for ${rawPath} (action ${action}) of service "${ctx.service}" needs a \`target\``, n.pos, [...path, 'target'], 'give the absolute path in the container, e.g. `target: /app`');
      ok = false;
    } else if (!posix.isAbsolute(target)) {
      reporter.error('SPEC_INVALID_VALUE', `watch target ${JSON.stringify(target)} of service "${ctx.service}" is not an absolute path`, targetNode?.pos, [...path, 'target'], `write it from the container's root, e.g. ${posix.join('/', target)}`);
      ok = false;
    }
  }
  if (action === 'rebuild') {
    if (ctx.build === undefined) {
      reporter.error('SPEC_WATCH_NO_BUILD', `watch rule for ${rawPath} of service "${ctx.service}" rebuilds, but the service has no \`build\``, g('action')?.pos, [...path, 'action'], 'add a `build` section, or use action sync, restart or sync+restart');
      ok = false;
    }
  }
  const exec = execOf(g('exec'), [...path, 'exec'], reporter);
  if (action === 'sync+exec' && exec === undefined && g('exec') === undefined) {
    reporter.error('SPEC_MISSING_KEY', `watch rule for ${rawPath} (action sync+exec) of service "${ctx.service}" needs \`exec\``, n.pos, [...path, 'exec'], 'e.g. `exec: {command: kill -HUP 1}`');
    ok = false;
  }
  if (!ok) return undefined;
  return {
    path: hostPath, action, target: target === undefined ? undefined : posix.normalize(target),
    ignore: texts(g('ignore')), include: texts(g('include')), initial_sync: truthy(g('initial_sync')), exec,
  };
}

/** The service's `develop` section, or undefined when it has none. */
export function normalizeDevelop(n: PNode | undefined, path: readonly PathSeg[], ctx: DevelopContext, reporter: Reporter): DevelopModel | undefined {
  if (n?.kind !== 'map') return undefined;
  const watchNode = getEntry(n, 'watch')?.value;
  const watch: WatchRuleModel[] = [];
  if (watchNode?.kind === 'seq') {
    watchNode.items.forEach((item, i) => {
      const r = rule(item, [...path, 'watch', i], ctx, reporter);
      if (r !== undefined) watch.push(r);
    });
  }
  const contextText = ctx.build?.kind === 'map' ? (text(getEntry(ctx.build, 'context')?.value) ?? '.') : text(ctx.build);
  const context = contextText === undefined || /^[a-z]+:\/\//i.test(contextText) ? undefined : resolveHostPath(ctx.projectDir, contextText);
  return { watch, context };
}
