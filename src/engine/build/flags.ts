// The `--name[=value]` flags that open an instruction's arguments, and each instruction's allowed set.

import { closeName } from './diagnostics.js';

export interface RawFlag {
  readonly name: string;
  /** undefined for a bare `--name`. */
  readonly value: string | undefined;
  /** Offset of the `--` in the logical line. */
  readonly offset: number;
  readonly length: number;
}

export interface SplitFlags {
  readonly flags: readonly RawFlag[];
  /** The arguments after the flags. */
  readonly rest: string;
  readonly restOffset: number;
}

/**
 * Reads the leading `--flag` words of `text` (which starts at `base` in the logical line). Quotes inside a
 * flag word group spaces and are removed, as Docker's flag reader does; `--` alone ends the flags.
 */
export function splitFlags(text: string, base: number, escape: string): SplitFlags {
  const flags: RawFlag[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /[ \t]/.test(text[i] as string)) i++;
    if (!text.startsWith('--', i)) break;
    const start = i;
    let word = '';
    let quote: string | undefined;
    for (; i < text.length; i++) {
      const ch = text[i] as string;
      if (quote !== undefined) {
        if (ch === quote) quote = undefined;
        else if (ch === escape && i + 1 < text.length) word += text[++i];
        else word += ch;
        continue;
      }
      if (ch === '"' || ch === "'") { quote = ch; continue; }
      if (ch === escape && i + 1 < text.length) { word += text[++i]; continue; }
      if (/[ \t]/.test(ch)) break;
      word += ch;
    }
    if (word === '--') break;
    const body = word.slice(2);
    const eq = body.indexOf('=');
    flags.push({ name: eq < 0 ? body : body.slice(0, eq), value: eq < 0 ? undefined : body.slice(eq + 1), offset: base + start, length: i - start });
  }
  while (i < text.length && /[ \t]/.test(text[i] as string)) i++;
  return { flags, rest: text.slice(i), restOffset: base + i };
}

export type FlagKind = 'string' | 'bool' | 'list';

/** Flags each instruction accepts (BuildKit's set; the rest are refused). */
export const INSTRUCTION_FLAGS: Readonly<Record<string, Readonly<Record<string, FlagKind>>>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'list', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', exclude: 'list', parents: 'bool' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool', exclude: 'list', checksum: 'string', 'keep-git-dir': 'bool' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

export type FlagValues = ReadonlyMap<string, string | boolean | readonly string[]>;

export interface FlagProblem {
  readonly flag: RawFlag;
  readonly message: string;
  readonly hint: string | undefined;
}

/** Checks the flags against `keyword`'s set; returns their values or the first problem. */
export function readFlags(keyword: string, flags: readonly RawFlag[]): { values: FlagValues } | { problem: FlagProblem } {
  const allowed = INSTRUCTION_FLAGS[keyword] ?? {};
  const values = new Map<string, string | boolean | readonly string[]>();
  for (const flag of flags) {
    const kind = allowed[flag.name];
    if (kind === undefined) {
      const names = Object.keys(allowed);
      const close = closeName(flag.name, names);
      const hint = names.length === 0 ? `${keyword} takes no flags`
        : close !== undefined ? `did you mean --${close}? (${keyword} accepts ${names.map((n) => `--${n}`).join(', ')})`
          : `${keyword} accepts ${names.map((n) => `--${n}`).join(', ')}`;
      return { problem: { flag, message: `unknown flag: --${flag.name}`, hint } };
    }
    if (kind === 'list') {
      if (flag.value === undefined) return { problem: { flag, message: `missing a value on flag --${flag.name}`, hint: `write --${flag.name}=VALUE` } };
      values.set(flag.name, [...((values.get(flag.name) as readonly string[] | undefined) ?? []), flag.value]);
      continue;
    }
    if (values.has(flag.name)) return { problem: { flag, message: `duplicate flag specified: --${flag.name}`, hint: 'give it once' } };
    if (kind === 'bool') {
      const v = flag.value === undefined ? 'true' : flag.value.toLowerCase();
      if (v !== 'true' && v !== 'false') return { problem: { flag, message: `expecting a boolean value for flag --${flag.name}, not ${JSON.stringify(flag.value)}`, hint: `write --${flag.name} or --${flag.name}=false` } };
      values.set(flag.name, v === 'true');
      continue;
    }
    if (flag.value === undefined) return { problem: { flag, message: `missing a value on flag --${flag.name}`, hint: `write --${flag.name}=VALUE` } };
    values.set(flag.name, flag.value);
  }
  return { values };
}
