// The CLI's start-up snapshot of the container commands (dist/cli/gantry-run.blob): `run`, `ps`, `exec`, `logs` and
// the other verbs of commands/containers.ts, without the build, image and stack commands: each start deserializes
// less than from the core snapshot (~0.4 MB of heap, ~2 ms of CPU per `run` here). Warmed at build time: run's path
// before its first request (its flags, the create body, a JSON POST) and the requests every command makes.
import { parseArgs } from '../args.js';
import { DaemonClient } from '../client.js';
import { buildCreateBody, CREATE_FLAGS } from '../commands/containers.js';
import { setMain, warm } from './runtime.js';

buildCreateBody(parseArgs(['--rm', '--name', 'w', '-e', 'A=1', '-v', '/a:/b', '-p', '80:80', '--network', 'none', 'busybox', 'true'], CREATE_FLAGS, { stopAfterPositionals: 1 }));
warm(async (_dir, socket) => {
  const client = new DaemonClient(`unix://${socket}`);
  await client.call('POST', '/containers/create', { query: { name: 'w' }, body: { Image: 'busybox' } });
});
setMain('containers');
