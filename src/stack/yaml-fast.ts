// A fast reader for the subset of YAML that stack files use, producing the loader's positioned nodes
// directly (the `yaml` package builds a CST and a document first, which costs ~100 ms on a 2,000-line file in
// a fresh process). It gives exactly what parse.ts builds from the `yaml` package — values typed by the
// YAML 1.2 core schema, the same positions, anchors shared, `<<` merged — or gives up (undefined) on
// anything outside the subset or anything that could be an error, and the caller then uses the package,
// so diagnostics for unusual or broken files stay the package's.
//
// The subset: block mappings and sequences (compact forms included), plain scalars on one line, single- and
// double-quoted scalars on one line, flow sequences and mappings on one line, literal and folded block
// scalars with chomping indicators, comments, anchors and aliases, `<<` merge keys, the `!reset` and
// `!override` tags, and `---` / `...` around a single document. No tabs, no CR, no BOM, no directives.

import type { PEntry, PMap, PNode, PScalar, PSeq, Pos, ScalarValue, Tag } from './pnode.js';
import { expandedSize } from './pnode.js';

/** Thrown (and caught in readYamlFast) when the text leaves the subset. */
class OutsideSubset {}
const OUTSIDE = new OutsideSubset();

function giveUp(): never {
  throw OUTSIDE;
}

export interface FastParse {
  /** undefined for a document with no content. */
  readonly root: PNode | undefined;
  /** Nodes written in the text (aliases not counted), as parse.ts counts them for the alias-bomb check. */
  readonly distinct: number;
  /**
   * No mapping or sequence nests deeper than this, aliases and merges followed: the deepest nesting written times
   * one more than the number of anchored collections (each alias or merge adds at most the height of its target,
   * and a target holds aliases only to targets finished before it).
   */
  readonly depthBound: number;
  /**
   * The tree has at most this many nodes once aliases are expanded: the nodes written plus, for every alias, the
   * expanded size of its target (a merge's entries are its alias's target's; a target is finished before it is
   * named, so its size is known then).
   */
  readonly sizeBound: number;
}

const SPACE = 32;
const NL = 10;
const HASH = 35;
const COLON = 58;
const DASH = 45;
const DQUOTE = 34;
const SQUOTE = 39;

interface Props {
  anchor: string | undefined;
  tag: Tag;
}

const NO_PROPS: Props = { anchor: undefined, tag: undefined };
/** A flow collection's position until its end is read (nothing reads it before). */
const NO_POS: Pos = { file: '', line: 1, col: 1, length: 1, base: '' };

const ESCAPES: Record<string, string> = {
  '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  N: '\u0085', _: '\u00a0', L: '\u2028', P: '\u2029', ' ': ' ', '"': '"', '/': '/', '\\': '\\',
};

