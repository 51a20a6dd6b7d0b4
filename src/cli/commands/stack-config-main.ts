// A tiny stand-alone entry for `stack config` (used by bench/stack.mjs to measure the whole process without
// the rest of the CLI): node dist/src/cli/commands/stack-config-main.js [-f FILE]... [-p NAME]
// [--profile P]... [--env-file F]... [--project-directory D] [--format json] [--services] [--volumes]
// [--hash SERVICE] [--strict]

import { stackConfigCommand } from './stack-config.js';

function parse(argv: readonly string[]): Parameters<typeof stackConfigCommand>[0] {
  const files: string[] = [];
  const profiles: string[] = [];
  const envFiles: string[] = [];
  let projectName: string | undefined;
  let projectDirectory: string | undefined;
  let format: 'yaml' | 'json' = 'yaml';
  let services = false;
  let volumes = false;
  let hash: string | undefined;
  let strict = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-f' || a === '--file') files.push(next());
    else if (a === '-p' || a === '--project-name') projectName = next();
    else if (a === '--profile') profiles.push(next());
    else if (a === '--env-file') envFiles.push(next());
    else if (a === '--project-directory') projectDirectory = next();
    else if (a === '--format') format = next() === 'json' ? 'json' : 'yaml';
    else if (a === '--services') services = true;
    else if (a === '--volumes') volumes = true;
    else if (a === '--hash') hash = next();
    else if (a === '--strict') strict = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return { files, profiles, envFiles, projectName, projectDirectory, format, services, volumes, hash, strict };
}

let status: number;
try {
  status = await stackConfigCommand(parse(process.argv.slice(2)));
} catch (e) {
  process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
  status = 2;
}
// Like the gantry CLI: the command is done, so leave now (a module file handle the loader has yet to close
// would otherwise hold the process ~10 ms). Writes to stdout/stderr (pipe, tty or file) are synchronous here.
process.exit(status);
