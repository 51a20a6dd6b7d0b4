// Compose-style variable interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg},
// ${VAR:+alt}, ${VAR+alt}, nesting inside the default/alternative/message, and $$ for a literal $.

export type Operator = ':-' | '-' | ':?' | '?' | ':+' | '+';

export type Piece =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly name: string; readonly op: Operator | undefined; readonly arg: readonly Piece[]; readonly offset: number };

export class TemplateSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const OPERATORS: readonly Operator[] = [':-', ':?', ':+', '-', '?', '+'];

/** Parses a template; throws TemplateSyntaxError with the offset of the bad `$`. */
export function parseTemplate(s: string): Piece[] {
  const [pieces, end] = parseUntil(s, 0, false);
  if (end !== s.length) throw new TemplateSyntaxError('unexpected "}"', end);
  return pieces;
}

function parseUntil(s: string, start: number, inBraces: boolean): [Piece[], number] {
  const pieces: Piece[] = [];
  let text = '';
  let i = start;
  const flush = (): void => {
    if (text !== '') pieces.push({ kind: 'text', text });
    text = '';
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (inBraces && c === '}') break;
    if (c !== '$') {
      // Up to the next "$" (or the "}" that may close these braces) in one piece.
      let k = s.indexOf('$', i + 1);
      if (k < 0) k = s.length;
      if (inBraces) {
        const close = s.indexOf('}', i + 1);
        if (close >= 0 && close < k) k = close;
      }
      text += s.slice(i, k);
      i = k;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      text += '$';
      i += 2;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let j = i + 2;
      while (j < s.length && NAME_CHAR.test(s[j] as string)) j++;
      flush();
      pieces.push({ kind: 'var', name: s.slice(i + 1, j), op: undefined, arg: [], offset: i });
      i = j;
      continue;
    }
    if (next === '{') {
      let j = i + 2;
      if (j >= s.length || !NAME_START.test(s[j] as string)) {
        throw new TemplateSyntaxError(s[j] === '}' ? 'empty variable name in "${}"' : 'a variable name must start with a letter or "_"', i);
      }
      while (j < s.length && NAME_CHAR.test(s[j] as string)) j++;
      const name = s.slice(i + 2, j);
      if (s[j] === '}') {
        flush();
        pieces.push({ kind: 'var', name, op: undefined, arg: [], offset: i });
        i = j + 1;
        continue;
      }
      const op = OPERATORS.find((o) => s.startsWith(o, j));
      if (op === undefined) {
        if (j >= s.length) throw new TemplateSyntaxError(`missing "}" after "\${${name}"`, i);
        throw new TemplateSyntaxError(`unexpected ${JSON.stringify(s[j])} in "\${${name}..."; expected "}" or one of :- - :? ? :+ +`, i);
      }
      const [arg, end] = parseUntil(s, j + op.length, true);
      if (s[end] !== '}') throw new TemplateSyntaxError(`missing "}" to close "\${${name}${op}..."`, i);
      flush();
      pieces.push({ kind: 'var', name, op, arg, offset: i });
      i = end + 1;
      continue;
    }
    throw new TemplateSyntaxError(next === undefined ? 'a "$" at the end of the value' : `"$" followed by ${JSON.stringify(next)}`, i);
  }
  flush();
  return [pieces, i];
}

export interface InterpolationProblem {
  readonly kind: 'syntax' | 'required';
  readonly message: string;
  readonly offset: number;
  readonly name: string | undefined;
}

export interface InterpolationResult {
  readonly value: string;
  readonly problems: readonly InterpolationProblem[];
  /** Variables that were read while unset (and defaulted to ""). */
  readonly unset: readonly string[];
}

export type Lookup = (name: string) => string | undefined;

/** Interpolates a string. Syntax errors and missing required variables are returned, never thrown. */
export function interpolate(s: string, lookup: Lookup): InterpolationResult {
  if (!s.includes('$')) return { value: s, problems: [], unset: [] };
  let pieces: Piece[];
  try {
    pieces = parseTemplate(s);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) {
      return { value: s, problems: [{ kind: 'syntax', message: e.message, offset: e.offset, name: undefined }], unset: [] };
    }
    throw e;
  }
  const problems: InterpolationProblem[] = [];
  const unset: string[] = [];
  const value = evaluate(pieces, lookup, problems, unset);
  return { value, problems, unset };
}

function evaluate(pieces: readonly Piece[], lookup: Lookup, problems: InterpolationProblem[], unset: string[]): string {
  let out = '';
  for (const p of pieces) {
    if (p.kind === 'text') {
      out += p.text;
      continue;
    }
    const v = lookup(p.name);
    const isSet = v !== undefined;
    const nonEmpty = isSet && v !== '';
    const arg = (): string => evaluate(p.arg, lookup, problems, unset);
    switch (p.op) {
      case undefined:
        if (!isSet) unset.push(p.name);
        out += v ?? '';
        break;
      case ':-':
        out += nonEmpty ? v : arg();
        break;
      case '-':
        out += isSet ? v : arg();
        break;
      case ':+':
        out += nonEmpty ? arg() : '';
        break;
      case '+':
        out += isSet ? arg() : '';
        break;
      case ':?':
      case '?': {
        const ok = p.op === ':?' ? nonEmpty : isSet;
        if (ok) out += v;
        else {
          const msg = arg();
          const why = p.op === ':?' && isSet ? 'is empty' : 'is not set';
          problems.push({ kind: 'required', message: msg === '' ? `required variable ${p.name} ${why}` : `required variable ${p.name} ${why}: ${msg}`, offset: p.offset, name: p.name });
        }
        break;
      }
    }
  }
  return out;
}
