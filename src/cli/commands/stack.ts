// `gantry stack VERB` (and the `up`/`down` shortcuts). Stack options are accepted before or after the verb.
// The CLI loads and validates the stack locally (diagnostics printed here, nothing sent when invalid); `up`
// and `down` run in the daemon, which streams progress back; the other verbs act on the project's containers.
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { resolve as resolvePath } from 'node:path';
import type { ContainerInfo } from 'dockerode';
import { GantryError, usageError } from '../../common/errors.js';
import { naturalCompare } from '../../common/natural-order.js';
import type { OneOffRequest, StackEvent } from '../../daemon/stack-service.js';
import type { StackModel } from '../../stack/model.js';
import { bool, list, parseArgs, str, type FlagSpec, type Parsed } from '../args.js';
import { jsonLines } from '../http.js';
import { connectDaemon, DaemonClient } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson, table } from '../output.js';
import type { ProgressMode } from './stack-progress.js';

const STACK_FLAGS: FlagSpec[] = [
  { name: 'file', short: 'f', kind: 'list' }, { name: 'project-name', short: 'p', kind: 'string' },
  { name: 'profile', kind: 'list' }, { name: 'env-file', kind: 'list' }, { name: 'project-directory', kind: 'string' },
  // Strict stack policy: risky host access and paths outside the project are errors (src/stack/host-access.ts).
  { name: 'strict', kind: 'bool' },
];

const PROGRESS: FlagSpec = { name: 'progress', kind: 'string' };
const DRY_RUN: FlagSpec = { name: 'dry-run', kind: 'bool' };

const VERBS: Record<string, FlagSpec[]> = {
  config: [{ name: 'format', kind: 'string' }, { name: 'services', kind: 'bool' }, { name: 'volumes', kind: 'bool' }, { name: 'hash', kind: 'string' },
    { name: 'quiet', short: 'q', kind: 'bool' }],
  up: [{ name: 'detach', short: 'd', kind: 'bool' }, { name: 'wait', kind: 'bool' }, { name: 'wait-timeout', kind: 'string' },
    { name: 'force-recreate', kind: 'bool' }, { name: 'no-recreate', kind: 'bool' }, { name: 'remove-orphans', kind: 'bool' },
    { name: 'renew-anon-volumes', short: 'V', kind: 'bool' }, { name: 'scale', kind: 'list' }, { name: 'no-deps', kind: 'bool' }, { name: 'abort-on-container-exit', kind: 'bool' },
    { name: 'exit-code-from', kind: 'string' }, { name: 'build', kind: 'bool' }, { name: 'timeout', short: 't', kind: 'string' },
    { name: 'no-color', kind: 'bool' }, { name: 'watch', short: 'w', kind: 'bool' }, DRY_RUN, PROGRESS],
  watch: [{ name: 'no-up', kind: 'bool', help: 'watch the stack as it is (no up first)' }, { name: 'prune', kind: 'bool', help: 'remove the image a rebuild replaced (default; --prune=false keeps it)' },
    { name: 'quiet', kind: 'bool', help: 'print only what went wrong' }, PROGRESS],
  down: [{ name: 'volumes', short: 'v', kind: 'bool' }, { name: 'rmi', kind: 'string' }, { name: 'remove-orphans', kind: 'bool' },
    { name: 'timeout', short: 't', kind: 'string' }, DRY_RUN, PROGRESS],
  ps: [{ name: 'all', short: 'a', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'string' },
    { name: 'services', kind: 'bool' }, { name: 'status', kind: 'list' }],
  logs: [{ name: 'follow', short: 'f', kind: 'bool' }, { name: 'tail', short: 'n', kind: 'string' }, { name: 'timestamps', short: 't', kind: 'bool' },
    { name: 'no-color', kind: 'bool' }, { name: 'no-log-prefix', kind: 'bool' }],
  restart: [{ name: 'timeout', short: 't', kind: 'string' }],
  stop: [{ name: 'timeout', short: 't', kind: 'string' }],
  start: [],
  kill: [{ name: 'signal', short: 's', kind: 'string' }],
  rm: [{ name: 'force', short: 'f', kind: 'bool' }, { name: 'stop', short: 's', kind: 'bool' }, { name: 'volumes', short: 'v', kind: 'bool' }],
  pause: [], unpause: [],
  exec: [{ name: 'detach', short: 'd', kind: 'bool' }, { name: 'no-TTY', short: 'T', kind: 'bool' }, { name: 'env', short: 'e', kind: 'list' },
    { name: 'workdir', short: 'w', kind: 'string' }, { name: 'user', short: 'u', kind: 'string' }, { name: 'index', kind: 'string' },
    { name: 'interactive', short: 'i', kind: 'bool' }, { name: 'tty', kind: 'bool' }, { name: 'privileged', kind: 'bool' }],
  run: [{ name: 'rm', kind: 'bool' }, { name: 'detach', short: 'd', kind: 'bool' }, { name: 'env', short: 'e', kind: 'list' },
    { name: 'name', kind: 'string' }, { name: 'no-TTY', short: 'T', kind: 'bool' }, { name: 'no-deps', kind: 'bool' },
    { name: 'user', short: 'u', kind: 'string' }, { name: 'workdir', short: 'w', kind: 'string' }, { name: 'entrypoint', kind: 'string' },
    { name: 'interactive', short: 'i', kind: 'bool' }, { name: 'tty', kind: 'bool' }],
  top: [], port: [{ name: 'protocol', kind: 'string' }, { name: 'index', kind: 'string' }],
  images: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'string' }],
  events: [{ name: 'json', kind: 'bool' }],
  pull: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'ignore-pull-failures', kind: 'bool' }],
  build: [{ name: 'no-cache', kind: 'bool' }, { name: 'pull', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }],
  push: [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'ignore-push-failures', kind: 'bool' }],
  ls: [{ name: 'all', short: 'a', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'string' }],
  // Kubernetes (src/kube, cli/commands/stack-kube.ts).
  convert: [{ name: 'to', kind: 'string' }, { name: 'output', short: 'o', kind: 'string' }, { name: 'namespace', short: 'n', kind: 'string' },
    { name: 'storage-class', kind: 'string' }, { name: 'volume-size', kind: 'string' }, { name: 'ingress-host', kind: 'string' }],
  deploy: [{ name: 'to', kind: 'string' }, { name: 'context', kind: 'string' }, { name: 'kubeconfig', kind: 'string' }, { name: 'namespace', short: 'n', kind: 'string' },
    { name: 'dry-run', kind: 'string' }, { name: 'prune', kind: 'bool' }, { name: 'timeout', kind: 'string' }, { name: 'storage-class', kind: 'string' },
    { name: 'volume-size', kind: 'string' }, { name: 'ingress-host', kind: 'string' }],
};

