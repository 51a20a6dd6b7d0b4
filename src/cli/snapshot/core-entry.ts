// The CLI's core start-up snapshot (dist/cli/gantry.blob): every command but the stack family, whose loader and
// schema validator would make this blob, and so every start, larger. The container commands have a smaller
// snapshot of their own (run-entry.ts); this one holds them too (`gantry container ls` starts here). Loaded and warmed at build time: the
// dispatcher, the container commands, the build command with a parsed Dockerfile and a packed context.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseDockerfile } from '../../engine/build/parse.js';
import { directoryContext } from '../commands/build.js';
import { parseArgs } from '../args.js';
import { DaemonClient } from '../client.js';
import { buildCreateBody, CREATE_FLAGS } from '../commands/containers.js';
import '../commands/images.js';
import { readAll } from '../http.js';
import { setMain, warm } from './runtime.js';

parseDockerfile('# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM ${BASE} AS base\nRUN --mount=type=cache,target=/c echo hi > /x\nCOPY --chown=1:1 a b /app/\nENV A=1 B="two words"\nWORKDIR /app\nEXPOSE 80/tcp\nHEALTHCHECK CMD ["true"]\nCMD ["sh", "-c", "echo $A"]\n', 'Dockerfile');
// `run`'s own path before its first request (flags, the create body) and its JSON POST: compiled now, not at each run
buildCreateBody(parseArgs(['--rm', '--name', 'w', '-e', 'A=1', '-v', '/a:/b', '-p', '80:80', '--network', 'none', 'busybox', 'true'], CREATE_FLAGS, { stopAfterPositionals: 1 }));
warm(async (dir, socket) => {
  const client = new DaemonClient(`unix://${socket}`);
  await client.call('POST', '/containers/create', { query: { name: 'w' }, body: { Image: 'busybox' } });
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY a /a\n');
  writeFileSync(join(dir, 'a'), 'a\n');
  const ctx = await directoryContext(dir, {});
  if (!Buffer.isBuffer(ctx.body)) await readAll(ctx.body as Readable);
});
setMain('core');
