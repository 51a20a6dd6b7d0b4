// `gantry deploy VERB`: deployments from git, kept by the daemon (src/deploy). A thin layer: parse flags, call
// /deploy/..., print what the daemon answers.
import { isAbsolute, resolve } from 'node:path';
import { usageError } from '../../common/errors.js';
import { readDuration } from '../../common/units.js';
import type { DeployStatus } from '../../deploy/types.js';
import type { RevisionSummary } from '../../deploy/service.js';
import { bool, list, parseArgs, str, formatFlags, HelpRequested, type FlagSpec } from '../args.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson, table } from '../output.js';

const FORMAT: FlagSpec = { name: 'format', kind: 'string' };

const VERBS: Record<string, { usage: string; about: string; flags: FlagSpec[] }> = {
  add: {
    usage: 'gantry deploy add NAME --repo URL [--ref REF] [--path FILE|DIR ...] [--env-file F] [--interval 1m] [--timeout 60s] [--prune] [--self-heal] [--ssh-key F --known-hosts F | --token-file F] [--webhook-secret-file F]',
    about: 'keep this host running the stack file of a git repository (file://, https://, ssh://)',
    flags: [{ name: 'repo', kind: 'string' }, { name: 'ref', kind: 'string' }, { name: 'path', kind: 'list' }, { name: 'env-file', kind: 'string' },
      { name: 'interval', kind: 'string' }, { name: 'timeout', kind: 'string' }, { name: 'prune', kind: 'bool' }, { name: 'self-heal', kind: 'bool' },
      { name: 'ssh-key', kind: 'string' }, { name: 'known-hosts', kind: 'string' }, { name: 'token-file', kind: 'string' }, { name: 'webhook-secret-file', kind: 'string' }],
  },
  ls: { usage: 'gantry deploy ls [--format json] [-q]', about: 'list deployments, their sync status and health', flags: [FORMAT, { name: 'quiet', short: 'q', kind: 'bool' }] },
  status: { usage: 'gantry deploy status NAME [--format json]', about: 'applied and latest commit, sync status and reason, health per service, last error, next poll', flags: [FORMAT] },
  history: { usage: 'gantry deploy history NAME [--format json]', about: 'the kept revisions (newest first, at most 20)', flags: [FORMAT] },
  rollback: { usage: 'gantry deploy rollback NAME [REV]', about: 'apply a recorded revision (default: the previous good one) and suspend automatic sync until `resume`', flags: [FORMAT] },
  suspend: { usage: 'gantry deploy suspend NAME', about: 'stop applying new commits (the stack keeps running)', flags: [] },
  resume: { usage: 'gantry deploy resume NAME', about: 'sync automatically again, now', flags: [] },
  sync: { usage: 'gantry deploy sync NAME [--format json]', about: 'poll now and wait for that sync to finish', flags: [FORMAT] },
  rm: { usage: 'gantry deploy rm NAME [--down]', about: 'forget the deployment; --down also removes its stack (volumes are kept)', flags: [{ name: 'down', kind: 'bool' }] },
};

const GROUP_USAGE = `gantry deploy ${Object.keys(VERBS).join('|')} [OPTIONS]`;

function duration(text: string | undefined, flag: string, dflt: number): number {
  if (text === undefined) return dflt;
  const d = readDuration(text);
  if ('problem' in d) throw usageError(`invalid ${flag} "${text}" (${d.problem})`, 'durations look like 30s, 1m, 1m30s');
  return Math.round(d.ns / 1e6);
}

const absolute = (p: string | undefined): string | undefined => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(p));

function ago(iso: string | undefined, now: number): string {
  if (iso === undefined) return '-';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  return s > 0 ? `${iso} (in ${s}s)` : `${iso} (${-s}s ago)`;
}

function short(c: string | undefined): string {
  return c === undefined ? '-' : c.slice(0, 12);
}