const USAGE = `gantry stack [-f FILE] [-p PROJECT] ${Object.keys(VERBS).join('|')} [OPTIONS]`;

interface Ctx {
  p: Parsed;
  g: GlobalOptions;
  verb: string;
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const all = cmd === 'stack' ? args : [cmd, ...args];
  const verbIndex = all.findIndex((a) => Object.hasOwn(VERBS, a));
  const verb = verbIndex < 0 ? undefined : all[verbIndex]!;
  if (verb === undefined) throw usageError(all.length === 0 ? 'missing stack command' : `unknown stack command "${all.find((a) => !a.startsWith('-')) ?? all[0]}"`, USAGE);
  const stopAfter = verb === 'exec' || verb === 'run' ? 1 : undefined;
  // Before the verb only stack options; after it, the verb's flags win a clash (`logs -f` is --follow).
  const before = parseArgs(all.slice(0, verbIndex), STACK_FLAGS);
  if (before.positionals.length > 0) throw usageError(`unexpected argument "${before.positionals[0]}" before ${verb}`, USAGE);
  const verbFlags = VERBS[verb]!;
  const shorts = new Set(verbFlags.map((f) => f.short));
  const after = parseArgs(all.slice(verbIndex + 1), [...STACK_FLAGS.map((f) => (shorts.has(f.short) ? { ...f, short: undefined } : f)).map(({ short, ...f }) => (short === undefined ? f : { ...f, short })), ...verbFlags],
    stopAfter === undefined ? {} : { stopAfterPositionals: stopAfter });
  const flags = new Map(before.flags);
  for (const [k, v] of after.flags) {
    const prev = flags.get(k);
    flags.set(k, Array.isArray(prev) && Array.isArray(v) ? [...prev, ...v] : v);
  }
  const p: Parsed = { flags, positionals: after.positionals };
  const ctx: Ctx = { p, g, verb };
  try {
    return await dispatch(ctx);
  } catch (e) {
    if (e instanceof InvalidStack) return 1;
    throw e;
  }
}

async function dispatch(ctx: Ctx): Promise<number> {
  const { p, verb } = ctx;
  switch (verb) {
    case 'config': return config(p);
    case 'up': return up(ctx);
    case 'watch': return watch(ctx);
    case 'down': return down(ctx);
    case 'ls': return ls(ctx);
    case 'ps': return ps(ctx);
    case 'logs': return logs(ctx);
    case 'exec': return exec(ctx);
    case 'run': return runOneOff(ctx);
    case 'events': return events(ctx);
    case 'pull': case 'push': return pullOrPush(ctx);
    case 'build': return stackBuild(ctx);
    case 'convert': case 'deploy': return kube(ctx);
    default: return containerVerb(ctx);
  }
}

async function config(p: Parsed): Promise<number> {
  const { stackConfigCommand } = await import('./stack-config.js');
  const format = str(p, 'format') ?? 'yaml';
  if (format !== 'yaml' && format !== 'json') throw usageError(`invalid --format "${format}"`, 'use yaml or json');
  return stackConfigCommand({
    files: list(p, 'file'), projectName: str(p, 'project-name'), projectDirectory: str(p, 'project-directory'),
    profiles: list(p, 'profile'), envFiles: list(p, 'env-file'), format, services: bool(p, 'services'), volumes: bool(p, 'volumes'),
    hash: str(p, 'hash'), quiet: bool(p, 'quiet'), strict: bool(p, 'strict'),
  });
}

async function kube(ctx: Ctx): Promise<number> {
  const { p, verb } = ctx;
  const k = await import('./stack-kube.js');
  const load = { files: list(p, 'file'), projectName: str(p, 'project-name'), projectDirectory: str(p, 'project-directory'), profiles: list(p, 'profile'),
    envFiles: list(p, 'env-file'), strict: bool(p, 'strict') };
  const conv = { to: str(p, 'to'), namespace: str(p, 'namespace'), storageClass: str(p, 'storage-class'), volumeSize: str(p, 'volume-size'), ingressHost: str(p, 'ingress-host') };
  if (verb === 'convert') return k.convertCommand({ ...load, ...conv, output: str(p, 'output') });
  return k.deployCommand({ ...load, ...conv, context: str(p, 'context'), kubeconfig: str(p, 'kubeconfig'), dryRun: str(p, 'dry-run'), prune: bool(p, 'prune'), timeout: str(p, 'timeout') });
}

// ---- loading ---------------------------------------------------------------------------------------------

class InvalidStack extends Error {}