const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const LEADING_ZERO_OCTAL = /^0[0-7]+$/;
const WS = /\s/;
// Scanners for the rest of a line, run from an offset (sticky; each always matches, maybe nothing): the reader runs
// once per process, in the interpreter, where a loop over characters costs far more than a regular expression.
/** Plain text on one line up to a ":" followed by a blank or the end, a " #" comment, a newline or the end. */
const PLAIN_TO_COLON = /(?:[^\n:#]|:(?=[^ \n])|(?<! )#)*/y;
/** A plain key in a flow mapping, up to the ":" like PLAIN_TO_COLON, stopping also at a flow indicator. */
const FLOW_KEY = /(?:[^\n:#,[\]{}]|:(?=[^ \n])|(?<! )#)*/y;
/** A plain item of a flow collection, up to a flow indicator, a newline, the end, a " #" or a ":" that ends a key. */
const FLOW_PLAIN = /(?:[^\n:#,[\]{}]|:(?=[^ \n,[\]{}])|(?<! )#)*/y;
/** The inside of a double-quoted scalar on one line (an escape takes the next character, whatever it is). */
const DOUBLE_QUOTED = /(?:[^"\\\n]|\\[^])*/y;
/** The inside of a single-quoted scalar on one line ('' is a quote). */
const SINGLE_QUOTED = /(?:[^'\n]|'')*/y;

/** The end of what `re` (sticky) matches from `k`. */
function scan(re: RegExp, text: string, k: number): number {
  re.lastIndex = k;
  re.test(text);
  return re.lastIndex;
}

/** Tabs, CR, other control characters, BOMs and non-characters: left to the package. */
const UNUSUAL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\ufeff\ufffe\uffff]/;

/** A plain scalar typed by the YAML 1.2 core schema (as the `yaml` package does). */
function corePlain(s: string): ScalarValue {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  const c = s.charCodeAt(0);
  // Only strings that start with a digit, a sign, a dot or a letter of true/false can be anything but a string.
  if (!((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 116 || c === 84 || c === 102 || c === 70)) return s;
  if (BOOL.test(s)) return s[0] === 't' || s[0] === 'T';
  if (INT_OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (INT_HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT_NAN.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (FLOAT_EXP.test(s) || FLOAT.test(s)) return parseFloat(s);
  return s;
}

/** A plain value as parse.ts reads it: the core schema, except that `0440` is octal (file modes). */
function plainValue(s: string): ScalarValue {
  if (LEADING_ZERO_OCTAL.test(s)) return Number.parseInt(s, 8);
  return corePlain(s);
}

function plainKey(s: string): string {
  const v = corePlain(s);
  return v === null ? 'null' : String(v);
}

class Reader {
  private i = 0;
  private readonly lineStarts: number[] = [0];
  private readonly anchors = new Map<string, PNode>();
  private readonly unfinished = new Set<PNode>();
  distinct = 0;
  /** Collections open around the current position; past maxDepth the reader gives up (the package reports). */
  private depth = 0;
  /** The deepest `depth` reached, and how many collections carry an anchor (for FastParse.depthBound). */
  deepest = 0;
  anchoredCollections = 0;
  /** What the aliases read so far add to the tree expanded (for FastParse.sizeBound), with the targets' sizes. */
  aliased = 0;
  private readonly sizes = new Map<PNode, number>();
  // The content line found by nextContent(): offset of its first non-space character and its indent.
  private at = 0;
  private indent = 0;
  private eof = false;
  /** The line of the last position made: positions are asked for in order, mostly on the same or the next line. */
  private line = 0;
  /** keyEnd's last answer, for its offset (blockNode asks, then blockMap asks again). */
  private keyEndFor = -1;
  /** The offset nextContent last started from (at, indent and eof are its answer). */
  private contentFor = -1;
  private keyEndWas = -1;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly base: string,
    private readonly maxDepth: number,
  ) {
    for (let k = text.indexOf('\n'); k >= 0; k = text.indexOf('\n', k + 1)) this.lineStarts.push(k + 1);
  }

  // ---- positions -------------------------------------------------------------------------------------

  /** The same position parse.ts computes from a `yaml` node range [start, end). */
  private pos(start: number, end: number): Pos {
    const ls = this.lineStarts;
    let lo = this.line;
    // The same line as the last position, or one of the next few (most positions are), else a binary search.
    while (lo < this.line + 4 && (ls[lo + 1] ?? Number.POSITIVE_INFINITY) <= start) lo++;
    if ((ls[lo] as number) > start || (ls[lo + 1] ?? Number.POSITIVE_INFINITY) <= start) {
      lo = 0;
      let hi = ls.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((ls[mid] as number) <= start) lo = mid;
        else hi = mid - 1;
      }
    }
    this.line = lo;
    const text = this.text;
    const lineStart = ls[lo] as number;
    const nextLine = ls[lo + 1] ?? text.length + 1;
    const lineEnd = Math.min(nextLine - 1, text.length);
    let length = Math.min(end, lineEnd) - start;
    while (length > 1) {
      const c = text.charCodeAt(start + length - 1);
      if (c === SPACE || (c <= 13 && c >= 9) || (c > 127 && WS.test(text[start + length - 1] as string))) length--;
      else break;
    }
    return { file: this.file, line: lo + 1, col: start - lineStart + 1, length: Math.max(1, length), base: this.base };
  }

  // ---- lines -----------------------------------------------------------------------------------------

  private code(k: number): number {
    return this.text.charCodeAt(k); // NaN past the end
  }

  /** From `p` (a line start or a position whose line's rest is done), finds the next line with content. */
  private nextContent(p: number): void {
    // A value and then its collection both ask from the same offset: the answer is still in at/indent/eof.
    if (p === this.contentFor) return;
    this.contentFor = p;
    const text = this.text;
    const n = text.length;
    let k = p;
    for (;;) {
      const ls = k;
      while (k < n && text.charCodeAt(k) === SPACE) k++;
      if (k >= n) {
        this.eof = true;
        this.at = n;
        this.indent = 0;
        return;
      }
      const c = text.charCodeAt(k);
      if (c === NL) {
        k++;
        continue;
      }
      if (c === HASH) {
        const e = text.indexOf('\n', k);
        if (e < 0) {
          this.eof = true;
          this.at = n;
          this.indent = 0;
          return;
        }
        k = e + 1;
        continue;
      }
      this.eof = false;
      this.at = k;
      this.indent = k - ls;
      return;
    }
  }

  /** After a value: only spaces and a comment may follow on the line; moves to the next line. */
  private endLine(k: number): void {
    const text = this.text;
    while (text.charCodeAt(k) === SPACE) k++;
    const c = text.charCodeAt(k);
    if (k >= text.length) {
      this.i = k;
      return;
    }
    if (c === HASH) {
      // `#` starts a comment only after a space (or at the start of the line).
      if (text.charCodeAt(k - 1) !== SPACE) giveUp();
      const e = text.indexOf('\n', k);
      this.i = e < 0 ? text.length : e + 1;
      return;
    }
    if (c !== NL) giveUp();
    this.i = k + 1;
  }

  private skipSpaces(k: number): number {
    while (this.text.charCodeAt(k) === SPACE) k++;
    return k;
  }

  /** True at a `---` or `...` line (column 0). */
  private isDocMarker(k: number): boolean {
    const t = this.text;
    if (k !== 0 && t.charCodeAt(k - 1) !== NL) return false;
    const c = t.charCodeAt(k);
    if (c !== DASH && c !== 46) return false;
    if (t.charCodeAt(k + 1) !== c || t.charCodeAt(k + 2) !== c) return false;
    const d = t.charCodeAt(k + 3);
    return Number.isNaN(d) || d === SPACE || d === NL;
  }

  // ---- document --------------------------------------------------------------------------------------

  document(): PNode | undefined {
    const text = this.text;
    this.nextContent(0);
    if (this.eof) return undefined;
    if (text.charCodeAt(this.at) === 37) giveUp(); // %YAML / %TAG directives
    if (this.isDocMarker(this.at)) {
      if (text.charCodeAt(this.at) !== DASH) giveUp();
      this.endLine(this.at + 3);
      this.nextContent(this.i);
      if (this.eof) giveUp();
    }
    if (this.isDocMarker(this.at)) giveUp();
    const root = this.blockNode(-1, NO_PROPS);
    if (!this.eof) {
      // Only a `...` followed by nothing but comments may come after the document.
      if (!this.isDocMarker(this.at) || text.charCodeAt(this.at) !== 46) giveUp();
      this.endLine(this.at + 3);
      this.nextContent(this.i);
      if (!this.eof) giveUp();
    }
    return root;
  }

  /** A block node starting at the current content line (this.at, this.indent), inside a parent at `parent`. */
  private blockNode(parent: number, props: Props): PNode {
    const k = this.at;
    const c = this.code(k);
    const n = this.indent;
    if (c === DASH && this.isBlank(k + 1)) return this.blockSeq(n, k, props);
    if (this.keyEnd(k) >= 0) return this.blockMap(n, k, props);
    if (parent < 0) giveUp(); // a document that is a scalar: rare, and an error for a stack file
    if (c === 38 || c === 33) giveUp(); // properties on their own line
    return this.inline(k, parent, props);
  }

  /** True when `k` is a space, a newline or the end (after `-`, `?`, `:`). */
  private isBlank(k: number): boolean {
    const c = this.code(k);
    return c === SPACE || c === NL || Number.isNaN(c);
  }

  // ---- block collections -----------------------------------------------------------------------------

  private startCollection<T extends PMap | PSeq>(node: T, props: Props): T {
    if (++this.depth > this.maxDepth) giveUp();
    if (this.depth > this.deepest) this.deepest = this.depth;
    this.distinct++;
    if (props.anchor !== undefined) {
      this.anchoredCollections++;
      this.anchors.set(props.anchor, node);
      this.unfinished.add(node);
    }
    return node;
  }

  private blockMap(n: number, first: number, props: Props): PMap {
    const map = this.startCollection<PMap>({ kind: 'map', entries: new Map(), pos: this.pos(first, Infinity), tag: props.tag }, props);
    const merged: PEntry[] = [];
    let k = first;
    for (;;) {
      const text = this.text;
      const c = this.code(k);
      let key: string;
      let keyStart = k;
      let keyEnd: number;
      let after: number; // just past the ':'
      let isMerge = false;
      if (c === DQUOTE || c === SQUOTE) {
        const q = this.quoted(k);
        key = q.value;
        keyEnd = q.end;
        if (this.code(keyEnd) !== COLON || !this.isBlank(keyEnd + 1)) giveUp();
        after = keyEnd + 1;
      } else {
        const colon = this.keyEnd(k);
        if (colon < 0) giveUp();
        keyEnd = colon;
        while (this.code(keyEnd - 1) === SPACE) keyEnd--;
        const raw = text.slice(k, keyEnd);
        if (raw === '<<') isMerge = true;
        key = plainKey(raw);
        after = colon + 1;
      }
      if (keyEnd - keyStart > 1000) giveUp();
      const keyPos = this.pos(keyStart, keyEnd);
      const value = this.valueAfterIndicator(after, n, true);
      if (isMerge) {
        if (value.kind === 'seq') {
          // The package reads the list's items, not the list: it is not a node of its own there.
          for (const a of this.anchors.values()) if (a === value) giveUp();
          this.distinct--;
        }
        for (const src of this.mergeSources(value)) for (const e of src.entries.values()) merged.push(e);
      } else {
        if (map.entries.has(key)) giveUp(); // the package reports duplicates (or keys that differ only in type)
        map.entries.set(key, { key, keyPos, value });
      }
      this.nextContent(this.i);
      if (this.eof || this.indent < n || this.isDocMarker(this.at)) break;
      if (this.indent > n) giveUp();
      k = this.at;
      if (this.code(k) === DASH && this.isBlank(k + 1)) giveUp();
      keyStart = k;
    }
    for (const e of merged) if (!map.entries.has(e.key)) map.entries.set(e.key, e);
    this.unfinished.delete(map);
    this.depth--;
    return map;
  }

  /** The maps a `<<` value names: one mapping, or a list of them. */
  private mergeSources(value: PNode): PMap[] {
    if (value.kind === 'map') return [value];
    if (value.kind !== 'seq') giveUp();
    return value.items.map((m) => (m.kind === 'map' ? m : giveUp()));
  }

  private blockSeq(n: number, first: number, props: Props): PSeq {
    const seq = this.startCollection<PSeq>({ kind: 'seq', items: [], pos: this.pos(first, Infinity), tag: props.tag }, props);
    let k = first;
    for (;;) {
      seq.items.push(this.valueAfterIndicator(k + 1, n, false));
      this.nextContent(this.i);
      if (this.eof || this.indent < n || this.isDocMarker(this.at)) break;
      if (this.indent > n) giveUp();
      k = this.at;
      if (this.code(k) !== DASH || !this.isBlank(k + 1)) break; // a map key at the same indent: the parent goes on
    }
    this.unfinished.delete(seq);
    this.depth--;
    return seq;
  }

  /**
   * The value after `key:` or `-` (at `k`, just past the indicator), in a collection at indent `n`. Leaves
   * this.i at the start of the line after the value.
   */
  private valueAfterIndicator(k: number, n: number, inMap: boolean): PNode {
    let p = this.skipSpaces(k);
    let props = NO_PROPS;
    let c = this.code(p);
    if (c === 38 || c === 33) {
      props = this.props(p);
      p = this.skipSpaces(this.i);
      c = this.code(p);
    }
    if (Number.isNaN(c) || c === NL || c === HASH) {
      if (c === HASH && this.code(p - 1) !== SPACE) giveUp();
      this.endLine(p);
      const emptyAt = p;
      this.nextContent(this.i);
      if (!this.eof && !this.isDocMarker(this.at)) {
        if (this.indent > n) return this.blockNode(n, props);
        if (inMap && this.indent === n && this.code(this.at) === DASH && this.isBlank(this.at + 1)) return this.blockSeq(n, this.at, props);
      }
      return this.empty(emptyAt, props);
    }
    if (!inMap) {
      // Compact forms in a sequence item: `- - x` and `- key: value`.
      if (c === DASH && this.isBlank(p + 1)) {
        if (props !== NO_PROPS) giveUp();
        return this.blockSeq(this.column(p), p, NO_PROPS);
      }
      if (this.keyEnd(p) >= 0) {
        if (props !== NO_PROPS) giveUp();
        return this.blockMap(this.column(p), p, NO_PROPS);
      }
    }
    // In a mapping, a value that is itself a key (`a: b: c`) is given up on by inline.
    return this.inline(p, n, props);
  }

  private column(k: number): number {
    return k - (this.text.lastIndexOf('\n', k - 1) + 1);
  }

  private empty(at: number, props: Props): PScalar {
    const node: PScalar = { kind: 'scalar', value: props.tag === undefined ? null : '', pos: this.pos(at, at), plain: true, tag: props.tag };
    this.distinct++;
    if (props.anchor !== undefined) this.anchors.set(props.anchor, node);
    return node;
  }

  /** `&anchor` and/or `!reset` / `!override`, in either order; leaves this.i just past them. */
  private props(k: number): Props {
    let anchor: string | undefined;
    let tag: Tag;
    let seenTag = false;
    let p = k;
    for (;;) {
      const c = this.code(p);
      if (c === 38 && anchor === undefined) {
        const e = this.nameEnd(p + 1);
        if (e === p + 1) giveUp();
        anchor = this.text.slice(p + 1, e);
        p = e;
      } else if (c === 33 && !seenTag) {
        const e = this.nameEnd(p);
        const t = this.text.slice(p, e);
        if (t === '!reset') tag = 'reset';
        else if (t === '!override') tag = 'override';
        else giveUp();
        seenTag = true;
        p = e;
      } else break;
      if (!this.isBlank(p)) giveUp();
      const q = this.skipSpaces(p);
      const d = this.code(q);
      if (d !== 38 && d !== 33) break;
      p = q;
    }
    this.i = p;
    return { anchor, tag };
  }

  /** The end of an anchor, alias or tag name (up to a space, a newline, the end, or a flow indicator). */
  private nameEnd(k: number): number {
    const t = this.text;
    let p = k;
    for (;;) {
      const c = t.charCodeAt(p);
      if (Number.isNaN(c) || c === SPACE || c === NL || c === 44 || c === 91 || c === 93 || c === 123 || c === 125) return p;
      p++;
    }
  }

  /**
   * If a plain or quoted key followed by `: ` (or `:` at the end of the line) starts at `k` on this line,
   * the offset of that `:`; else -1.
   */
  private keyEnd(k: number): number {
    if (k !== this.keyEndFor) {
      this.keyEndWas = this.findKeyEnd(k);
      this.keyEndFor = k;
    }
    return this.keyEndWas;
  }

  private findKeyEnd(k: number): number {
    const t = this.text;
    const c = t.charCodeAt(k);
    if (c === DQUOTE || c === SQUOTE) {
      const close = this.quotedEnd(k);
      if (close < 0) return -1;
      let p = close;
      while (t.charCodeAt(p) === SPACE) p++;
      return t.charCodeAt(p) === COLON && this.isBlank(p + 1) ? p : -1;
    }
    if (!this.plainStart(k, false)) return -1;
    // Stops at a ':' followed by a blank (the key's end), a ' #', a newline or the end.
    const p = scan(PLAIN_TO_COLON, t, k + 1);
    return t.charCodeAt(p) === COLON ? p : -1;
  }

  /** True when a plain scalar may start at `k` (in flow context, `flow`). */
  private plainStart(k: number, flow: boolean): boolean {
    const c = this.code(k);
    switch (c) {
      case 44: case 91: case 93: case 123: case 125: // , [ ] { }
      case HASH: case 38: case 42: case 33: case 124: case 62: case SQUOTE: case DQUOTE: case 37: case 64: case 96:
      case NL: case SPACE:
        return false;
      case DASH: case 63: case COLON: {
        const d = this.code(k + 1);
        if (Number.isNaN(d) || d === SPACE || d === NL) return false;
        if (flow && (d === 44 || d === 91 || d === 93 || d === 123 || d === 125)) return false;
        return true;
      }
      default:
        return !Number.isNaN(c);
    }
  }

  // ---- scalars and flow collections on one line -------------------------------------------------------

  /** A value that starts and (but for block scalars) ends on this line, in a collection at indent `n`. */
  private inline(k: number, n: number, props: Props): PNode {
    const c = this.code(k);
    let node: PNode;
    let end: number;
    if (c === 124 || c === 62) {
      node = this.blockScalar(k, n, props);
      return node; // consumes its lines; what follows is checked by the collection
    }
    if (c === 42) {
      if (props !== NO_PROPS) giveUp();
      node = this.alias(k);
      end = this.i;
    } else if (c === 91 || c === 123) {
      node = this.flow(k, props);
      end = this.i;
    } else if (c === DQUOTE || c === SQUOTE) {
      const q = this.quoted(k);
      end = q.end;
      node = this.scalar(k, end, q.value, false, props);
    } else {
      if (!this.plainStart(k, false)) giveUp();
      const t = this.text;
      // To the end of the line or a ' #' comment; a ':' followed by a blank is `a: b: c`, or a key: not a value here.
      const p = scan(PLAIN_TO_COLON, t, k + 1);
      if (t.charCodeAt(p) === COLON) giveUp();
      let last = p; // just past the last non-space character
      while (last > k + 1 && t.charCodeAt(last - 1) === SPACE) last--;
      end = last;
      const raw = t.slice(k, end);
      if (raw === '<<') giveUp();
      node = this.scalar(k, end, props.tag === undefined ? plainValue(raw) : LEADING_ZERO_OCTAL.test(raw) ? Number.parseInt(raw, 8) : raw, true, props);
    }
    this.endLine(end);
    // A more indented line after a one-line value would continue a plain scalar, or be an error.
    this.nextContent(this.i);
    if (!this.eof && this.indent > n && !this.isDocMarker(this.at)) giveUp();
    return node;
  }

  private scalar(start: number, end: number, value: ScalarValue, plain: boolean, props: Props): PScalar {
    const node: PScalar = { kind: 'scalar', value, pos: this.pos(start, end), plain, tag: props.tag };
    this.distinct++;
    if (props.anchor !== undefined) this.anchors.set(props.anchor, node);
    return node;
  }

  private alias(k: number): PNode {
    const e = this.nameEnd(k + 1);
    if (e === k + 1) giveUp();
    const target = this.anchors.get(this.text.slice(k + 1, e));
    if (target === undefined || this.unfinished.has(target)) giveUp();
    this.aliased += expandedSize(target, this.sizes);
    this.i = e;
    return target;
  }

  /** The offset just past the closing quote of the quoted scalar at `k` (on this line), or -1. */
  private quotedEnd(k: number): number {
    const t = this.text;
    const q = t.charCodeAt(k);
    const p = scan(q === DQUOTE ? DOUBLE_QUOTED : SINGLE_QUOTED, t, k + 1);
    return t.charCodeAt(p) === q ? p + 1 : -1;
  }

  private quoted(k: number): { value: string; end: number } {
    const t = this.text;
    const end = this.quotedEnd(k);
    if (end < 0) giveUp(); // multi-line or unterminated
    const inner = t.slice(k + 1, end - 1);
    if (t.charCodeAt(k) === SQUOTE) return { value: inner.includes("''") ? inner.replaceAll("''", "'") : inner, end };
    if (!inner.includes('\\')) return { value: inner, end };
    let out = '';
    for (let p = 0; p < inner.length; p++) {
      const ch = inner[p] as string;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const next = inner[++p] ?? '';
      const esc = ESCAPES[next];
      if (esc !== undefined) {
        out += esc;
        continue;
      }
      const len = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
      if (len === 0) giveUp();
      const hex = inner.substr(p + 1, len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) giveUp();
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) giveUp();
      out += String.fromCodePoint(cp);
      p += len;
    }
    return { value: out, end };
  }

  /** A flow sequence or mapping that closes on this line; leaves this.i just past it. */
  private flow(k: number, props: Props): PNode {
    const t = this.text;
    const isMap = t.charCodeAt(k) === 123;
    const close = isMap ? 125 : 93;
    // Its position spans the whole collection: set once its end is known.
    const node = this.startCollection<PMap | PSeq>(
      isMap ? { kind: 'map', entries: new Map(), pos: NO_POS, tag: props.tag } : { kind: 'seq', items: [], pos: NO_POS, tag: props.tag },
      props,
    );
    let p = this.skipSpaces(k + 1);
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === close) break;
      if (isMap) {
        const map = node as PMap;
        let key: string;
        let keyEnd: number;
        let q: number;
        if (c === DQUOTE || c === SQUOTE) {
          const r = this.quoted(p);
          key = r.value;
          keyEnd = r.end;
          q = keyEnd;
        } else {
          if (!this.plainStart(p, true)) giveUp();
          // Up to the ':' that ends the key; a flow indicator, a ' #', a newline or the end first is given up on.
          q = scan(FLOW_KEY, t, p + 1);
          if (t.charCodeAt(q) !== COLON) giveUp();
          keyEnd = q;
          while (t.charCodeAt(keyEnd - 1) === SPACE) keyEnd--;
          const raw = t.slice(p, keyEnd);
          if (raw === '<<') giveUp();
          key = plainKey(raw);
        }
        if (t.charCodeAt(q) !== COLON || t.charCodeAt(q + 1) !== SPACE) giveUp();
        if (keyEnd - p > 1000) giveUp();
        const keyPos = this.pos(p, keyEnd);
        const v = this.skipSpaces(q + 1);
        const value = this.flowItem(v);
        if (map.entries.has(key)) giveUp();
        map.entries.set(key, { key, keyPos, value });
      } else {
        (node as PSeq).items.push(this.flowItem(p));
      }
      p = this.skipSpaces(this.i);
      const d = t.charCodeAt(p);
      if (d === 44) {
        p = this.skipSpaces(p + 1);
        continue;
      }
      if (d !== close) giveUp();
      break;
    }
    this.i = p + 1;
    // The node's position spans the whole collection (clipped to its line).
    (node as { pos: Pos }).pos = this.pos(k, p + 1);
    this.unfinished.delete(node);
    this.depth--;
    return node;
  }

  /** One item of a flow collection; leaves this.i just past it. */
  private flowItem(k: number): PNode {
    const t = this.text;
    const c = t.charCodeAt(k);
    if (c === 91 || c === 123) return this.flow(k, NO_PROPS);
    if (c === 42) return this.alias(k);
    if (c === DQUOTE || c === SQUOTE) {
      const q = this.quoted(k);
      const after = this.skipSpaces(q.end);
      if (t.charCodeAt(after) === COLON) giveUp(); // an implicit key inside a flow sequence
      this.i = q.end;
      return this.scalar(k, q.end, q.value, false, NO_PROPS);
    }
    if (!this.plainStart(k, true)) giveUp();
    // Up to the ',', ']' or '}' after it; anything else there (a newline: the collection goes on to the next line,
    // the end, '[', '{', a ' #', a ':' that ends a key) is given up on.
    const p = scan(FLOW_PLAIN, t, k + 1);
    const d = t.charCodeAt(p);
    if (d !== 44 && d !== 93 && d !== 125) giveUp();
    let last = p;
    while (last > k + 1 && t.charCodeAt(last - 1) === SPACE) last--;
    const raw = t.slice(k, last);
    if (raw === '<<') giveUp();
    this.i = last;
    return this.scalar(k, last, plainValue(raw), true, NO_PROPS);
  }

  /** `|` or `>` with an optional chomping indicator, its lines more indented than `n`. */
  private blockScalar(k: number, n: number, props: Props): PScalar {
    const t = this.text;
    const folded = t.charCodeAt(k) === 62;
    let p = k + 1;
    let chomp: 'clip' | 'strip' | 'keep' = 'clip';
    const c = t.charCodeAt(p);
    if (c === DASH) {
      chomp = 'strip';
      p++;
    } else if (c === 43) {
      chomp = 'keep';
      p++;
    }
    if (!this.isBlank(p)) giveUp(); // an indentation indicator, or anything else
    this.endLine(p);
    // Lines: find the content indent from the first non-empty line.
    const lines: string[] = [];
    let q = this.i;
    let contentIndent = -1;
    let maxEmptyIndent = 0;
    let trailingEmpty = 0; // empty lines after the last content line
    const n0 = t.length;
    while (q < n0) {
      let e = t.indexOf('\n', q);
      if (e < 0) e = n0;
      let s = q;
      while (s < e && t.charCodeAt(s) === SPACE) s++;
      const ind = s - q;
      if (s === e) {
        // An empty (or all-space) line.
        if (contentIndent < 0) maxEmptyIndent = Math.max(maxEmptyIndent, ind);
        else if (ind > contentIndent) giveUp(); // spaces past the indent are content: rare, leave it to the package
        lines.push('');
        trailingEmpty++;
        q = e + 1;
        continue;
      }
      if (contentIndent < 0) {
        if (ind <= n) break;
        if (maxEmptyIndent > ind) giveUp();
        contentIndent = ind;
      } else if (ind < contentIndent) break;
      if (ind === 0 && this.isDocMarker(q)) break;
      lines.push(t.slice(q + contentIndent, e));
      trailingEmpty = 0;
      q = e + 1;
    }
    if (contentIndent < 0) giveUp(); // an empty block scalar
    const content = lines.slice(0, lines.length - trailingEmpty);
    let body: string;
    if (!folded) body = content.join('\n');
    else {
      body = '';
      let prevMore = false;
      let pendingEmpty = 0;
      let first = true;
      for (const line of content) {
        if (line === '') {
          pendingEmpty++;
          continue;
        }
        const more = line.charCodeAt(0) === SPACE;
        if (!first) {
          if (!more && !prevMore) body += pendingEmpty === 0 ? ' ' : '\n'.repeat(pendingEmpty);
          else body += '\n'.repeat(pendingEmpty + 1);
        } else if (pendingEmpty > 0) body += '\n'.repeat(pendingEmpty);
        body += line;
        pendingEmpty = 0;
        prevMore = more;
        first = false;
      }
    }
    let value = body;
    if (chomp === 'clip') value += '\n';
    else if (chomp === 'keep') value += '\n'.repeat(1 + trailingEmpty);
    if (q > n0) giveUp(); // the last line has no newline: leave the chomping details to the package
    this.i = Math.min(q, n0);
    const node: PScalar = { kind: 'scalar', value, pos: this.pos(k, Infinity), plain: false, tag: props.tag };
    this.distinct++;
    if (props.anchor !== undefined) this.anchors.set(props.anchor, node);
    return node;
  }
}

/**
 * Reads `text` if it stays inside the subset; undefined otherwise (the caller then uses the `yaml` package).
 * `file` and `base` go into the positions. Nesting deeper than `maxDepth` collections is left to the package.
 */
export function readYamlFast(text: string, file: string, base: string, maxDepth = Number.POSITIVE_INFINITY): FastParse | undefined {
  if (UNUSUAL.test(text)) return undefined;
  const reader = new Reader(text, file, base, maxDepth);
  try {
    const root = reader.document();
    return { root, distinct: reader.distinct, depthBound: reader.deepest * (reader.anchoredCollections + 1), sizeBound: reader.distinct + reader.aliased };
  } catch (e) {
    if (e === OUTSIDE) return undefined;
    throw e;
  }
}
