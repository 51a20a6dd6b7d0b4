// A small declarative flag parser: docker-style short/long flags, `--flag=value`, repeatable lists,
// combined short booleans (`-it`), and "stop at the first positional" for commands like `run IMAGE CMD...`.
import { usageError } from '../common/errors.js';

export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  /** Long name without dashes, used as the key of the result. */
  name: string;
  short?: string;
  kind: FlagKind;
  /** Other long spellings accepted. */
  aliases?: string[];
  /** One line for --help. */
  help?: string;
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
}

export interface ParseOptions {
  /** After this many positionals, everything else is positional (e.g. `run IMAGE CMD...`: 1). */
  stopAfterPositionals?: number;
}

/** `--help` on a command that has no help text of its own: what it accepts, listed from its flag specs. */
export class HelpRequested extends Error {
  constructor(readonly specs: readonly FlagSpec[]) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

/** The flags of a command, one per line, as `--help` shows them. */
export function formatFlags(specs: readonly FlagSpec[]): string {
  const rows = specs.filter((s) => s.name !== 'help').map((s) => {
    const arg = s.kind === 'bool' ? '' : ' VALUE';
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${arg}`;
    const notes = [...(s.help === undefined ? [] : [s.help]), ...(s.kind === 'list' ? ['repeatable'] : []), ...(s.aliases ?? []).map((a) => `also --${a}`)];
    return notes.length > 0 ? `${left.padEnd(34)} ${notes.join('; ')}` : left;
  });
  return rows.length > 0 ? `Options:\n${rows.map((r) => `  ${r}`).join('\n')}\n` : 'This command takes no options.\n';
}

export function parseArgs(argv: string[], specs: FlagSpec[], opts: ParseOptions = {}): Parsed {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) {
    byLong.set(s.name, s);
    for (const a of s.aliases ?? []) byLong.set(a, s);
    if (s.short) byShort.set(s.short, s);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const set = (spec: FlagSpec, value: string | boolean): void => {
    if (spec.kind === 'list') {
      const prev = flags.get(spec.name);
      flags.set(spec.name, [...(Array.isArray(prev) ? prev : []), String(value)]);
    } else {
      flags.set(spec.name, value);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (opts.stopAfterPositionals !== undefined && positionals.length >= opts.stopAfterPositionals) {
      positionals.push(...argv.slice(i));
      break;
    }
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec && name === 'help' && eq < 0) throw new HelpRequested(specs);
      if (!spec) throw usageError(`unknown flag: --${name}`, 'add --help to the command to list its flags');
      if (spec.kind === 'bool') {
        const v = eq < 0 ? true : !['false', '0'].includes(a.slice(eq + 1));
        set(spec, v);
      } else {
        const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
        if (v === undefined) throw usageError(`flag needs an argument: --${name}`);
        set(spec, v);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      // -it, -p80:80, -e K=V, -m=64m
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]!);
        if (!spec) throw usageError(`unknown shorthand flag: '${a[j]}' in ${a}`, 'see `gantry help` for the flags of each command');
        if (spec.kind === 'bool') { set(spec, true); continue; }
        let v = a.slice(j + 1);
        if (v.startsWith('=')) v = v.slice(1);
        if (v === '') {
          const next = argv[++i];
          if (next === undefined) throw usageError(`flag needs an argument: '${a[j]}' in -${a[j]}`);
          v = next;
        }
        set(spec, v);
        break;
      }
      continue;
    }
    positionals.push(a);
  }
  return { flags, positionals };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}