/** Loads the stack (diagnostics to stderr). `optional`: a missing stack file is fine when -p names the project. */
async function loadModel(p: Parsed, optional = false): Promise<StackModel | undefined> {
  const stack = await import('../../stack/index.js');
  const color = process.stderr.isTTY && process.env['NO_COLOR'] === undefined;
  try {
    const r = await stack.loadStack({ files: list(p, 'file'), projectName: str(p, 'project-name'), projectDirectory: str(p, 'project-directory'),
      profiles: list(p, 'profile'), envFiles: list(p, 'env-file'), stdin: () => stack.readStdinCapped(), strict: bool(p, 'strict') });
    for (const d of r.diagnostics) process.stderr.write(`${stack.formatDiagnostic(d, { color })}\n\n`);
    return resolveEnvironmentObjects(r.model, process.env);
  } catch (e) {
    const diagnostics = stack.diagnosticsOf(e);
    if (diagnostics === undefined) throw e;
    if (optional && str(p, 'project-name') !== undefined && diagnostics.every((d) => d.code === 'SPEC_NO_FILE')) return undefined;
    for (const d of diagnostics) process.stderr.write(`${stack.formatDiagnostic(d, { color })}\n\n`);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}; nothing was changed\n`);
    throw new InvalidStack();
  }
}

/** `environment:` secrets/configs take their value from the CLI's environment (the daemon has another one). */
export function resolveEnvironmentObjects(model: StackModel, env: Readonly<Record<string, string | undefined>>): StackModel {
  const fix = (objs: StackModel['secrets']): StackModel['secrets'] => Object.fromEntries(Object.entries(objs).map(([k, o]) =>
    [k, o.environment !== undefined && o.content === undefined ? { ...o, content: env[o.environment] ?? '' } : o]));
  return { ...model, secrets: fix(model.secrets), configs: fix(model.configs) };
}

async function projectName(p: Parsed): Promise<{ project: string; model: StackModel | undefined }> {
  const model = await loadModel(p, true);
  const project = model?.name ?? str(p, 'project-name');
  if (project === undefined) throw usageError('no project', 'run in a directory with a stack file, or give -p PROJECT');
  return { project, model };
}

// ---- up / down -------------------------------------------------------------------------------------------

function progressMode(p: Parsed): ProgressMode {
  const m = str(p, 'progress') ?? (process.stderr.isTTY ? 'tty' : 'plain');
  if (m === 'auto') return process.stderr.isTTY ? 'tty' : 'plain';
  if (m !== 'tty' && m !== 'plain' && m !== 'json' && m !== 'quiet') throw usageError(`invalid --progress "${m}"`, 'use auto, tty, plain, json or quiet');
  return m;
}

function seconds(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw usageError(`invalid --${name} "${v}"`, 'give whole seconds');
  return Number(v);
}

async function streamStack(client: DaemonClient, path: string, body: unknown, p: Parsed): Promise<{ ok: boolean; planText: string }> {
  const { renderProgress } = await import('./stack-progress.js');
  const res = await client.stream('POST', path, { body });
  const mode = bool(p, 'dry-run') ? 'quiet' : progressMode(p);
  const r = await renderProgress(jsonLines<StackEvent>(res), mode);
  if (!r.ended) {
    throw new GantryError('DAEMON_UNREACHABLE', 'the daemon\'s progress stream ended before the result',
      { hint: 'the state converges anyway: run the command again, or look at `gantry stack ps`' });
  }
  if (bool(p, 'dry-run')) process.stdout.write(r.planText);
  for (const f of r.failures) {
    process.stderr.write(`Error: ${f.service !== undefined ? `service "${f.service}": ` : ''}${f.message}${f.resource.startsWith('container:') ? ` (${f.resource})` : ''}\n`);
    if (f.hint) process.stderr.write(`hint: ${f.hint}\n`);
  }
  return { ok: r.ok, planText: r.planText };
}

async function up(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  let model: StackModel;
  try {
    model = (await loadModel(p))!;
  } catch (e) {
    if (e instanceof InvalidStack) return 1;
    throw e;
  }
  const scale: Record<string, number> = {};
  for (const s of list(p, 'scale')) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw usageError(`invalid --scale "${s}"`, 'use --scale SERVICE=N');
    scale[m[1]!] = Number(m[2]);
  }
  if (bool(p, 'force-recreate') && bool(p, 'no-recreate')) throw usageError('--force-recreate and --no-recreate are incompatible');
  const detach = bool(p, 'detach') || bool(p, 'wait') || bool(p, 'watch');
  const exitCodeFrom = str(p, 'exit-code-from');
  if (detach && (bool(p, 'abort-on-container-exit') || exitCodeFrom !== undefined)) throw usageError('--abort-on-container-exit and --exit-code-from need an attached up (no -d)');
  if (exitCodeFrom !== undefined && model.services[exitCodeFrom] === undefined) throw usageError(`no such service: ${exitCodeFrom}`);
  const client = await connectDaemon(ctx.g.host);
  if (!bool(p, 'dry-run') && !(await buildForUp(client, model, p.positionals, bool(p, 'build')))) return 1;
  const upStarted = Date.now() / 1000; // attached: show only what the containers print from now on, like docker compose
  const options = { services: p.positionals, noDeps: bool(p, 'no-deps'), forceRecreate: bool(p, 'force-recreate'), noRecreate: bool(p, 'no-recreate'),
    removeOrphans: bool(p, 'remove-orphans'), renewAnonVolumes: bool(p, 'renew-anon-volumes'), scale, startStopped: true };
  const r = await streamStack(client, `/stacks/${model.name}/up`, { model, options, dryRun: bool(p, 'dry-run'), wait: bool(p, 'wait'), waitTimeoutSeconds: seconds(p, 'wait-timeout'), registryAuth: await stackAuths(model) }, p);
  if (!r.ok) return 1;
  if (bool(p, 'watch') && !bool(p, 'dry-run')) return watchStack(ctx, client, model, p.positionals);
  if (detach || bool(p, 'dry-run')) return 0;
  return attached(ctx, client, model, p.positionals, { abort: bool(p, 'abort-on-container-exit') || exitCodeFrom !== undefined, exitCodeFrom, timeout: seconds(p, 'timeout'), since: upStarted });
}

// ---- watch ------------------------------------------------------------------------------------------------

/** `gantry watch [SERVICE...]`: up (unless --no-up), then sync changes until Ctrl-C; the stack stays up. */
async function watch(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const model = (await loadModel(p))!;
  const services = watchedServices(model, p.positionals);
  const client = await connectDaemon(ctx.g.host);
  if (!bool(p, 'no-up')) {
    if (!(await buildForUp(client, model, p.positionals, false))) return 1;
    const options = { services: p.positionals, noDeps: false, forceRecreate: false, noRecreate: false, removeOrphans: false, renewAnonVolumes: false, scale: {}, startStopped: true };
    const r = await streamStack(client, `/stacks/${model.name}/up`, { model, options, dryRun: false, wait: false, registryAuth: await stackAuths(model) }, p);
    if (!r.ok) return 1;
  }
  return watchStack(ctx, client, model, services);
}

async function imageIdOf(client: DaemonClient, image: string): Promise<string | undefined> {
  return client.call<{ Id: string }>('GET', `/images/${encodeURIComponent(image)}/json`).then((i) => i.Id, () => undefined);
}

/** Removes the image `id` when it has no tag left and no container uses it (a rebuild's leftover); says so. */
async function removeIfDangling(client: DaemonClient, id: string, service: string): Promise<void> {
  const info = await client.call<{ RepoTags?: string[] | null }>('GET', `/images/${encodeURIComponent(id)}/json`).catch(() => undefined);
  if (info === undefined || (info.RepoTags?.length ?? 0) > 0) return;
  const users = await client.call<unknown[]>('GET', '/containers/json', { query: { all: true, filters: JSON.stringify({ ancestor: [id] }) } }).catch(() => undefined);
  if (users === undefined || users.length > 0) return; // in use, or not known: kept
  await client.call('DELETE', `/images/${encodeURIComponent(id)}`).then(
    () => process.stdout.write(`${service}: removed the image the rebuild replaced (${id.replace(/^sha256:/, '').slice(0, 12)})\n`),
    () => undefined);
}

/** The services to watch: those named (each must exist and have watch rules), else every one with rules. */
function watchedServices(model: StackModel, named: readonly string[]): string[] {
  for (const s of named) {
    if (model.services[s] === undefined) throw new GantryError('NOT_FOUND', `no such service: ${s}`, { hint: `the stack's services: ${Object.keys(model.services).join(', ')}` });
    if ((model.services[s]!.develop?.watch.length ?? 0) === 0) throw new GantryError('INVALID_ARGUMENT', `service "${s}" has no develop.watch rules`, { hint: 'add develop: {watch: [{path: ./src, action: sync, target: /app/src}]} to it' });
  }
  const out = named.length > 0 ? [...named] : Object.keys(model.services).filter((s) => (model.services[s]!.develop?.watch.length ?? 0) > 0);
  if (out.length === 0) throw new GantryError('INVALID_ARGUMENT', `no service of ${model.name} has develop.watch rules`, { hint: 'add develop: {watch: [{path: ./src, action: sync, target: /app/src}]} to a service' });
  return out;
}

