// `gantry stack VERB` (and the `up`/`down` shortcuts). Stack options are accepted before or after the verb.
import { usageError } from '../../common/errors.js';
import { bool, list, parseArgs, str, type FlagSpec } from '../args.js';
import type { GlobalOptions } from '../main.js';

const STACK_FLAGS: FlagSpec[] = [
  { name: 'file', short: 'f', kind: 'list' }, { name: 'project-name', short: 'p', kind: 'string' },
  { name: 'profile', kind: 'list' }, { name: 'env-file', kind: 'list' }, { name: 'project-directory', kind: 'string' },
];

const CONFIG_FLAGS: FlagSpec[] = [
  { name: 'format', kind: 'string' }, { name: 'services', kind: 'bool' }, { name: 'volumes', kind: 'bool' }, { name: 'hash', kind: 'string' },
  { name: 'quiet', short: 'q', kind: 'bool' },
];

export async function run(cmd: string, args: string[], _g: GlobalOptions): Promise<number> {
  const verbs = ['config'];
  const all = cmd === 'stack' ? args : [cmd, ...args];
  const verbIndex = all.findIndex((a) => verbs.includes(a) || a === 'up' || a === 'down');
  const verb = verbIndex < 0 ? undefined : all[verbIndex];
  if (verb === undefined) throw usageError('missing stack command', 'gantry stack config|up|down [OPTIONS]');
  const rest = [...all.slice(0, verbIndex), ...all.slice(verbIndex + 1)];
  switch (verb) {
    case 'config': {
      const p = parseArgs(rest, [...STACK_FLAGS, ...CONFIG_FLAGS]);
      const { stackConfigCommand } = await import('./stack-config.js');
      const format = str(p, 'format') ?? 'yaml';
      if (format !== 'yaml' && format !== 'json') throw usageError(`invalid --format "${format}"`, 'use yaml or json');
      return stackConfigCommand({
        files: list(p, 'file'), projectName: str(p, 'project-name'), projectDirectory: str(p, 'project-directory'),
        profiles: list(p, 'profile'), envFiles: list(p, 'env-file'), format, services: bool(p, 'services'), volumes: bool(p, 'volumes'),
        hash: str(p, 'hash'),
      });
    }
    default:
      throw usageError(`\`gantry ${verb}\` is not implemented yet`, 'the stack reconciler (issue 5) is in progress; `gantry stack config` works');
  }
}
