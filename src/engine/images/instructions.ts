// Dockerfile instructions that change an image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
// STOPSIGNAL, USER, VOLUME, WORKDIR): parsed as Docker's parser does, then applied to a config. Used by
// `import --change` and `commit --change`; a Dockerfile builder reuses both halves (parse one line, apply it).
//
// Docker's rules followed here:
// - CMD/ENTRYPOINT take the JSON (exec) form only when the argument parses as a JSON array of strings; anything
//   else is the shell form, run as `/bin/sh -c TEXT` (`CMD [ -s "$X" ] || exit 1` is shell form).
// - ENV/LABEL: `K=V K2="v 2"` sets several; a first word without `=` is the legacy form `ENV K the rest`.
//   Quotes are removed, `\` escapes, and `$VAR`/`${VAR}`/`${VAR:-x}`/`${VAR:+x}` expand from the config's Env
//   (for ENV/LABEL/EXPOSE/STOPSIGNAL/USER/VOLUME/WORKDIR, as Docker does).
// - ENTRYPOINT resets CMD unless CMD was set by an earlier instruction of the same batch.
// - WORKDIR relative to the current one; EXPOSE `80`, `53/udp`, `8000-8002`; VOLUME JSON or words.
import { posix } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { parseSignal } from '../../common/units.js';
import type { ImageConfigFields } from './oci.js';

export const CONFIG_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'] as const;
export type ConfigInstructionName = typeof CONFIG_INSTRUCTIONS[number];

/** One parsed instruction: its name, the argument text as written (trimmed), and the JSON form when it is one. */
export interface ConfigInstruction {
  name: ConfigInstructionName;
  /** The argument text after the keyword, trimmed. */
  args: string;
  /** The argument as a string array when it is a JSON array of strings. */
  json: string[] | undefined;
  /** The whole instruction as written (trimmed), e.g. for ONBUILD and history. */
  original: string;
}

function invalid(text: string, why: string, hint?: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', `invalid instruction "${text}": ${why}`, {
    hint: hint ?? `one of ${CONFIG_INSTRUCTIONS.join(', ')} followed by its arguments, e.g. CMD ["sh"] or ENV A=1 B=2`,
  });
}

/** The argument as a JSON array of strings, or undefined when it is not one (then it is shell form). */
export function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try { value = JSON.parse(text); } catch { return undefined; }
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

/** Parses one instruction line (`CMD ["sh"]`, `env A=1`). Throws INVALID_ARGUMENT naming it. */
export function parseConfigInstruction(text: string): ConfigInstruction {
  const original = text.trim();
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(original);
  if (m === null) throw invalid(text, 'it is empty');
  const keyword = (m[1] ?? '').toUpperCase();
  if (!(CONFIG_INSTRUCTIONS as readonly string[]).includes(keyword)) {
    throw invalid(text, `${keyword} is not a valid change command`);
  }
  const name = keyword as ConfigInstructionName;
  const args = (m[2] ?? '').trim();
  if (args === '') throw invalid(text, `${name} needs an argument`);
  return { name, args, json: parseJsonArray(args), original };
}

// ---------------------------------------------------------------- words: quotes, escapes, variables

/** Splits `args` into words at unquoted blanks; quotes and escapes stay (they are removed by `expandWord`). */
export function splitWords(args: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (let i = 0; i < args.length; i++) {
    const c = args[i] as string;
    if (quote === undefined && /\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c === '\\' && quote !== "'" && i + 1 < args.length) { cur += args[++i] as string; continue; }
    if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (quote === c) quote = undefined;
  }
  if (quote !== undefined) throw invalid(args, `unmatched ${quote}`);
  if (inWord) words.push(cur);
  return words;
}