async function watchStack(ctx: Ctx, client: DaemonClient, model: StackModel, named: readonly string[]): Promise<number> {
  const services = watchedServices(model, named);
  const [{ runWatch }, { daemonPort }] = await Promise.all([import('../../watch/run.js'), import('../../watch/daemon-port.js')]);
  const quietMs = process.env['GANTRY_WATCH_QUIET_MS'] === undefined ? undefined : Number(process.env['GANTRY_WATCH_QUIET_MS']);
  // rebuild rules: the service's image is built again and only its containers are recreated (never its dependencies)
  // --prune (compose's default; --prune=false keeps them): the image a rebuild replaced is removed once nothing uses it
  const prune = ctx.p.flags.get('prune') !== false;
  const rebuild = async (service: string): Promise<boolean> => {
    const image = model.services[service]!.image!;
    const before = await imageIdOf(client, image);
    if (!(await buildServices(client, model, [service], { noCache: false, pull: false, quiet: true }))) return false;
    const options = { services: [service], noDeps: true, forceRecreate: false, noRecreate: false, removeOrphans: false, renewAnonVolumes: false, scale: {}, startStopped: true };
    const ok = (await streamStack(client, `/stacks/${model.name}/up`, { model, options, dryRun: false, wait: false, registryAuth: await stackAuths(model) }, ctx.p)).ok;
    if (ok && prune && before !== undefined) await removeIfDangling(client, before, service);
    return ok;
  };
  await runWatch(model, services, daemonPort(client), { quiet: bool(ctx.p, 'quiet'), quietMs, rebuild, daemon: client.socketPath });
  client.close();
  return 0;
}

/** Attached up: stream every service's logs; Ctrl-C stops the stack (a second Ctrl-C kills it). */
async function attached(ctx: Ctx, client: DaemonClient, model: StackModel, services: string[], o: { abort: boolean; exitCodeFrom: string | undefined; timeout: number | undefined; since: number }): Promise<number> {
  // The service containers only: not one-offs of `stack run`, not orphans of services no longer in the stack.
  const containers = (await projectContainers(client, model.name, services, true))
    .filter((c) => c.Labels['gantry.oneoff'] !== 'True' && model.services[c.Labels['gantry.service'] ?? ''] !== undefined);
  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await client.call('POST', `/stacks/${model.name}/hold`, { query: { held: true } }).catch(() => undefined);
    await Promise.all(containers.map((c) => client.call('POST', `/containers/${c.Id}/stop`, { query: { t: o.timeout } }).catch(() => undefined)));
  };
  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    if (interrupts === 1) { process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n'); void stopAll(); }
    else { for (const c of containers) void client.call('POST', `/containers/${c.Id}/kill`).catch(() => undefined); }
  });
  let exitCode = 0;
  const ended = containers.map(async (c) => {
    await followLogs(client, c, prefixer(containers, !bool(ctx.p, 'no-color')), { follow: true, tail: undefined, timestamps: false, prefix: true, since: o.since });
    const info = await client.call<{ State: { ExitCode: number; Status: string } }>('GET', `/containers/${c.Id}/json`).catch(() => undefined);
    const code = info?.State.ExitCode ?? 0;
    const svc = c.Labels['gantry.service'];
    if (!stopping) process.stdout.write(`${c.Names[0]?.replace(/^\//, '') ?? c.Id} exited with code ${code}\n`);
    if (o.exitCodeFrom !== undefined ? svc === o.exitCodeFrom : o.abort && !stopping) exitCode = code;
    if (o.abort && !stopping) { process.stderr.write('Aborting on container exit...\n'); await stopAll(); }
  });
  await Promise.all(ended);
  if (interrupts > 0 && o.exitCodeFrom === undefined) return 130;
  return exitCode;
}

