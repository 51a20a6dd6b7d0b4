// Docker's variable substitution in a word: $V, ${V}, and the modifiers BuildKit's shell lexer supports —
// ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?msg} ${V?msg} (in both builders), and ${V#p} ${V##p} ${V%p} ${V%%p}
// ${V/p/r} ${V//p/r} (BuildKit only; taken here because modern Dockerfiles use them and nothing else reads
// `#`/`%`/`/` after a name). Quotes are removed as the shell would ('…' literal, "…" expands), the escape
// character escapes the next one. Never throws: a malformed expression is a `problem` for the caller to locate.

export type Lookup = (name: string) => string | undefined;

export interface SubstituteOptions {
  readonly escape: string;
  /** Keep quotes and escape characters (heredoc bodies): only `$` references are replaced. */
  readonly raw?: boolean;
}

export type Substitution =
  | { readonly ok: true; readonly value: string; readonly used: ReadonlySet<string> }
  | { readonly ok: false; readonly problem: string };

class Problem {
  constructor(readonly message: string) {}
}

const NAME_CHAR = /[\p{L}\p{N}_]/u;
/** Positional ($1…) and special ($@ $* $# $? $- $$ $! $0) parameters: never set in a Dockerfile. */
const SPECIAL = '@*#?-$!';
const isParameter = (name: string): boolean => /^[0-9]+$/.test(name) || SPECIAL.includes(name);

