// version, info, daemon (foreground), help.
import { GANTRY_VERSION } from '../../api/version.js';
import { usageError } from '../../common/errors.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';

const HELP = `Usage: gantry [-H unix:///path.sock] COMMAND

Containers:  run create start stop restart kill rm wait pause unpause ps logs exec top stats inspect port
Images:      images import tag rmi
Volumes:     volume create|ls|rm|inspect
Networks:    network create|ls|rm|inspect|connect|disconnect|prune
Stacks:      stack up|down|watch|ps|logs|config|restart|stop|start|kill|rm|pause|unpause|exec|run|top|port|images|events|ls
             (up, down, watch: shortcuts; stack options -f, -p, --profile, --env-file, --project-directory)
Deploy:      deploy add|ls|status|history|rollback|suspend|resume|sync|rm   (a stack from a git repository, kept in step)
System:      version info events daemon help

Environment: GANTRY_HOST (daemon socket), GANTRY_ROOT (state dir, for the daemon), GANTRY_PREFIX (kernel object prefix)
`;

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  switch (cmd) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'daemon': {
      const { daemonMain } = await import('../../daemon/main.js');
      await daemonMain(args);
      return new Promise<number>(() => undefined); // runs until a signal stops it
    }
    case 'version': {
      // `--line`: what `gantry --version` becomes (main.ts splitGlobal), one line like `docker --version`
      if (args.length === 1 && args[0] === '--line') { process.stdout.write(`Gantry version ${GANTRY_VERSION}\n`); return 0; }
      const onlyClient = args.length === 1 && args[0] === '--client';
      if (args.length > 0 && !onlyClient) throw usageError(`unexpected arguments "${args.join(' ')}"`, 'gantry version [--client]');
      const client = `Client:\n Version:     ${GANTRY_VERSION}\n Node:        ${process.version}\n`;
      // --client (and `gantry --version`): what runs here, without a daemon (none is started for it)
      if (onlyClient) { process.stdout.write(client); return 0; }
      const daemon = await connectDaemon(g.host);
      const v = await daemon.call<{ Version: string; ApiVersion: string; KernelVersion: string }>('GET', '/version');
      process.stdout.write(`${client}\nServer: Gantry Engine\n Version:     ${v.Version}\n API version: ${v.ApiVersion}\n Kernel:      ${v.KernelVersion}\n`);
      return 0;
    }
    case 'events': {
      // Docker's `events`: one line per engine event as it happens (containers, health, volumes, networks).
      const { parseArgs, list, str } = await import('../args.js');
      const p = parseArgs(args, [{ name: 'format', kind: 'string' }, { name: 'filter', short: 'f', kind: 'list' }]);
      const filters = new Map<string, string[]>();
      for (const f of list(p, 'filter')) {
        const i = f.indexOf('=');
        if (i <= 0) throw usageError(`invalid filter "${f}"`, 'use KEY=VALUE: type=container, event=die, container=NAME');
        filters.set(f.slice(0, i), [...(filters.get(f.slice(0, i)) ?? []), f.slice(i + 1)]);
      }
      const format = str(p, 'format');
      if (format !== undefined && format !== 'json') throw usageError(`invalid --format "${format}"`, 'use json');
      const client = await connectDaemon(g.host);
      const res = await client.stream('GET', '/events');
      const { jsonLines } = await import('../http.js');
      type EngineEventLine = { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; timeNano: number };
      for await (const e of jsonLines<EngineEventLine>(res)) {
        const name = e.Actor.Attributes['name'] ?? '';
        const keep = (key: string, value: (v: string) => boolean): boolean => !filters.has(key) || filters.get(key)!.some(value);
        if (!keep('type', (v) => v === e.Type) || !keep('event', (v) => e.Action === v || e.Action.startsWith(`${v}:`))
          || !keep('container', (v) => e.Type === 'container' && (name === v || e.Actor.ID.startsWith(v)))) continue;
        if (format === 'json') { process.stdout.write(`${JSON.stringify(e)}\n`); continue; }
        const attrs = Object.entries(e.Actor.Attributes).map(([k, v]) => `${k}=${v}`).join(', ');
        process.stdout.write(`${new Date(e.timeNano / 1e6).toISOString()} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
      }
      return 0;
    }
    case 'info': {
      const client = await connectDaemon(g.host);
      const i = await client.call<Record<string, unknown>>('GET', '/info');
      for (const [k, v] of Object.entries(i)) process.stdout.write(`${k}: ${Array.isArray(v) ? v.join('; ') : String(v)}\n`);
      return 0;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
