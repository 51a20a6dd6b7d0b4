// .dockerignore as Docker reads it (moby's dockerignore + patternmatcher rules): a line starting with `#` is
// a comment; lines are trimmed; `!` makes an exception; each pattern is cleaned like a path (`./a` → `a`,
// `a/../b` → `b`, a leading `/` dropped); `*` and `?` never cross `/`, `**` crosses any number of them,
// `\` escapes the next character (Linux); a pattern that matches a directory excludes all below it; the last
// pattern that matches decides. Case-sensitive, as on Linux.
//
// Why not @balena/dockerignore (evaluated): it ignores case unless told not to, reads `\` as a Windows path
// separator (so `a\b` matches `a/b`, unlike Docker on Linux), and cannot say which pattern excluded a path,
// nor whether an exception could re-include something below an excluded directory (the walker's pruning).

import { posix } from 'node:path';
import { GantryError } from '../../common/errors.js';

export interface IgnorePattern {
  /** The cleaned pattern, without `!`. */
  readonly pattern: string;
  readonly exception: boolean;
  /** 1-based line in the .dockerignore file. */
  readonly line: number;
  readonly regex: RegExp;
}

/** Where Docker looks for the ignore file: `NAME.dockerignore` beside `-f NAME` wins over the context's. */
export function ignoreFileCandidates(contextDir: string, dockerfilePath: string | undefined): string[] {
  const out: string[] = [];
  if (dockerfilePath !== undefined && dockerfilePath !== '-') out.push(`${dockerfilePath}.dockerignore`);
  out.push(posix.join(contextDir, '.dockerignore'));
  return out;
}

const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * A cleaned pattern as a RegExp over a whole context-relative path, with moby's patternmatcher rules: `*` and
 * `?` stop at `/`; `**` crosses any number of them (`a/**` is a prefix, a leading `**` a suffix: `**foo`
 * matches `barfoo`); `[…]` classes as in Go's regexp (`[^a]` negates); `\` escapes the next character. Also the glob syntax of
 * COPY/ADD sources (BuildKit matches those with the same matcher). Undefined for a pattern that is not valid.
 */
export function patternRegex(pattern: string): RegExp | undefined {
  const chars = [...pattern];
  let re = '^';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  let inClass = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') {
      if (chars[i + 1] === '*') {
        const first = i === 0;
        i++;
        if (chars[i + 1] === '/') i++;
        if (i + 1 >= chars.length) {
          if (type === 'exact') type = 'prefix';
          else { re += '.*'; type = 'regexp'; }
        } else { re += '(.*/)?'; type = 'regexp'; }
        if (first) type = 'suffix';
      } else { re += '[^/]*'; type = 'regexp'; }
    } else if (ch === '?') { re += '[^/]'; type = 'regexp'; }
    else if (ch === '\\') {
      const next = chars[i + 1];
      if (next === undefined) re += '\\\\';
      else { re += literal(next); i++; type = 'regexp'; }
    } else if (ch === '[' || ch === ']') { re += ch; inClass = ch === '['; type = 'regexp'; }
    else if (ch === '^' && inClass) re += ch;
    else re += literal(ch);
  }
  let source: string;
  if (type === 'exact') source = `^${literal(pattern)}$`;
  else if (type === 'prefix') source = `^${literal(pattern.slice(0, -2))}`;
  else if (type === 'suffix') {
    const suffix = pattern.slice(2);
    source = suffix === '' ? '^' : suffix.startsWith('/') ? `^(?:.*${literal(suffix)}|${literal(suffix.slice(1))})$` : `^.*${literal(suffix)}$`;
    if (/[*?[\]\\]/.test(suffix)) source = `${re}$`;
  } else source = `${re}$`;
  try {
    return new RegExp(source, 'u');
  } catch {
    return undefined;
  }
}

/** Parses the text of a .dockerignore file. `fileName` is named in errors. */
export function parseDockerignore(text: string, fileName = '.dockerignore'): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    let p = raw.trim();
    if (p === '') return;
    const exception = p.startsWith('!');
    if (exception) p = p.slice(1).trim();
    if (p === '') {
      throw new GantryError('BUILD_CONTEXT_INVALID', `${fileName}:${index + 1}: illegal exclusion pattern "!"`, { hint: 'write !PATTERN to re-include paths, or remove the line' });
    }
    p = posix.normalize(p);
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    if (p.length > 1 && p.startsWith('/')) p = p.replace(/^\/+/, '');
    const regex = patternRegex(p);
    if (regex === undefined) {
      throw new GantryError('BUILD_CONTEXT_INVALID', `${fileName}:${index + 1}: syntax error in pattern ${JSON.stringify(p)}`, { hint: 'check the [ ] classes and escapes of that line' });
    }
    out.push({ pattern: p, exception, line: index + 1, regex });
  });
  return out;
}

export interface IgnoreVerdict {
  readonly excluded: boolean;
  /** The pattern that decided, when one matched. */
  readonly by: IgnorePattern | undefined;
}

/** Matches context-relative paths (posix, no leading `./`) against the patterns. */
export class IgnoreMatcher {
  readonly hasExceptions: boolean;

  constructor(readonly patterns: readonly IgnorePattern[]) {
    this.hasExceptions = patterns.some((p) => p.exception);
  }

  static fromText(text: string, fileName?: string): IgnoreMatcher {
    return new IgnoreMatcher(parseDockerignore(text, fileName));
  }

  verdict(path: string): IgnoreVerdict {
    const rel = posix.normalize(path).replace(/^\.\/|^\/+/, '');
    const parents: string[] = [];
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let excluded = false;
    let by: IgnorePattern | undefined;
    for (const p of this.patterns) {
      if (p.exception !== excluded) continue;
      const match = p.regex.test(rel) || parents.some((d) => p.regex.test(d));
      if (match) {
        excluded = !p.exception;
        by = p;
      }
    }
    return { excluded, by };
  }

  excludes(path: string): boolean {
    return this.verdict(path).excluded;
  }
}