/** Removes quotes and escapes from a word and expands `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`. */
export function expandWord(word: string, env: ReadonlyMap<string, string>): string {
  let out = '';
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < word.length; i++) {
    const c = word[i] as string;
    if (quote === "'") { if (c === "'") quote = undefined; else out += c; continue; }
    if (c === '\\' && i + 1 < word.length) { out += word[++i] as string; continue; }
    if (c === '"' ) { quote = quote === '"' ? undefined : '"'; continue; }
    if (c === "'" && quote === undefined) { quote = "'"; continue; }
    if (c === '$') {
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}/.exec(word.slice(i));
      if (braced !== null) {
        const value = env.get(braced[1] as string);
        const op = braced[2];
        const arg = braced[3] ?? '';
        if (op === '-') out += value === undefined || value === '' ? expandWord(arg, env) : value;
        else if (op === '+') out += value === undefined || value === '' ? '' : expandWord(arg, env);
        else out += value ?? '';
        i += braced[0].length - 1;
        continue;
      }
      const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(word.slice(i));
      if (plain !== null) {
        out += env.get(plain[1] as string) ?? '';
        i += plain[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** `K=V K2=V2` or the legacy `K rest of the line`, as Docker's parser reads ENV and LABEL. */
export function parseNameValues(ins: ConfigInstruction, env: ReadonlyMap<string, string>): Array<[string, string]> {
  const words = splitWords(ins.args);
  const first = words[0] ?? '';
  if (!first.includes('=')) {
    // Legacy form: the name, then everything after it (blanks inside kept), e.g. `ENV A 1 2` → A="1 2".
    const rest = ins.args.slice(ins.args.indexOf(first) + first.length).trim();
    if (rest === '') throw invalid(ins.original, `${ins.name} names ${first} but gives no value`, `write ${ins.name} ${first}=VALUE`);
    return [[expandWord(first, env), expandWord(rest, env)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw invalid(ins.original, `can't find = in "${w}"; it must be of the form name=value`);
    return [expandWord(w.slice(0, eq), env), expandWord(w.slice(eq + 1), env)];
  });
}

function envMap(config: ImageConfigFields): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of config.Env ?? []) {
    const eq = e.indexOf('=');
    m.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? '' : e.slice(eq + 1));
  }
  return m;
}

/** EXPOSE words: `80`, `80/tcp`, `53/udp`, `8000-8002` → `80/tcp` keys. */
function exposedPorts(ins: ConfigInstruction, env: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const raw of splitWords(ins.args)) {
    const w = expandWord(raw, env);
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (m === null || lo < 1 || hi > 65535 || hi < lo) throw invalid(ins.original, `invalid port "${w}"`, 'EXPOSE PORT[/tcp|udp|sctp] or a range LOW-HIGH');
    const proto = (m[3] ?? 'tcp').toLowerCase();
    for (let p = lo; p <= hi; p++) out.push(`${p}/${proto}`);
  }
  return out;
}

const SHELL = ['/bin/sh', '-c'];

/**
 * Applies instructions in order to a copy of `base` and returns it. `ENTRYPOINT` resets `Cmd` unless a CMD came
 * earlier in `list`. Throws INVALID_ARGUMENT naming the first instruction that is wrong (nothing is applied).
 */
export function applyConfigInstructions(base: ImageConfigFields, list: readonly ConfigInstruction[]): ImageConfigFields {
  const config = structuredClone(base);
  let cmdSet = false;
  for (const ins of list) {
    const env = envMap(config);
    const argv = (): string[] => ins.json ?? [...(config.Shell ?? SHELL), ins.args];
    switch (ins.name) {
      case 'CMD': config.Cmd = argv(); cmdSet = true; break;
      case 'ENTRYPOINT': config.Entrypoint = argv(); if (!cmdSet) delete config.Cmd; break;
      case 'ENV': {
        // A name already set is replaced in place (Docker keeps the order of first definition).
        const next = new Map(env);
        for (const [k, v] of parseNameValues(ins, env)) next.set(k, v);
        config.Env = [...next].map(([k, v]) => `${k}=${v}`);
        break;
      }
      case 'LABEL':
        config.Labels = { ...(config.Labels ?? {}) };
        for (const [k, v] of parseNameValues(ins, env)) config.Labels[k] = v;
        break;
      case 'EXPOSE':
        config.ExposedPorts = { ...(config.ExposedPorts ?? {}) };
        for (const p of exposedPorts(ins, env)) config.ExposedPorts[p] = {};
        break;
      case 'ONBUILD': {
        const inner = /^(\S+)/.exec(ins.args)?.[1]?.toUpperCase() ?? '';
        if (inner === 'ONBUILD' || inner === 'FROM' || inner === 'MAINTAINER') {
          throw invalid(ins.original, `${inner} isn't allowed as an ONBUILD trigger`);
        }
        config.OnBuild = [...(config.OnBuild ?? []), ins.args];
        break;
      }
      case 'STOPSIGNAL': {
        const sig = expandWord(ins.args, env);
        try { parseSignal(sig); } catch { throw invalid(ins.original, `"${sig}" is not a signal`, 'STOPSIGNAL SIGTERM, TERM or a number'); }
        config.StopSignal = sig;
        break;
      }
      case 'USER': config.User = expandWord(ins.args, env); break;
      case 'VOLUME': {
        const paths = ins.json ?? splitWords(ins.args).map((w) => expandWord(w, env));
        if (paths.length === 0 || paths.some((p) => p.trim() === '')) throw invalid(ins.original, 'VOLUME needs a path');
        config.Volumes = { ...(config.Volumes ?? {}) };
        for (const p of paths) config.Volumes[p] = {};
        break;
      }
      case 'WORKDIR': {
        const dir = expandWord(ins.args, env);
        config.WorkingDir = posix.join(dir.startsWith('/') ? '/' : (config.WorkingDir || '/'), dir);
        break;
      }
    }
  }
  return config;
}

/** Parses every text first (so nothing is applied when one is wrong), then applies them. */
export function applyChanges(base: ImageConfigFields, changes: readonly string[]): ImageConfigFields {
  return applyConfigInstructions(base, changes.map(parseConfigInstruction));
}
