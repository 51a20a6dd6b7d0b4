// gantry: the CLI. Parses the global flags, then loads only the command that runs (start-up stays light).
import { usageError } from '../common/errors.js';
import { reportError } from './output.js';

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
  volume: () => import('./commands/volumes.js'),
  network: () => import('./commands/networks.js'), port: () => import('./commands/networks.js'),
  version: () => import('./commands/system.js'), info: () => import('./commands/system.js'), events: () => import('./commands/system.js'),
  daemon: () => import('./commands/system.js'), help: () => import('./commands/system.js'),
  stack: () => import('./commands/stack.js'), up: () => import('./commands/stack.js'), down: () => import('./commands/stack.js'),
};

/** `gantry container ls` → `ps`, `gantry image ls` → `images`, like docker's management commands. */
function normalize(argv: string[]): string[] {
  const [group, verb, ...rest] = argv;
  if (group === 'container' && verb) return [verb === 'ls' || verb === 'list' ? 'ps' : verb, ...rest];
  if (group === 'image' && verb) return [verb === 'ls' || verb === 'list' ? 'images' : verb === 'rm' ? 'rmi' : verb, ...rest];
  return argv;
}

export async function main(argv: string[]): Promise<void> {
  let status: number;
  try {
    const g: GlobalOptions = { host: undefined };
    let i = 0;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '-H' || a === '--host') g.host = argv[++i];
      else if (a.startsWith('--host=')) g.host = a.slice(7);
      else if (a === '-v' || a === '--version') { argv = ['version']; i = 0; break; }
      else if (a === '-h' || a === '--help') { argv = ['help']; i = 0; break; }
      else break;
    }
    const rest = normalize(argv.slice(i));
    const cmd = rest[0] ?? 'help';
    const load = COMMANDS[cmd];
    if (!load) throw usageError(`unknown command "${cmd}"`, 'run `gantry help` for the list of commands');
    const mod = await load();
    status = await mod.run(cmd, rest.slice(1), g);
  } catch (e) {
    status = reportError(e);
  }
  // Streams (attach, logs -f) and keep-alive sockets may hold the loop open; the command decided, so leave now,
  // once stdout and stderr are flushed: writes to a pipe are asynchronous, and exit would cut them short.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => {
    if (s.destroyed || !s.writable) resolve();
    else s.write('', () => resolve());
  })));
  process.exit(status);
}
