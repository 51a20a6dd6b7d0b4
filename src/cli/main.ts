// gantry: the CLI. Parses the global flags, then loads only the command that runs (start-up stays light).
import { usageError } from '../common/errors.js';
import type { HelpRequested } from './args.js';
import { reportError } from './output.js';

/** Commands whose first argument is a verb (`network create`, `volume ls`, `stack up`). */
const GROUPS = new Set(['network', 'volume', 'stack', 'system', 'builder', 'deploy']);

/** `--help` of the commands that take no flags (or groups asked without a verb): answered without a daemon. */
const USAGE: Record<string, string> = {
  wait: 'gantry wait CONTAINER...            block until the containers stop; print their exit codes',
  pause: 'gantry pause CONTAINER...           freeze every process of the containers',
  unpause: 'gantry unpause CONTAINER...         thaw them',
  top: 'gantry top CONTAINER                the processes of a running container',
  port: 'gantry port CONTAINER [PORT[/PROTO]] published ports of a container',
  version: 'gantry version [--client]           client and daemon versions (--client, or gantry --version: the client\'s only, no daemon)',
  info: 'gantry info                         what the daemon runs and knows (cgroups, warnings)',
  tag: 'gantry tag SOURCE[:TAG] TARGET[:TAG] another name for an image',
  daemon: 'gantry daemon                       run gantryd in the foreground (GANTRY_ROOT, GANTRY_HOST, GANTRY_PREFIX)',
  help: 'gantry help                         the list of commands',
  network: 'gantry network create|ls|rm|inspect|connect|disconnect|prune [OPTIONS]   (add --help after the verb for its flags)',
  volume: 'gantry volume create|ls|rm|inspect|prune [OPTIONS]   (add --help after the verb for its flags)',
  system: 'gantry system df|prune [OPTIONS]   (add --help after the verb for its flags)',
  builder: 'gantry builder prune [-f]   remove the build cache',
  deploy: 'gantry deploy add|ls|status|history|rollback|suspend|resume|sync|rm [OPTIONS]   deployments from git\n  (add --help after the verb for its flags)',
  stack: 'gantry stack [-f FILE] [-p PROJECT] config|up|down|watch|ps|logs|restart|stop|start|kill|rm|pause|unpause|exec|run|top|port|images|events|ls|pull|push|build|convert|deploy [OPTIONS]\n  (add --help after the verb for its flags)',
};

export interface GlobalOptions {
  host: string | undefined;
}

type CommandModule = { run: (cmd: string, args: string[], g: GlobalOptions) => Promise<number> };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  run: () => import('./commands/containers.js'), create: () => import('./commands/containers.js'),
  start: () => import('./commands/containers.js'), stop: () => import('./commands/containers.js'),
  restart: () => import('./commands/containers.js'), kill: () => import('./commands/containers.js'),
  rm: () => import('./commands/containers.js'), wait: () => import('./commands/containers.js'),
  pause: () => import('./commands/containers.js'), unpause: () => import('./commands/containers.js'),
  ps: () => import('./commands/containers.js'), logs: () => import('./commands/containers.js'),
  exec: () => import('./commands/containers.js'), top: () => import('./commands/containers.js'),
  stats: () => import('./commands/containers.js'), inspect: () => import('./commands/inspect.js'),
  images: () => import('./commands/images.js'), import: () => import('./commands/images.js'),
  tag: () => import('./commands/images.js'), rmi: () => import('./commands/images.js'),
  commit: () => import('./commands/snapshots.js'), history: () => import('./commands/snapshots.js'),
  diff: () => import('./commands/snapshots.js'), export: () => import('./commands/snapshots.js'),
  save: () => import('./commands/snapshots.js'), load: () => import('./commands/snapshots.js'),
  cp: () => import('./commands/cp.js'),
  system: () => import('./commands/prune.js'), 'image-prune': () => import('./commands/prune.js'),
  'container-prune': () => import('./commands/prune.js'), 'volume-prune': () => import('./commands/prune.js'),
  pull: () => import('./commands/registry.js'), push: () => import('./commands/registry.js'),
  login: () => import('./commands/registry.js'), logout: () => import('./commands/registry.js'),
  volume: () => import('./commands/volumes.js'),
  network: () => import('./commands/networks.js'), port: () => import('./commands/networks.js'),
  version: () => import('./commands/system.js'), info: () => import('./commands/system.js'), events: () => import('./commands/system.js'),
  daemon: () => import('./commands/system.js'), help: () => import('./commands/system.js'),
  build: () => import('./commands/build.js'), builder: () => import('./commands/build.js'),
  deploy: () => import('./commands/deploy.js'),
  stack: () => import('./commands/stack.js'), up: () => import('./commands/stack.js'), down: () => import('./commands/stack.js'), watch: () => import('./commands/stack.js'),
};

/** `gantry container ls` → `ps`, `gantry image ls` → `images`, like docker's management commands. */
function normalize(argv: string[]): string[] {
  const [group, verb, ...rest] = argv;
  if ((group === 'image' || group === 'container' || group === 'volume') && verb === 'prune') return [`${group}-prune`, ...rest];
  if (group === 'container' && verb) return [verb === 'ls' || verb === 'list' ? 'ps' : verb, ...rest];
  if (group === 'image' && verb) return [verb === 'ls' || verb === 'list' ? 'images' : verb === 'rm' ? 'rmi' : verb, ...rest];
  return argv;
}

