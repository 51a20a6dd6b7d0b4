// YAML text -> positioned tree. Anchors and aliases are shared (not copied) so an alias bomb costs nothing
// to parse; its expanded size is measured and rejected before anything walks it. `<<` merge keys are applied
// here (explicit keys win, then earlier merge sources over later ones).
//
// Two readers give the same tree: yaml-fast.ts for the subset stack files use (fast, no dependency), and the
// `yaml` package for everything else and for every file with a problem, so diagnostics are the package's.
// The package is loaded only when needed (it costs ~20 ms to load and ~100 ms for a first large parse).

import { createRequire } from 'node:module';
import type * as YamlPackage from 'yaml';
import type { Node as YNode, Scalar as YScalar } from 'yaml';
import type { PEntry, PNode, Pos, Tag } from './pnode.js';
import { expandedSize, nodeBeyondDepth, pmap, pscalar, pseq } from './pnode.js';
import type { Reporter } from './report.js';
import { readYamlFast } from './yaml-fast.js';

/** A document may expand to at most this many nodes through aliases... */
export const ALIAS_EXPANSION_FLOOR = 10_000;
/** ...or this many times the nodes it really holds, whichever is larger. */
export const ALIAS_EXPANSION_RATIO = 50;
/** Mappings and sequences nest at most this deep (real stack files nest less than 10). */
export const MAX_NESTING_DEPTH = 100;

export interface ParsedFile {
  readonly file: string;
  readonly root: PNode | undefined;
}

let yamlPackage: typeof YamlPackage | undefined;

function loadYamlPackage(): typeof YamlPackage {
  yamlPackage ??= createRequire(import.meta.url)('yaml') as typeof YamlPackage;
  return yamlPackage;
}

function tooLarge(size: number, distinct: number): boolean {
  return size > Math.max(ALIAS_EXPANSION_FLOOR, ALIAS_EXPANSION_RATIO * distinct);
}

export function parseYaml(text: string, file: string, base: string, reporter: Reporter): ParsedFile {
  reporter.addSource(file, text);
  const fast = readYamlFast(text, file, base, MAX_NESTING_DEPTH);
  if (fast !== undefined) {
    if (fast.root === undefined) return { file, root: pmap({ file, line: 1, col: 1, length: 1, base }) };
    // An alias bomb, or nesting too deep through aliases, is reported by the package path.
    // (The fast reader caps the nesting it reads; only aliases can nest a tree deeper, and its bound tells
    // when they cannot have nested it past the cap: then the tree is not walked.)
    const deep = text.includes('*') && fast.depthBound > MAX_NESTING_DEPTH && nodeBeyondDepth(fast.root, MAX_NESTING_DEPTH) !== undefined;
    // The tree is walked for its expanded size only when the reader's bound does not already keep it in.
    if (!deep && (!tooLarge(fast.sizeBound, fast.distinct) || !tooLarge(expandedSize(fast.root), fast.distinct))) return { file, root: fast.root };
  }
  return parseYamlWithPackage(text, file, base, reporter);
}

/**
 * The `yaml` package's reading (parseYaml without the fast path; the source must already be added to the
 * reporter). `stats.distinct` receives the number of nodes written, for tests.
 */
