// Which stack files to load, and the project directory.

import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

export const STACK_FILE_NAMES = ['gantry.yaml', 'gantry.yml', 'compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const;

/** "-" stands for standard input. */
export const STDIN_FILE = '-';

export interface Discovered {
  /** Absolute paths, or "-" for stdin. */
  readonly files: readonly string[];
  readonly projectDir: string;
}

/** The override file that goes with a discovered file: compose.yaml -> compose.override.yaml. */
export function overrideFileFor(file: string): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.override${ext}`);
}

/** Looks in `dir` and its parents for the first stack file name; returns it with its override, if any. */
export function findStackFiles(dir: string): string[] | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    for (const name of STACK_FILE_NAMES) {
      const f = join(d, name);
      if (existsSync(f)) {
        const o = overrideFileFor(f);
        return existsSync(o) ? [f, o] : [f];
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

export function discover(opts: { files?: readonly string[] | undefined; projectDirectory?: string | undefined; cwd: string; composeFileEnv?: string | undefined }): Discovered | undefined {
  const projectDirectory = opts.projectDirectory === undefined ? undefined : resolve(opts.cwd, opts.projectDirectory);
  let files = opts.files !== undefined && opts.files.length > 0 ? opts.files : undefined;
  if (files === undefined && opts.composeFileEnv !== undefined && opts.composeFileEnv !== '') files = opts.composeFileEnv.split(':').filter((f) => f !== '');
  if (files !== undefined) {
    const abs = files.map((f) => (f === STDIN_FILE ? f : resolve(opts.cwd, f)));
    const first = abs.find((f) => f !== STDIN_FILE);
    return { files: abs, projectDir: projectDirectory ?? (first === undefined || abs[0] === STDIN_FILE ? resolve(opts.cwd) : dirname(first)) };
  }
  const found = findStackFiles(projectDirectory ?? opts.cwd);
  if (found === undefined) return undefined;
  return { files: found, projectDir: projectDirectory ?? dirname(found[0] as string) };
}