/** Shell glob (`*`, `?`, `[…]`) → a RegExp source, for the # % / modifiers. */
function globSource(pattern: string, escape: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === escape && i + 1 < pattern.length) { out += (pattern[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'); continue; }
    if (ch === '*') out += '[\\s\\S]*';
    else if (ch === '?') out += '[\\s\\S]';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        let body = pattern.slice(i + 1, close);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else out += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

function safeRegExp(source: string): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

class Lexer {
  private pos = 0;
  readonly used = new Set<string>();

  constructor(private readonly text: string, private readonly lookup: Lookup, private readonly options: SubstituteOptions) {}

  /** Reads until `stop` (a char at top level) or the end; returns the processed text. */
  word(stop?: (ch: string) => boolean): string {
    let out = '';
    const esc = this.options.escape;
    const raw = this.options.raw === true;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] as string;
      if (stop !== undefined && stop(ch)) break;
      if (ch === esc) {
        this.pos++;
        if (this.pos >= this.text.length) { if (raw) out += ch; break; }
        const next = this.text[this.pos] as string;
        out += raw ? ch + next : next;
        this.pos++;
        continue;
      }
      if (ch === "'" && !raw) { out += this.single(); continue; }
      if (ch === '"' && !raw) { out += this.double(); continue; }
      if (ch === '$') { out += this.dollar(); continue; }
      out += ch;
      this.pos++;
    }
    return out;
  }

  private single(): string {
    const end = this.text.indexOf("'", this.pos + 1);
    if (end < 0) throw new Problem('unexpected end of text while looking for the matching single quote');
    const s = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return s;
  }

  private double(): string {
    this.pos++;
    let out = '';
    const esc = this.options.escape;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] as string;
      if (ch === '"') { this.pos++; return out; }
      if (ch === esc && this.pos + 1 < this.text.length) {
        const next = this.text[this.pos + 1] as string;
        out += next === '"' || next === '$' || next === esc ? next : ch + next;
        this.pos += 2;
        continue;
      }
      if (ch === '$') { out += this.dollar(); continue; }
      out += ch;
      this.pos++;
    }
    throw new Problem('unexpected end of text while looking for the matching double quote');
  }

  /** A name as BuildKit reads one: letters, digits and `_`; or digits (a positional parameter); or one special. */
  private name(): string {
    const first = this.text[this.pos];
    if (first === undefined) return '';
    if (/[0-9]/.test(first)) {
      let digits = '';
      while (this.pos < this.text.length && /[0-9]/.test(this.text[this.pos] as string)) digits += this.text[this.pos++];
      return digits;
    }
    if (SPECIAL.includes(first)) {
      this.pos++;
      return first;
    }
    let name = '';
    while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos] as string)) name += this.text[this.pos++];
    return name;
  }

  private get(name: string): string | undefined {
    if (isParameter(name)) return undefined;
    this.used.add(name);
    return this.lookup(name);
  }

  private dollar(): string {
    this.pos++;
    const ch = this.text[this.pos];
    if (ch === undefined) return '$';
    if (ch !== '{') {
      const name = this.name();
      return name === '' ? '$' : (this.get(name) ?? '');
    }
    this.pos++;
    if (this.text[this.pos] === undefined) throw new Problem("missing '}'");
    const name = this.name();
    if (name === '') throw new Problem(`bad substitution: \${ needs a variable name`);
    const op = this.text[this.pos];
    if (op === undefined) throw new Problem(`missing '}' after \${${name}`);
    if (op === '}') { this.pos++; return this.get(name) ?? ''; }
    const value = this.get(name);
    if (op === ':') {
      const mod = this.text[this.pos + 1];
      this.pos += 2;
      if (mod !== '-' && mod !== '+' && mod !== '?') throw new Problem(`unsupported modifier (:${mod ?? ''}) in \${${name}}`);
      const word = this.braceWord();
      const set = value !== undefined && value !== '';
      if (mod === '-') return set ? value : word;
      if (mod === '+') return set ? word : '';
      if (!set) throw new Problem(`${name}: ${word === '' ? `is not allowed to be ${value === undefined ? 'unset' : 'empty'}` : word}`);
      return value;
    }
    this.pos++;
    if (op === '-' || op === '+' || op === '?') {
      const word = this.braceWord();
      if (op === '-') return value ?? word;
      if (op === '+') return value === undefined ? '' : word;
      if (value === undefined) throw new Problem(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
      return value;
    }
    if (op === '#' || op === '%') {
      const greedy = this.text[this.pos] === op;
      if (greedy) this.pos++;
      const pattern = this.braceWord(true);
      const v = value ?? '';
      const glob = globSource(pattern, this.options.escape);
      if (op === '#') {
        const re = safeRegExp(`^(?:${glob})`);
        if (re === undefined) return v;
        for (let n = greedy ? v.length : 0; greedy ? n >= 0 : n <= v.length; n += greedy ? -1 : 1) {
          if (new RegExp(`^(?:${glob})$`).test(v.slice(0, n))) return v.slice(n);
        }
        return v;
      }
      const re = safeRegExp(`^(?:${glob})$`);
      if (re === undefined) return v;
      for (let n = greedy ? 0 : v.length; greedy ? n <= v.length : n >= 0; n += greedy ? 1 : -1) {
        if (re.test(v.slice(n))) return v.slice(0, n);
      }
      return v;
    }
    if (op === '/') {
      const all = this.text[this.pos] === '/';
      if (all) this.pos++;
      const pattern = this.word((c) => c === '/' || c === '}');
      let replacement = '';
      if (this.text[this.pos] === '/') { this.pos++; replacement = this.braceWord(); } else this.close();
      const v = value ?? '';
      if (pattern === '') return v;
      const re = safeRegExp(globSource(pattern, this.options.escape));
      if (re === undefined) return v;
      return all ? v.replace(new RegExp(re.source, 'g'), () => replacement) : v.replace(re, () => replacement);
    }
    throw new Problem(`unsupported modifier (${op}) in \${${name}}`);
  }

  /** The word of a `${name…word}` up to its closing brace (consumed). */
  private braceWord(keepGlob = false): string {
    const word = keepGlob ? this.rawUntilBrace() : this.word((c) => c === '}');
    this.close();
    return word;
  }

  /** A pattern: `$` references expanded, glob characters kept for globSource. */
  private rawUntilBrace(): string {
    const inner = new Lexer(this.text, this.lookup, { ...this.options, raw: true });
    inner.pos = this.pos;
    const word = inner.word((c) => c === '}');
    for (const u of inner.used) this.used.add(u);
    this.pos = inner.pos;
    return word;
  }

  private close(): void {
    if (this.text[this.pos] !== '}') throw new Problem(`missing '}' in a \${…} expression`);
    this.pos++;
  }
}

/** Substitutes one word (an argument of an expanding instruction). */
export function substitute(text: string, lookup: Lookup, options: SubstituteOptions): Substitution {
  const lexer = new Lexer(text, lookup, options);
  try {
    const value = lexer.word();
    return { ok: true, value, used: lexer.used };
  } catch (e) {
    if (e instanceof Problem) return { ok: false, problem: e.message };
    if (e instanceof RangeError) return { ok: false, problem: 'the expression nests too deeply' };
    throw e;
  }
}
