// Dockerfile text → parser directives and logical lines, following the reference: directives only at the
// top, comment lines dropped (also inside continuations), the escape character at the end of a line joins
// it to the next, empty continuation lines skipped with a warning, heredoc bodies read after their line.

import type { DiagnosticSource } from './diagnostics.js';
import type { Directives, DockerfileWarning, Heredoc } from './model.js';

/** Maps offsets of a logical line back to the physical line and column they came from. */
interface Segment {
  readonly offset: number;
  readonly line: number;
  readonly col: number;
}

export interface LogicalLine {
  readonly text: string;
  readonly startLine: number;
  /** Last physical line of the instruction, heredoc bodies included. */
  readonly endLine: number;
  readonly segments: readonly Segment[];
  readonly heredocs: readonly Heredoc[];
  /** The escape character ended the last line of the file: the instruction was cut there. */
  readonly continuedAtEof: boolean;
}

export interface LexResult {
  readonly directives: Directives;
  readonly lines: readonly LogicalLine[];
  readonly warnings: readonly DockerfileWarning[];
  /** The physical lines, for the `original` text of instructions. */
  readonly physical: readonly string[];
}

const DIRECTIVE = /^\s*#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_KEYWORDS = new Set(['run', 'copy', 'add']);

export function positionAt(line: LogicalLine, offset: number): { line: number; col: number } {
  let seg = line.segments[0] as Segment;
  for (const s of line.segments) {
    if (s.offset <= offset) seg = s;
    else break;
  }
  return { line: seg.line, col: seg.col + (offset - seg.offset) };
}

function isComment(raw: string): boolean {
  return /^[ \t]*#/.test(raw);
}

function readDirectives(lines: readonly string[], src: DiagnosticSource): { directives: Directives; next: number } {
  const seen = new Map<string, string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const raw = lines[i] as string;
    const m = DIRECTIVE.exec(raw);
    if (m === null) break;
    const name = (m[1] as string).toLowerCase();
    if (!KNOWN_DIRECTIVES.has(name)) break;
    if (seen.has(name)) {
      throw src.error({ message: `only one ${name} parser directive can be used`, line: i + 1, col: 1, hint: 'remove the repeated directive' });
    }
    seen.set(name, m[2] as string);
  }
  const escape = seen.get('escape') ?? '\\';
  if (escape !== '\\' && escape !== '`') {
    const at = lines.findIndex((l) => /^#\s*escape\s*=/i.test(l));
    throw src.error({ message: `invalid escape character ${JSON.stringify(escape)}`, line: at + 1, col: 1, hint: 'the escape directive takes \\ or `' });
  }
  return { directives: { escape, syntax: seen.get('syntax'), check: seen.get('check') }, next: i };
}

interface HeredocStart {
  readonly name: string;
  readonly expand: boolean;
  readonly chomp: boolean;
  readonly fd: number | undefined;
  readonly offset: number;
}

interface RawWord {
  readonly word: string;
  readonly offset: number;
}

/** Words split on whitespace outside quotes; quotes and backslashes kept (BuildKit reads heredocs this way). */
function rawWords(text: string): RawWord[] {
  const words: RawWord[] = [];
  let word = '';
  let start = -1;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote === undefined && /\s/.test(ch)) {
      if (start >= 0) words.push({ word, offset: start });
      word = '';
      start = -1;
      continue;
    }
    if (start < 0) start = i;
    word += ch;
    if (ch === '\\' && quote !== "'" && i + 1 < text.length) { word += text[++i]; continue; }
    if (quote === undefined && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = undefined;
  }
  if (start >= 0) words.push({ word, offset: start });
  return words;
}