export function parseYamlWithPackage(text: string, file: string, base: string, reporter: Reporter, stats?: { distinct: number }): ParsedFile {
  const { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, isPair } = loadYamlPackage();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: true, prettyErrors: false, strict: false });
  const posAt = (start: number, end: number): Pos => {
    const { line, col } = lineCounter.linePos(start);
    const lineStart = lineCounter.lineStarts[line - 1] ?? 0;
    const nextLine = lineCounter.lineStarts[line] ?? text.length + 1;
    const lineEnd = Math.min(nextLine - 1, text.length);
    let length = Math.min(end, lineEnd) - start;
    // A trailing "\r" or spaces are not part of the token.
    while (length > 1 && /\s/.test(text[start + length - 1] ?? '')) length--;
    void lineStart;
    return { file, line, col, length: Math.max(1, length), base };
  };
  let failed = false;
  let exhausted = false;
  for (const e of doc.errors) {
    failed = true;
    if (e.code === 'RESOURCE_EXHAUSTION') {
      // The package ran out of stack on a document nested thousands deep.
      if (!exhausted) reporter.error('SPEC_YAML_TOO_DEEP', `the YAML nests deeper than ${MAX_NESTING_DEPTH} levels`, posAt(e.pos[0], e.pos[1]), [], DEPTH_HINT);
      exhausted = true;
      continue;
    }
    const code = e.code === 'DUPLICATE_KEY' ? 'SPEC_DUPLICATE_KEY' : 'SPEC_YAML_SYNTAX';
    const msg = e.code === 'DUPLICATE_KEY' ? 'mapping key is defined twice' : firstLine(e.message);
    reporter.error(code, msg, posAt(e.pos[0], e.pos[1]), [], code === 'SPEC_DUPLICATE_KEY' ? 'remove one of the two entries' : undefined);
  }
  if (failed) return { file, root: undefined };
  if (doc.contents === null) return { file, root: pmap(posAt(0, 1)) };

  const memo = new Map<YNode, PNode>();
  const anchors = new Map<string, YNode>();
  let distinct = 0;
  let badMerge = false;
  let depth = 0;
  let tooDeep = false;

  const nodePos = (n: YNode): Pos => {
    const r = n.range ?? [0, 1, 1];
    return posAt(r[0], r[1]);
  };

  const convert = (n: YNode | null | undefined, fallback: Pos): PNode => {
    if (n === null || n === undefined) return pscalar(fallback, null, true);
    if (isAlias(n)) {
      // yaml's Alias.resolve() walks the whole document each time; anchors are recorded as they are met.
      const target = anchors.get(n.source);
      if (target === undefined) return pscalar(nodePos(n), null, true);
      return convert(target, nodePos(n));
    }
    const known = memo.get(n);
    if (known !== undefined) return known;
    const anchor = (n as { anchor?: string }).anchor;
    if (anchor !== undefined) anchors.set(anchor, n);
    distinct++;
    const pos = nodePos(n);
    const tag = tagOf(n.tag);
    if ((isSeq(n) || isMap(n)) && depth >= MAX_NESTING_DEPTH) {
      if (!tooDeep) reporter.error('SPEC_YAML_TOO_DEEP', `the YAML nests deeper than ${MAX_NESTING_DEPTH} levels`, pos, [], DEPTH_HINT);
      tooDeep = true;
      return pscalar(pos, null, true);
    }
    let out: PNode;
    if (isScalar(n)) {
      out = pscalar(pos, scalarValue(n), n.type === 'PLAIN', tag);
    } else if (isSeq(n)) {
      const seq = pseq(pos, [], tag);
      memo.set(n, seq);
      depth++;
      for (const item of n.items) seq.items.push(convert(item as YNode | null, pos));
      depth--;
      out = seq;
    } else if (isMap(n)) {
      const map = pmap(pos, new Map(), tag);
      memo.set(n, map);
      depth++;
      const merged: PEntry[] = [];
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as YNode | null;
        const keyPos = keyNode ? nodePos(keyNode) : pos;
        if (isScalar(keyNode) && (typeof keyNode.value === 'symbol' || (keyNode.value === '<<' && keyNode.type === 'PLAIN'))) {
          // `<<: *a` or `<<: [*a, *b]`
          const v = pair.value as YNode | null;
          const sources = isSeq(v) ? (v.items as (YNode | null)[]) : [v];
          for (const src of sources) {
            const m = convert(src, keyPos);
            if (m.kind !== 'map') {
              badMerge = true;
              reporter.error('SPEC_BAD_MERGE_KEY', '`<<` must refer to a mapping (or a list of mappings)', m.pos, [], 'use `<<: *anchor` where `&anchor` marks a mapping');
              continue;
            }
            for (const e of m.entries.values()) merged.push(e);
          }
          continue;
        }
        const key = keyString(keyNode, isScalar);
        map.entries.set(key, { key, keyPos, value: convert(pair.value as YNode | null, keyPos) });
      }
      for (const e of merged) if (!map.entries.has(e.key)) map.entries.set(e.key, e);
      depth--;
      out = map;
    } else {
      out = pscalar(pos, null, true);
    }
    memo.set(n, out);
    return out;
  };

  const root = convert(doc.contents as YNode, posAt(0, 1));
  if (stats !== undefined) stats.distinct = distinct;
  if (badMerge || tooDeep) return { file, root: undefined };
  // Nesting through aliases (each anchor wrapping the one before) is measured on the tree.
  const deep = nodeBeyondDepth(root, MAX_NESTING_DEPTH);
  if (deep !== undefined) {
    reporter.error('SPEC_YAML_TOO_DEEP', `the YAML nests deeper than ${MAX_NESTING_DEPTH} levels (through aliases)`, deep.pos, [], DEPTH_HINT);
    return { file, root: undefined };
  }
  const size = expandedSize(root);
  if (tooLarge(size, distinct)) {
    const firstAlias = text.search(/\*[^\s,\]}]/);
    const pos = firstAlias >= 0 ? posAt(firstAlias, firstAlias + 1) : posAt(0, 1);
    reporter.error('SPEC_ALIAS_BOMB', `aliases expand this document to ${size} nodes, from ${distinct} written`, pos, [], 'the file looks like an alias bomb ("billion laughs"); use fewer nested aliases');
    return { file, root: undefined };
  }
  return { file, root };
}

const DEPTH_HINT = 'a stack file nests a few levels deep; this one looks generated or hostile';

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? s;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}

function tagOf(tag: string | undefined): Tag {
  if (tag === '!reset') return 'reset';
  if (tag === '!override') return 'override';
  return undefined;
}

function scalarValue(n: YScalar): string | number | boolean | null {
  // Like Compose's YAML parser, a plain integer with a leading zero is octal (file modes: `mode: 0440`).
  if (n.type === 'PLAIN' && typeof n.source === 'string' && /^0[0-7]+$/.test(n.source)) return Number.parseInt(n.source, 8);
  const v: unknown = n.value;
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return String(v);
}

function keyString(n: YNode | null, isScalar: typeof YamlPackage.isScalar): string {
  if (n === null) return '';
  if (isScalar(n)) {
    const v: unknown = n.value;
    return v === null ? 'null' : String(v);
  }
  return String(n);
}
