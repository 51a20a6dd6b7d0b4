// version, info, daemon (foreground), help.
import { usageError } from '../../common/errors.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';

const HELP = `Usage: gantry [-H unix:///path.sock] COMMAND

Containers:  run create start stop restart kill rm wait pause unpause ps logs exec top stats inspect port
Images:      images import tag rmi
Volumes:     volume create|ls|rm|inspect
Networks:    network create|ls|rm|inspect|connect|disconnect|prune
Stacks:      stack up|down|ps|logs|config|restart|stop|start|kill|rm|pause|unpause|exec|run|top|port|images|events|ls
             (up, down: shortcuts; stack options -f, -p, --profile, --env-file, --project-directory)
System:      version info daemon help

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
      const client = await connectDaemon(g.host);
      const v = await client.call<{ Version: string; ApiVersion: string; KernelVersion: string }>('GET', '/version');
      process.stdout.write(`Client:\n Version:     0.1.0\n Node:        ${process.version}\n\nServer: Gantry Engine\n Version:     ${v.Version}\n API version: ${v.ApiVersion}\n Kernel:      ${v.KernelVersion}\n`);
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