/** A heredoc delimiter word with its quotes removed; `quoted` when any part was quoted (no expansion then). */
function unquoteDelimiter(text: string): { name: string; quoted: boolean } | undefined {
  let name = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      if (end < 0) return undefined;
      let inner = text.slice(i + 1, end);
      if (ch === '"') inner = inner.replace(/\\(["\\$])/g, '$1');
      name += inner;
      quoted = true;
      i = end;
      continue;
    }
    if (ch === '\\' && i + 1 < text.length) { name += text[++i]; continue; }
    name += ch;
  }
  return name === '' ? undefined : { name, quoted };
}

/**
 * The heredocs a shell-form line opens, in order, as BuildKit finds them: a word `<<NAME`, `<<-NAME`,
 * `N<<NAME` (also with blanks before NAME), NAME quoted in part or whole (`<<'EOF'`, `<<eo'f'`, `<<"one two"`)
 * meaning no expansion. `<<<` (a here-string) and words inside quotes are not heredocs.
 */
export function findHeredocs(text: string): HeredocStart[] {
  const found: HeredocStart[] = [];
  const words = rawWords(text);
  for (let i = 0; i < words.length; i++) {
    const { word, offset } = words[i] as RawWord;
    const m = /^(\d*)<<(-?)([^<]*)$/.exec(word);
    if (m === null) continue;
    let rest = m[3] as string;
    if (rest === '') {
      const next = words[i + 1];
      if (next === undefined || next.word.includes('<')) continue;
      rest = next.word;
      i++;
    }
    const delimiter = unquoteDelimiter(rest);
    if (delimiter === undefined) continue;
    found.push({ name: delimiter.name, expand: !delimiter.quoted, chomp: m[2] === '-', fd: m[1] === '' ? undefined : Number(m[1]), offset });
  }
  return found;
}

export function lexDockerfile(text: string, src: DiagnosticSource): LexResult {
  const physical = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
  const { directives, next } = readDirectives(physical, src);
  const esc = directives.escape === '\\' ? '\\\\' : '`';
  // The escape character last on a line (trailing blanks allowed) continues it, unless it is itself escaped
  // (`a\\` ends the line with a backslash), as Docker reads it.
  const continuation = new RegExp(`(?:^|(?<=[^${esc}]))${esc}[ \\t]*$`);
  const warnings: DockerfileWarning[] = [];
  const lines: LogicalLine[] = [];
  let i = next;
  while (i < physical.length) {
    const first = physical[i] as string;
    const startLine = ++i;
    if (isComment(first) || first.trim() === '') continue;
    const indent = first.length - first.trimStart().length;
    const segments: Segment[] = [];
    let text = '';
    let part = first.slice(indent);
    let col = indent + 1;
    let lineNo = startLine;
    let emptyContinuation = false;
    let continuedAtEof = false;
    for (;;) {
      const m = continuation.exec(part);
      const kept = m === null ? part : part.slice(0, m.index);
      segments.push({ offset: text.length, line: lineNo, col });
      text += kept;
      if (m === null) break;
      let nextPart: string | undefined;
      while (i < physical.length) {
        const raw = physical[i] as string;
        i++;
        if (isComment(raw)) continue;
        if (raw.trim() === '') { emptyContinuation = true; continue; }
        nextPart = raw;
        lineNo = i;
        break;
      }
      if (nextPart === undefined) { continuedAtEof = true; break; }
      part = nextPart;
      col = 1;
    }
    if (text.trim() === '') continue;
    const lead = text.length - text.trimStart().length;
    if (lead > 0) {
      // The first line held only the escape character: the instruction starts on a later line.
      const pos = positionAt({ text, startLine, endLine: lineNo, segments, heredocs: [], continuedAtEof }, lead);
      const rest = segments.filter((seg) => seg.offset > lead).map((seg) => ({ ...seg, offset: seg.offset - lead }));
      segments.splice(0, segments.length, { offset: 0, line: pos.line, col: pos.col }, ...rest);
      text = text.slice(lead);
    }
    if (emptyContinuation) {
      warnings.push({ line: startLine, message: 'empty continuation line found (Docker warns about this too; remove the empty line or the escape character before it)' });
    }
    let keyword = (/^\S+/.exec(text)?.[0] ?? '').toLowerCase();
    let argsText = text.slice(keyword.length).trimStart();
    if (keyword === 'onbuild') {
      // ONBUILD RUN <<EOF: the trigger may hold heredocs.
      keyword = (/^\S+/.exec(argsText)?.[0] ?? '').toLowerCase();
      argsText = argsText.slice(keyword.length).trimStart();
    }
    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword) && text.includes('<<') && !isJsonArray(argsText.replace(/^(--\S+\s+)*/, ''))) {
      for (const start of findHeredocs(text)) {
        let content = '';
        let terminated = false;
        while (i < physical.length) {
          const raw = physical[i] as string;
          i++;
          const candidate = start.chomp ? raw.replace(/^\t+/, '') : raw;
          if (candidate === start.name) { terminated = true; break; }
          content += `${candidate}\n`;
        }
        if (!terminated) {
          const pos = positionAt({ text, startLine, endLine: startLine, segments, heredocs: [], continuedAtEof }, start.offset);
          throw src.error({
            message: `unterminated heredoc: no line ${JSON.stringify(start.name)} closes it before the end of the file`,
            instruction: keyword.toUpperCase(), line: pos.line, col: pos.col, length: 2 + start.name.length,
            hint: `end the here-document with a line holding only ${start.name}`,
          });
        }
        heredocs.push({ name: start.name, content, expand: start.expand, chomp: start.chomp, fd: start.fd });
      }
    }
    lines.push({ text, startLine, endLine: heredocs.length > 0 ? i : lineNo, segments, heredocs, continuedAtEof });
  }
  return { directives, lines, warnings, physical };
}

/** Docker's test for the exec (JSON) form: the text, trimmed, is a JSON array. */
export function isJsonArray(text: string): boolean {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return false;
  try {
    return Array.isArray(JSON.parse(t));
  } catch {
    return false;
  }
}