/** The global flags, then the command's words (normalised). */
function splitGlobal(argv: string[]): { g: GlobalOptions; rest: string[] } {
  const g: GlobalOptions = { host: undefined };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-H' || a === '--host') g.host = argv[++i];
    else if (a.startsWith('--host=')) g.host = a.slice(7);
    // Like `docker --version`: one line, the client's version, no daemon (`gantry version` asks the daemon too).
    else if (a === '-v' || a === '--version') return { g, rest: ['version', '--line'] };
    else if (a === '-h' || a === '--help') return { g, rest: ['help'] };
    else break;
  }
  return { g, rest: normalize(argv.slice(i)) };
}

/** The CLI's start-up snapshots (bin/gantry, src/cli/snapshot/), and `modules` for the ES module build. */
export type SnapshotKind = 'core' | 'containers' | 'stack' | 'modules';

/** Commands of the stack snapshot: the stack loader and its validator stay out of the core one. */
const STACK_COMMANDS = new Set(['stack', 'up', 'down', 'watch', 'deploy']);

/** Commands of the containers snapshot (commands/containers.ts; the core snapshot holds them too). */
const CONTAINER_COMMANDS = new Set(['run', 'create', 'start', 'stop', 'restart', 'kill', 'rm', 'wait', 'pause', 'unpause', 'ps', 'logs', 'exec', 'top', 'stats']);

/**
 * Where a command runs from. The foreground daemon and what loads the Kubernetes client (an ES-module-only
 * package; a snapshot has no ES module loader) run from the modules. bin/gantry applies the same rule to the
 * first word that is not a global flag, without starting node; keep the two in step (and the snapshot bundles'
 * contents, scripts/build-cli-snapshot.mjs).
 */
export function snapshotFor(argv: string[]): SnapshotKind {
  const { rest } = splitGlobal(argv);
  const [cmd, ...words] = rest;
  if (cmd === 'daemon') return words.includes('--help') ? 'core' : 'modules';
  if (cmd === 'stack' && (words.includes('convert') || words.includes('deploy'))) return 'modules';
  if (cmd !== undefined && CONTAINER_COMMANDS.has(cmd)) return 'containers';
  return cmd !== undefined && STACK_COMMANDS.has(cmd) ? 'stack' : 'core';
}

/** Whether the snapshot `kind` holds what `snapshotFor` chose: the core one also holds the container commands. */
export function snapshotHolds(kind: SnapshotKind, wanted: SnapshotKind): boolean {
  return wanted === kind || (kind === 'core' && wanted === 'containers');
}

/** Output into a pipe whose reader left (`gantry ps | head`): stop quietly, as other CLIs do (status 141, SIGPIPE's). */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(141);
      throw e;
    });
  }
}

/** GANTRY_TRACE_HTTP=1 also marks when the command's code starts and when it leaves (ms since the process started). */
function traceMark(what: string): void {
  if (process.env['GANTRY_TRACE_HTTP'] === '1') process.stderr.write(`gantry: ${what} at ${performance.now().toFixed(1)} ms\n`);
}

export async function main(argv: string[]): Promise<void> {
  traceMark('main');
  quietOnClosedPipe();
  let status: number;
  try {
    const { g, rest } = splitGlobal(argv);
    const cmd = rest[0] ?? 'help';
    const load = COMMANDS[cmd];
    if (!load) throw usageError(`unknown command "${cmd}"`, 'run `gantry help` for the list of commands');
    // Asking for help never starts a daemon (commands that connect before they parse their flags included).
    const own = rest.slice(1);
    if (own.slice(0, own.includes('--') ? own.indexOf('--') : own.length).includes('--help')) process.env['GANTRY_AUTOSTART'] = '0';
    const usage = USAGE[cmd];
    if (usage !== undefined && rest[1] === '--help' && !(GROUPS.has(cmd) && rest.length > 2)) {
      process.stdout.write(`Usage: ${usage}\n`);
      return finish(0);
    }
    const mod = await load();
    try {
      status = await mod.run(cmd, rest.slice(1), g);
    } catch (e) {
      // A command without help text of its own answers --help with the flags it parsed (args.js is loaded by every
      // flag-taking command already; main does not load it up front, CLI start-up stays light).
      if (!(e instanceof Error) || e.name !== 'HelpRequested') throw e;
      const { formatFlags } = await import('./args.js');
      const words = rest.slice(0, 1 + (GROUPS.has(cmd) && rest[1] !== undefined && !rest[1].startsWith('-') ? 1 : 0));
      process.stdout.write(`Usage: gantry ${words.join(' ').replace(/^(image|container|volume)-prune$/, '$1 prune')} [OPTIONS]${cmd === 'stack' || cmd === 'up' || cmd === 'down' || cmd === 'watch' ? '' : ' [ARG...]'}\n\n${formatFlags((e as HelpRequested).specs)}`);
      status = 0;
    }
  } catch (e) {
    status = reportError(e);
  }
  await finish(status);
}

async function finish(status: number): Promise<never> {
  // Streams (attach, logs -f) and keep-alive sockets may hold the loop open; the command decided, so leave now,
  // once stdout and stderr are flushed: writes to a pipe are asynchronous, and exit would cut them short.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => {
    if (s.destroyed || !s.writable) resolve();
    else s.write('', () => resolve());
  })));
  traceMark('exit');
  process.exit(status);
}