async function down(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  let target;
  try {
    target = await projectName(p);
  } catch (e) {
    if (e instanceof InvalidStack) return 1;
    throw e;
  }
  const rmi = str(p, 'rmi');
  if (rmi !== undefined && rmi !== 'local' && rmi !== 'all') throw usageError(`invalid --rmi "${rmi}"`, 'use local or all');
  const client = await connectDaemon(ctx.g.host);
  const options = { removeVolumes: bool(p, 'volumes'), removeOrphans: bool(p, 'remove-orphans'), timeout: seconds(p, 'timeout') };
  const r = await streamStack(client, `/stacks/${target.project}/down`, { model: target.model, options, dryRun: bool(p, 'dry-run') }, p);
  if (!r.ok) return 1;
  if (rmi === 'all' && target.model !== undefined && !bool(p, 'dry-run')) {
    for (const image of new Set(Object.values(target.model.services).flatMap((s) => (s.image ? [s.image] : [])))) {
      try {
        await client.call('DELETE', `/images/${encodeURIComponent(image)}`);
        process.stderr.write(` Image ${image}  Removed\n`);
      } catch (e) {
        process.stderr.write(` Image ${image}  Not removed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  }
  return 0;
}

// ---- listing -----------------------------------------------------------------------------------------------

async function projectContainers(client: DaemonClient, project: string, services: readonly string[], all: boolean): Promise<ContainerInfo[]> {
  const items = await client.call<ContainerInfo[]>('GET', '/containers/json', { query: { all, filters: JSON.stringify({ label: [`gantry.project=${project}`] }) } });
  const known = new Set(items.map((c) => c.Labels['gantry.service']));
  for (const s of services) if (!known.has(s)) throw new GantryError('NOT_FOUND', `no container found for service "${s}"`, { hint: `gantry stack ps -a lists the containers of ${project}` });
  return items.filter((c) => services.length === 0 || services.includes(c.Labels['gantry.service'] ?? ''))
    .sort((a, b) => naturalCompare(a.Names[0] ?? '', b.Names[0] ?? ''));
}

async function ls(ctx: Ctx): Promise<number> {
  const client = await connectDaemon(ctx.g.host);
  const items = await client.call<Array<{ Name: string; Status: string; ConfigFiles: string }>>('GET', '/stacks');
  const shown = bool(ctx.p, 'all') ? items : items.filter((s) => s.Status.includes('running') || s.Status === '');
  if (bool(ctx.p, 'quiet')) { process.stdout.write(shown.map((s) => `${s.Name}\n`).join('')); return 0; }
  if (str(ctx.p, 'format') === 'json') { printJson(shown); return 0; }
  process.stdout.write(table(['NAME', 'STATUS', 'CONFIG FILES'], shown.map((s) => [s.Name, s.Status || '(no containers)', s.ConfigFiles])));
  return 0;
}

async function ps(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const { project, model } = await projectName(p);
  if (bool(p, 'services')) {
    process.stdout.write(Object.keys(model?.services ?? {}).map((s) => `${s}\n`).join(''));
    return 0;
  }
  const client = await connectDaemon(ctx.g.host);
  let items = await projectContainers(client, project, p.positionals, true);
  const statuses = list(p, 'status');
  if (statuses.length > 0) items = items.filter((c) => statuses.includes(c.State));
  else if (!bool(p, 'all')) items = items.filter((c) => c.State === 'running' || c.State === 'paused' || c.State === 'restarting');
  if (bool(p, 'quiet')) { process.stdout.write(items.map((c) => `${c.Id.slice(0, 12)}\n`).join('')); return 0; }
  if (str(p, 'format') === 'json') { for (const c of items) process.stdout.write(`${JSON.stringify(c)}\n`); return 0; }
  process.stdout.write(psTable(items));
  return 0;
}

/** `stack ps`'s table of the project's containers. */
function psTable(items: readonly ContainerInfo[]): string {
  const ports = (c: ContainerInfo): string => c.Ports.map((x) => (x.PublicPort ? `${x.IP || '0.0.0.0'}:${x.PublicPort}->${x.PrivatePort}/${x.Type}` : `${x.PrivatePort}/${x.Type}`)).join(', ');
  return table(['NAME', 'IMAGE', 'COMMAND', 'SERVICE', 'STATUS', 'PORTS'],
    items.map((c) => [c.Names[0]?.replace(/^\//, '') ?? '', c.Image, JSON.stringify(c.Command.length > 30 ? `${c.Command.slice(0, 29)}…` : c.Command),
      c.Labels['gantry.service'] ?? '', c.Status, ports(c)]));
}

/**
 * Build time only (the stack start-up snapshot, snapshot/stack-entry.ts): walks what a no-op `up -d` and a
 * `stack ps` run after loading the stack — the registry credentials lookup, the up request and its progress
 * (plain), the project's containers and their table — against the snapshot's stand-in daemon at `host`, so that
 * their code is compiled into the blob. Reads only `configPath` (absent), writes only to `sink`.
 */
export async function warmCommandPaths(host: string, model: StackModel, configPath: string, sink: NodeJS.WritableStream): Promise<void> {
  const { authsForImages } = await import('../docker-config.js');
  const { renderProgress } = await import('./stack-progress.js');
  const m = resolveEnvironmentObjects(model, {});
  const registryAuth = authsForImages(Object.values(m.services).flatMap((svc) => (svc.image === undefined ? [] : [svc.image])), configPath);
  const client = new DaemonClient(host);
  const options = { services: [], noDeps: false, forceRecreate: false, noRecreate: false, removeOrphans: false, renewAnonVolumes: false, scale: {}, startStopped: true };
  const res = await client.stream('POST', `/stacks/${m.name}/up`, { body: { model: m, options, dryRun: false, wait: false, registryAuth } });
  await renderProgress(jsonLines<StackEvent>(res), 'plain', sink);
  sink.write(psTable(await projectContainers(client, m.name, [], true)));
  client.close();
}

// ---- logs --------------------------------------------------------------------------------------------------

const COLORS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96];

function prefixer(containers: readonly ContainerInfo[], color: boolean): (c: ContainerInfo) => string {
  const label = (c: ContainerInfo): string => `${c.Labels['gantry.service'] ?? '?'}-${c.Labels['gantry.number'] ?? '?'}`;
  const width = Math.max(0, ...containers.map((c) => label(c).length));
  const useColor = color && process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
  const services = [...new Set(containers.map((c) => c.Labels['gantry.service'] ?? ''))].sort();
  return (c) => {
    const text = `${label(c).padEnd(width)} | `;
    if (!useColor) return text;
    const code = COLORS[services.indexOf(c.Labels['gantry.service'] ?? '') % COLORS.length]!;
    return `\x1b[${code}m${text}\x1b[0m`;
  };
}

/** Streams one container's log, each line prefixed (`web-1 | ...`). */
async function followLogs(client: DaemonClient, c: ContainerInfo, prefix: (c: ContainerInfo) => string,
  o: { follow: boolean; tail: string | undefined; timestamps: boolean; prefix: boolean; since?: number | undefined }): Promise<void> {
  let res: Readable;
  try {
    res = await client.stream('GET', `/containers/${c.Id}/logs`, { query: { stdout: true, stderr: true, follow: o.follow, tail: o.tail, timestamps: o.timestamps, since: o.since } });
  } catch (e) {
    // One container whose logs cannot be read (logging driver none) must not hide the others' (compose's rule).
    process.stderr.write(`${o.prefix ? prefix(c) : ''}${e instanceof Error ? e.message : String(e)}\n`);
    return;
  }
  const tty = ((res as Readable & { contentType?: string }).contentType ?? '').includes('raw-stream');
  const pending = ['', '', ''];
  const emit = (stream: number, text: string): void => {
    pending[stream] += text;
    const lines = pending[stream]!.split('\n');
    pending[stream] = lines.pop()!;
    const out = stream === 2 ? process.stderr : process.stdout;
    for (const l of lines) out.write(`${o.prefix ? prefix(c) : ''}${l}\n`);
  };
  let buf = Buffer.alloc(0);
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (tty) { emit(1, chunk.toString('utf8')); continue; }
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      emit(buf[0] === 2 ? 2 : 1, buf.subarray(8, 8 + len).toString('utf8'));
      buf = buf.subarray(8 + len);
    }
  }
  for (const s of [1, 2]) if (pending[s] !== '') emit(s, '\n');
}

async function logs(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const { project } = await projectName(p);
  const tail = str(p, 'tail');
  if (tail !== undefined && tail !== 'all' && !/^\d+$/.test(tail)) throw usageError(`invalid --tail "${tail}"`, 'give a number of lines or "all"');
  const client = await connectDaemon(ctx.g.host);
  const items = await projectContainers(client, project, p.positionals, true);
  const prefix = prefixer(items, !bool(p, 'no-color'));
  await Promise.all(items.map((c) => followLogs(client, c, prefix, { follow: bool(p, 'follow'), tail, timestamps: bool(p, 'timestamps'), prefix: !bool(p, 'no-log-prefix') })));
  return 0;
}

// ---- container verbs -------------------------------------------------------------------------------------------

async function containerVerb(ctx: Ctx): Promise<number> {
  const { p, verb } = ctx;
  const { project, model } = await projectName(p);
  const client = await connectDaemon(ctx.g.host);
  if (verb === 'port') return port(client, project, p);
  let items = await projectContainers(client, project, p.positionals, true);
  const order = model === undefined ? [] : (await import('../../reconcile/plan.js')).serviceOrder(model);
  const rank = (c: ContainerInfo): number => order.indexOf(c.Labels['gantry.service'] ?? '');
  items = items.sort((a, b) => rank(a) - rank(b));
  const name = (c: ContainerInfo): string => c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
  const hold = (held: boolean): Promise<unknown> => client.call('POST', `/stacks/${project}/hold`, { query: { held } });
  let failed = false;
  const each = async (cs: ContainerInfo[], word: string, fn: (c: ContainerInfo) => Promise<unknown>, parallel = true): Promise<void> => {
    const one = async (c: ContainerInfo): Promise<void> => {
      try { await fn(c); process.stderr.write(` Container ${name(c)}  ${word}\n`); } catch (e) {
        failed = true;
        process.stderr.write(` Container ${name(c)}  Error: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    };
    if (parallel) await Promise.all(cs.map(one)); else for (const c of cs) await one(c);
  };
  const t = seconds(p, 'timeout');
  switch (verb) {
    case 'stop':
      await hold(true);
      await each([...items].reverse().filter((c) => c.State !== 'exited' && c.State !== 'created'), 'Stopped', (c) => client.call('POST', `/containers/${c.Id}/stop`, { query: { t } }));
      break;
    case 'start':
      await hold(false);
      await each(items.filter((c) => c.State !== 'running' && c.State !== 'paused'), 'Started', (c) => client.call('POST', `/containers/${c.Id}/start`), false);
      break;
    case 'restart':
      await hold(false);
      await each(items, 'Restarted', (c) => client.call('POST', `/containers/${c.Id}/restart`, { query: { t } }), false);
      break;
    case 'kill':
      await hold(true);
      await each(items.filter((c) => c.State === 'running' || c.State === 'paused'), 'Killed', (c) => client.call('POST', `/containers/${c.Id}/kill`, { query: { signal: str(p, 'signal') ?? 'SIGKILL' } }));
      break;
    case 'rm': {
      await hold(true);
      if (bool(p, 'stop')) await each(items.filter((c) => c.State === 'running' || c.State === 'paused'), 'Stopped', (c) => client.call('POST', `/containers/${c.Id}/stop`));
      const targets = bool(p, 'stop') || bool(p, 'force') ? items : items.filter((c) => c.State !== 'running' && c.State !== 'paused' && c.State !== 'restarting');
      if (targets.length === 0) process.stderr.write('No stopped containers\n');
      await each(targets, 'Removed', (c) => client.call('DELETE', `/containers/${c.Id}`, { query: { force: bool(p, 'force') || bool(p, 'stop'), v: bool(p, 'volumes') } }));
      break;
    }
    case 'pause':
      await each(items.filter((c) => c.State === 'running'), 'Paused', (c) => client.call('POST', `/containers/${c.Id}/pause`));
      break;
    case 'unpause':
      await each(items.filter((c) => c.State === 'paused'), 'Unpaused', (c) => client.call('POST', `/containers/${c.Id}/unpause`));
      break;
    case 'top':
      for (const c of items.filter((x) => x.State === 'running' || x.State === 'paused')) {
        const top = await client.call<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.Id}/top`);
        process.stdout.write(`${name(c)}\n${table(top.Titles, top.Processes)}\n`);
      }
      break;
    case 'images': {
      if (bool(p, 'quiet')) { process.stdout.write([...new Set(items.map((c) => c.ImageID))].map((i) => `${i}\n`).join('')); break; }
      const rows = items.map((c) => [name(c), c.Image, c.ImageID.replace(/^sha256:/, '').slice(0, 12)]);
      if (str(p, 'format') === 'json') printJson(items.map((c) => ({ ContainerName: name(c), Repository: c.Image, ID: c.ImageID })));
      else process.stdout.write(table(['CONTAINER', 'IMAGE', 'IMAGE ID'], rows));
      break;
    }
    default:
      throw usageError(`unknown stack command "${verb}"`, USAGE);
  }
  return failed ? 1 : 0;
}

async function port(client: DaemonClient, project: string, p: Parsed): Promise<number> {
  const [service, priv] = p.positionals;
  if (service === undefined || priv === undefined) throw usageError('port needs a service and a private port', 'gantry stack port SERVICE PRIVATE_PORT');
  const index = Number(str(p, 'index') ?? '1');
  const items = await projectContainers(client, project, [service], false);
  const c = items.find((x) => x.Labels['gantry.number'] === String(index)) ?? items[0];
  if (c === undefined) throw new GantryError('CONTAINER_NOT_FOUND', `service "${service}" has no running container`);
  const info = await client.call<{ NetworkSettings: { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> } }>('GET', `/containers/${c.Id}/json`);
  const key = `${priv}/${str(p, 'protocol') ?? 'tcp'}`;
  const binding = info.NetworkSettings.Ports?.[key]?.[0];
  if (binding === undefined) throw new GantryError('NOT_FOUND', `no port ${key} published for service "${service}"`, { hint: 'publish it with ports: in the stack file' });
  process.stdout.write(`${binding.HostIp || '0.0.0.0'}:${binding.HostPort}\n`);
  return 0;
}

async function exec(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const [service, ...command] = p.positionals;
  if (service === undefined || command.length === 0) throw usageError('exec needs a service and a command', 'gantry stack exec [-T] SERVICE COMMAND [ARG...]');
  const { project } = await projectName(p);
  const client = await connectDaemon(ctx.g.host);
  const items = await projectContainers(client, project, [service], false);
  const index = str(p, 'index') ?? '1';
  const c = items.find((x) => x.Labels['gantry.number'] === index);
  if (c === undefined) throw new GantryError('CONTAINER_NOT_FOUND', `service "${service}" has no running container number ${index}`, { hint: `gantry stack ps ${service}` });
  const tty = !bool(p, 'no-TTY') && (bool(p, 'tty') || (process.stdin.isTTY === true && process.stdout.isTTY === true));
  const args = [...(tty ? ['-t', '-i'] : bool(p, 'interactive') ? ['-i'] : []), ...(bool(p, 'detach') ? ['-d'] : []), ...(bool(p, 'privileged') ? ['--privileged'] : []),
    ...list(p, 'env').flatMap((e) => ['-e', e]), ...(str(p, 'workdir') ? ['-w', str(p, 'workdir')!] : []), ...(str(p, 'user') ? ['-u', str(p, 'user')!] : []),
    c.Id, ...command];
  client.close();
  const containers = await import('./containers.js');
  return containers.run('exec', args, ctx.g);
}

async function runOneOff(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const [service, ...command] = p.positionals;
  if (service === undefined) throw usageError('run needs a service', 'gantry stack run [--rm] [-d] SERVICE [COMMAND...]');
  let model: StackModel;
  try { model = (await loadModel(p))!; } catch (e) { if (e instanceof InvalidStack) return 1; throw e; }
  const s = model.services[service];
  if (s === undefined) throw new GantryError('INVALID_ARGUMENT', `no such service: ${service}`, { hint: `services: ${Object.keys(model.services).sort().join(', ')}` });
  const client = await connectDaemon(ctx.g.host);
  const deps = Object.keys(s.depends_on).filter((d) => model.services[d] !== undefined);
  if (!bool(p, 'no-deps') && deps.length > 0) {
    const options = { services: deps, noDeps: false, forceRecreate: false, noRecreate: false, removeOrphans: false, scale: {}, startStopped: true };
    const r = await streamStack(client, `/stacks/${model.name}/up`, { model, options, registryAuth: await stackAuths(model) }, p);
    if (!r.ok) return 1;
  }
  const suffix = Math.random().toString(16).slice(2, 8);
  const name = str(p, 'name') ?? `${model.name}-${service}-run-${suffix}`;
  const tty = !bool(p, 'no-TTY') && (bool(p, 'tty') || (process.stdin.isTTY === true && process.stdout.isTTY === true));
  const interactive = bool(p, 'interactive') || tty;
  const ep = str(p, 'entrypoint');
  const oneOff: OneOffRequest = {
    model, service, name, tty, interactive, autoRemove: bool(p, 'rm'), env: list(p, 'env'),
    ...(command.length > 0 ? { cmd: command } : {}), ...(ep !== undefined ? { entrypoint: ep === '' ? [] : [ep] } : {}),
    ...(str(p, 'user') !== undefined ? { user: str(p, 'user') } : {}), ...(str(p, 'workdir') !== undefined ? { workingDir: str(p, 'workdir') } : {}),
  };
  const created = await client.call<{ Id: string }>('POST', `/stacks/${model.name}/run`, { body: oneOff });
  if (bool(p, 'detach')) {
    await client.call('POST', `/containers/${created.Id}/start`);
    process.stdout.write(`${name}\n`);
    return 0;
  }
  client.close();
  const containers = await import('./containers.js');
  return containers.run('start', ['-a', ...(interactive ? ['-i'] : []), created.Id], ctx.g);
}

async function events(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const { project } = await projectName(p);
  const client = await connectDaemon(ctx.g.host);
  const res = await client.stream('GET', '/events');
  type EngineEventLine = { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number };
  for await (const e of jsonLines<EngineEventLine>(res)) {
    const name = e.Actor.Attributes['name'] ?? '';
    const inProject = e.Actor.Attributes['gantry.project'] === project || (e.Type === 'stack' && e.Actor.ID === project)
      || (e.Type !== 'container' && (name.startsWith(`${project}_`) || name.startsWith(`${project}-`)));
    if (!inProject) continue;
    if (bool(p, 'json')) { process.stdout.write(`${JSON.stringify({ time: new Date(e.timeNano / 1e6).toISOString(), type: e.Type, action: e.Action, id: e.Actor.ID, service: name.slice(project.length + 1).replace(/-\d+$/, ''), attributes: e.Actor.Attributes })}\n`); continue; }
    const attrs = Object.entries(e.Actor.Attributes).map(([k, v]) => `${k}=${v}`).join(', ');
    process.stdout.write(`${new Date(e.timeNano / 1e6).toISOString()} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
  }
  return 0;
}

/** The stored registry credentials `up` may need to pull the stack's images (config.json is read only then). */
async function stackAuths(model: StackModel): Promise<Record<string, import('../../engine/registry/auth-header.js').AuthConfig>> {
  const images = Object.values(model.services).flatMap((s) => (s.image === undefined ? [] : [s.image]));
  if (images.length === 0) return {};
  const { authsForImages } = await import('../docker-config.js');
  return authsForImages(images);
}

/** `stack pull` / `stack push [SERVICE...]`: each distinct image of the services, one after the other. */
async function imageExists(client: DaemonClient, image: string): Promise<boolean> {
  try {
    await client.call('GET', `/images/${encodeURIComponent(image)}/json`);
    return true;
  } catch (e) {
    if (e instanceof GantryError && (e.code === 'IMAGE_NOT_FOUND' || e.code === 'NOT_FOUND')) return false;
    throw e;
  }
}

/** Before an up: services with `build:` are built, always with --build or pull_policy build, else when their image is missing. */
async function buildForUp(client: DaemonClient, model: StackModel, named: readonly string[], always: boolean): Promise<boolean> {
  const selected = named.length > 0 ? [...named] : Object.keys(model.services);
  const toBuild = [];
  for (const name of selected.sort()) {
    const svc = model.services[name];
    if (svc?.build === undefined || svc.image === undefined) continue;
    if (always || svc.pull_policy === 'build' || !(await imageExists(client, svc.image))) toBuild.push(name);
  }
  return toBuild.length === 0 || buildServices(client, model, toBuild, { noCache: false, pull: false, quiet: false });
}

/** Cap on one build secret's file (the same as gantry build --secret's). */
const MAX_BUILD_SECRET_BYTES = 64 * 1024;

/**
 * `build.secrets` of a service, by the id the build sees: the top-level secret's `file:` (opened without following
 * a link, capped), `environment:` (the CLI's variable) or `content:`. Values are never echoed.
 */
export function buildSecretsOf(model: StackModel, service: string, env: Readonly<Record<string, string | undefined>>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const { source, id } of model.services[service]?.build?.secrets ?? []) {
    const obj = model.secrets[source];
    if (obj === undefined) throw new GantryError('INVALID_ARGUMENT', `service ${service}: build secret ${source} is not defined under top-level secrets`, { hint: 'declare it: secrets: { NAME: { file: ./path } }' });
    // environment first: the model may already hold its value as content ('' when unset), and a build must not get ''
    if (obj.environment !== undefined) {
      const v = env[obj.environment];
      if (v === undefined) throw new GantryError('INVALID_ARGUMENT', `service ${service}: build secret ${source} takes the variable ${obj.environment}, which is not set`, { hint: `set ${obj.environment} in the environment of gantry` });
      out.set(id, Buffer.from(v, 'utf8'));
    } else if (obj.content !== undefined) out.set(id, Buffer.from(obj.content, 'utf8'));
    else if (obj.file !== undefined) {
      let fd: number;
      try { fd = openSync(obj.file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK); } catch {
        throw new GantryError('NOT_FOUND', `service ${service}: build secret ${source}: ${obj.file} cannot be opened (missing, or a symbolic link)`, { hint: 'point file: at a regular file' });
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) throw new GantryError('INVALID_ARGUMENT', `service ${service}: build secret ${source}: ${obj.file} is not a regular file`, { hint: 'point file: at a regular file' });
        if (st.size > MAX_BUILD_SECRET_BYTES) throw new GantryError('TOO_LARGE', `service ${service}: build secret ${source}: ${obj.file} is larger than ${MAX_BUILD_SECRET_BYTES} bytes`, { hint: 'secrets are small (tokens, keys)' });
        out.set(id, readFileSync(fd));
      } finally {
        closeSync(fd);
      }
    } else throw new GantryError('UNSUPPORTED', `service ${service}: build secret ${source} has no file, environment or content`, { hint: 'external secrets cannot be given to a build' });
  }
  return out;
}

/** Builds the services' images (`build:`), tagged with the service's image and `build.tags`; false after a printed Dockerfile error. */
async function buildServices(client: DaemonClient, model: StackModel, services: readonly string[], o: { noCache: boolean; pull: boolean; quiet: boolean }): Promise<boolean> {
  const { directoryContext, postBuild } = await import('./build.js');
  for (const name of services) {
    const svc = model.services[name]!;
    const b = svc.build!;
    process.stderr.write(`Building ${name}\n`);
    const ctx = await directoryContext(b.context, b.dockerfile_inline !== undefined ? { inline: Buffer.from(b.dockerfile_inline) }
      : { file: b.dockerfile === undefined ? undefined : resolvePath(b.context, b.dockerfile) });
    const id = await postBuild(client, ctx, {
      tags: [svc.image!, ...b.tags], buildArgs: new Map(Object.entries(b.args)), target: b.target, noCache: o.noCache, pull: o.pull,
      labels: b.labels, quiet: o.quiet, network: b.network === undefined || b.network === 'none' ? 'none' : b.network === 'host' ? 'host' : 'default',
      secrets: buildSecretsOf(model, name, process.env),
    });
    if (id === undefined) return false;
  }
  return true;
}

/** `stack build [--no-cache] [--pull] [SERVICE...]`: the services with `build:`. */
async function stackBuild(ctx: Ctx): Promise<number> {
  const { p } = ctx;
  const model = (await loadModel(p))!;
  const unknown = p.positionals.filter((s) => model.services[s] === undefined);
  if (unknown.length > 0) throw usageError(`no such service: ${unknown.join(', ')}`, `services: ${Object.keys(model.services).sort().join(', ')}`);
  const services = (p.positionals.length > 0 ? p.positionals : Object.keys(model.services).sort()).filter((s) => model.services[s]?.build !== undefined);
  if (services.length === 0) {
    process.stderr.write('no service of the stack has a build section\n');
    return 0;
  }
  const client = await connectDaemon(ctx.g.host);
  return (await buildServices(client, model, services, { noCache: bool(p, 'no-cache'), pull: bool(p, 'pull'), quiet: bool(p, 'quiet') })) ? 0 : 1;
}

async function pullOrPush(ctx: Ctx): Promise<number> {
  const { p, verb } = ctx;
  const model = (await loadModel(p))!;
  const unknown = p.positionals.filter((s) => model.services[s] === undefined);
  if (unknown.length > 0) throw usageError(`no such service: ${unknown.join(', ')}`, `services: ${Object.keys(model.services).sort().join(', ')}`);
  const services = p.positionals.length > 0 ? p.positionals : Object.keys(model.services).sort();
  const images = [...new Set(services.flatMap((s) => { const svc = model.services[s]!; return svc.image === undefined || (verb === 'pull' && svc.pull_policy === 'build') ? [] : [svc.image]; }))];
  const client = await connectDaemon(ctx.g.host);
  const registry = await import('./registry.js');
  const ignore = bool(p, verb === 'pull' ? 'ignore-pull-failures' : 'ignore-push-failures');
  let status = 0;
  for (const image of images) {
    try {
      if (verb === 'pull') await registry.pullImage(client, image, { quiet: bool(p, 'quiet') });
      else await registry.pushImage(client, image, { allTags: false, quiet: bool(p, 'quiet') });
    } catch (e) {
      if (!ignore) throw e;
      process.stderr.write(`${image}: ${e instanceof Error ? e.message : String(e)}\n`);
      status = 1;
    }
  }
  return ignore ? 0 : status;
}
