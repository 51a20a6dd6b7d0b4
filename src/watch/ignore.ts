// What a watch rule leaves alone. A path is ignored when any of these says so: the always-ignored names (`.git/`,
// editor swap/backup/temp files), the build context's `.dockerignore` (relative to the context), the rule's
// `ignore` patterns (relative to the rule's path, .dockerignore syntax). `include`, when given, keeps only files
// matching one of its patterns (directories are still walked unless ignored). Ignored directories are not walked:
// chokidar asks `ignores(path, isDir)` before descending.

import { posix, relative, sep } from 'node:path';
import { IgnoreMatcher, parseDockerignore } from '../engine/build/dockerignore.js';

/** Names no watch ever syncs: VCS metadata and the temp/backup files editors write next to the file they save. */
const ALWAYS_IGNORED_DIRS: ReadonlySet<string> = new Set(['.git', '.hg', '.svn']);
const EDITOR_TEMP: readonly RegExp[] = [
  /^\..*\.sw[a-p]$/u, // Vim swap files (.x.swp, .x.swo … .x.swa)
  /^\..*\.swx$/u, // Vim's swap probe
  /^4913$/u, // Vim's "can I write here" probe
  /~$/u, // Vim/Emacs/nano backups
  /^#.*#$/u, // Emacs auto-save
  /^\.#/u, // Emacs lock files
  /___jb_(tmp|old|bak)___$/u, // JetBrains safe-write
  /\.tmp\.\d+\.\d+$/u, // VS Code-style atomic writes (file.tmp.PID.N)
  /^\.DS_Store$/u,
];

export function isEditorTemp(name: string): boolean {
  return EDITOR_TEMP.some((re) => re.test(name));
}

export interface RuleFilterInput {
  /** The rule's absolute host path. */
  readonly root: string;
  readonly ignore: readonly string[];
  readonly include: readonly string[];
  /** The build context's .dockerignore: its directory and text, when the service has one. */
  readonly dockerignore?: { readonly contextDir: string; readonly text: string } | undefined;
}

const toPosix = (p: string): string => (sep === '/' ? p : p.split(sep).join('/'));

export class RuleFilter {
  readonly root: string;
  private readonly ignore: IgnoreMatcher;
  private readonly include: IgnoreMatcher | undefined;
  private readonly context: { readonly dir: string; readonly matcher: IgnoreMatcher } | undefined;

  constructor(input: RuleFilterInput) {
    this.root = input.root;
    this.ignore = new IgnoreMatcher(parseDockerignore(input.ignore.join('\n'), 'watch ignore'));
    this.include = input.include.length > 0 ? new IgnoreMatcher(parseDockerignore(input.include.join('\n'), 'watch include')) : undefined;
    this.context = input.dockerignore === undefined ? undefined
      : { dir: input.dockerignore.contextDir, matcher: new IgnoreMatcher(parseDockerignore(input.dockerignore.text, '.dockerignore')) };
  }

  /** The rule-relative posix path of an absolute host path; undefined when it is not at or below the rule's root. */
  relative(hostPath: string): string | undefined {
    const rel = relative(this.root, hostPath);
    if (rel === '') return '';
    if (rel === '..' || rel.startsWith(`..${sep}`) || posix.isAbsolute(rel)) return undefined;
    return toPosix(rel);
  }

  /** True when `hostPath` is ignored (for a directory: nothing below it is watched or synced). */
  ignores(hostPath: string, isDir: boolean): boolean {
    const rel = this.relative(hostPath);
    if (rel === undefined) return true;
    if (rel === '') return false;
    const parts = rel.split('/');
    if (parts.some((p) => ALWAYS_IGNORED_DIRS.has(p))) return true;
    if (isEditorTemp(parts[parts.length - 1]!)) return true;
    if (this.ignore.excludes(rel)) return true;
    if (this.context !== undefined) {
      const inContext = relative(this.context.dir, hostPath);
      if (inContext !== '' && !inContext.startsWith('..') && this.context.matcher.excludes(toPosix(inContext))) return true;
    }
    if (!isDir && this.include !== undefined && !this.include.excludes(rel)) return true;
    return false;
  }
}