export function formatStatus(s: DeployStatus, now = Date.now()): string {
  const lines = [
    `Name:         ${s.name}${s.project !== undefined && s.project !== s.name ? ` (project ${s.project})` : ''}`,
    `Source:       ${s.repo} ref ${s.ref}${s.paths.length > 0 ? ` path ${s.paths.join(', ')}` : ''}`,
    `Sync:         ${s.sync}: ${s.syncReason}${s.suspended ? `  [suspended: ${s.suspendedReason ?? ''}]` : ''}`,
    `Health:       ${s.health}`,
    `Applied:      ${s.appliedRev === undefined ? '-' : `rev ${s.appliedRev} `}${s.appliedCommit ?? ''}`,
    `Latest:       ${s.latestCommit ?? '-'}`,
    ...(s.failedCommit !== undefined ? [`Failed:       ${s.failedCommit} (not retried until the ref moves)`] : []),
    `Last error:   ${s.lastError ?? '-'}`,
    `Last poll:    ${ago(s.lastPoll, now)}`,
    `Next poll:    ${s.suspended ? 'suspended' : ago(s.nextPoll, now)} (interval ${s.intervalMs / 1000}s)`,
    `Options:      prune ${s.prune ? 'on' : 'off'}, self-heal ${s.selfHeal ? 'on' : 'off'}, webhook ${s.webhook ? 'on' : 'off'}`,
  ];
  if (s.services.length > 0) {
    lines.push('Services:', ...table(['SERVICE', 'SYNC', 'HEALTH', 'DETAIL'], s.services.map((v) => [v.service, v.syncReason ?? v.sync ?? '-', v.health, v.detail]))
      .trimEnd().split('\n').map((l) => `  ${l}`));
  }
  if (s.diagnostics.length > 0) {
    lines.push('Diagnostics:');
    for (const d of s.diagnostics) lines.push(`  ${d.severity}[${d.code}]: ${d.message}${d.location !== undefined ? ` --> ${d.location.file}:${d.location.line}:${d.location.col}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function run(_cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const [verb, ...rest] = args;
  const spec = verb === undefined ? undefined : VERBS[verb];
  if (spec === undefined) throw usageError(verb === undefined ? 'missing deploy command' : `unknown deploy command "${verb}"`, GROUP_USAGE);
  let p;
  try {
    p = parseArgs(rest, spec.flags);
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    process.stdout.write(`Usage: ${spec.usage}\n\n${spec.about}\n\n${formatFlags(spec.flags)}`);
    return 0;
  }
  const name = p.positionals[0];
  if (verb !== 'ls' && name === undefined) throw usageError(`deploy ${verb} needs a NAME`, spec.usage);
  const json = str(p, 'format') === 'json';
  if (str(p, 'format') !== undefined && !json) throw usageError(`invalid --format "${str(p, 'format')}"`, 'use --format json');
  const client = await connectDaemon(g.host);
  const path = `/deploy/${encodeURIComponent(name ?? '')}`;
  const show = (s: DeployStatus): number => { if (json) printJson(s); else process.stdout.write(formatStatus(s)); return 0; };
  switch (verb) {
    case 'add': {
      const repo = str(p, 'repo');
      if (repo === undefined) throw usageError('deploy add needs --repo URL', spec.usage);
      const key = str(p, 'ssh-key');
      const known = str(p, 'known-hosts');
      const token = str(p, 'token-file');
      if ((key === undefined) !== (known === undefined)) throw usageError('--ssh-key and --known-hosts go together', 'the host key is always checked (StrictHostKeyChecking=yes)');
      if (key !== undefined && token !== undefined) throw usageError('--ssh-key and --token-file exclude each other', 'ssh:// takes a key, https:// a token');
      const auth = key !== undefined ? { kind: 'ssh', keyFile: absolute(key), knownHostsFile: absolute(known) }
        : token !== undefined ? { kind: 'token', tokenFile: absolute(token) } : { kind: 'none' };
      const body = {
        name, repo, ref: str(p, 'ref') ?? 'main', paths: list(p, 'path'), envFile: absolute(str(p, 'env-file')),
        intervalMs: duration(str(p, 'interval'), '--interval', 60_000), timeoutMs: duration(str(p, 'timeout'), '--timeout', 60_000),
        prune: bool(p, 'prune'), selfHeal: bool(p, 'self-heal'), auth, webhookSecretFile: absolute(str(p, 'webhook-secret-file')),
      };
      await client.call('POST', '/deploy', { body });
      process.stdout.write(`${name}\n`);
      return 0;
    }
    case 'ls': {
      const all = await client.call<DeployStatus[]>('GET', '/deploy');
      if (json) { for (const s of all) process.stdout.write(`${JSON.stringify(s)}\n`); return 0; }
      if (bool(p, 'quiet')) { process.stdout.write(all.map((s) => `${s.name}\n`).join('')); return 0; }
      process.stdout.write(table(['NAME', 'SYNC', 'HEALTH', 'REV', 'COMMIT', 'LATEST', 'REPO'],
        all.map((s) => [s.name, s.suspended ? `${s.sync} (suspended)` : s.sync, s.health, s.appliedRev === undefined ? '-' : String(s.appliedRev), short(s.appliedCommit), short(s.latestCommit), `${s.repo}#${s.ref}`])));
      return 0;
    }
    case 'status': return show(await client.call<DeployStatus>('GET', path));
    case 'sync': return show(await client.call<DeployStatus>('POST', `${path}/sync`));
    case 'suspend': case 'resume': {
      await client.call('POST', `${path}/${verb}`);
      process.stdout.write(`${name}\n`);
      return 0;
    }
    case 'rollback': {
      const revText = p.positionals[1];
      if (revText !== undefined && !/^\d+$/.test(revText)) throw usageError(`invalid revision "${revText}"`, '`gantry deploy history NAME` lists the revision numbers');
      return show(await client.call<DeployStatus>('POST', `${path}/rollback`, { query: { rev: revText } }));
    }
    case 'history': {
      const revs = await client.call<RevisionSummary[]>('GET', `${path}/history`);
      if (json) { printJson(revs); return 0; }
      process.stdout.write(table(['REV', 'COMMIT', 'RESULT', 'APPLIED', 'CAUSE', 'IMAGES'],
        revs.map((v) => [String(v.rev), short(v.commit), v.result, v.appliedAt, v.cause, Object.entries(v.images).map(([s, i]) => `${s}=${i.ref}@${(i.id ?? '-').replace(/^sha256:/, '').slice(0, 12)}`).join(' ')])));
      return 0;
    }
    case 'rm': {
      await client.call('DELETE', path, { query: { down: bool(p, 'down') } });
      process.stdout.write(`${name}\n`);
      return 0;
    }
    default:
      throw usageError(`unknown deploy command "${verb}"`, GROUP_USAGE);
  }
}
