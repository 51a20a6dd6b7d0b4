// The fast YAML reader must give exactly the tree the `yaml` package path gives (values, positions, tags,
// shared anchors, merges, the node count used by the alias-bomb check), or give up so the package is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readYamlFast } from '../../../src/stack/yaml-fast.js';
import { parseYaml, parseYamlWithPackage } from '../../../src/stack/parse.js';
import { Reporter } from '../../../src/stack/report.js';
import { fixturesRoot } from './helpers.js';

interface Outcome {
  readonly accepted: boolean;
  /** Diagnostics of the package path (the fast path is never taken when there are any). */
  readonly packageErrors: number;
}

/** Parses with both readers; asserts that whatever the fast reader accepts equals the package's tree. */
function compare(text: string, label: string): Outcome {
  const reporter = new Reporter();
  reporter.addSource('f.yaml', text);
  const stats = { distinct: -1 };
  const slow = parseYamlWithPackage(text, 'f.yaml', '/base', reporter, stats);
  const fast = readYamlFast(text, 'f.yaml', '/base');
  const onlyBomb = reporter.diagnostics.every((d) => d.code === 'SPEC_ALIAS_BOMB');
  if (fast === undefined) return { accepted: false, packageErrors: reporter.diagnostics.length };
  assert.ok(onlyBomb, `${label}: the fast reader accepted a document the package rejects: ${reporter.diagnostics.map((d) => d.message).join('; ')}`);
  if (reporter.diagnostics.length === 0) {
    if (fast.root === undefined) assert.deepEqual(slow.root, { kind: 'map', entries: new Map(), pos: { file: 'f.yaml', line: 1, col: 1, length: 1, base: '/base' }, tag: undefined }, label);
    else assert.deepStrictEqual(fast.root, slow.root, `${label}: trees differ`);
  }
  if (fast.root !== undefined) assert.equal(fast.distinct, stats.distinct, `${label}: node counts differ`);
  // And parseYaml (fast path first) reports exactly what the package path reports.
  const r1 = new Reporter();
  const viaParse = parseYaml(text, 'f.yaml', '/base', r1);
  assert.deepStrictEqual(r1.diagnostics, reporter.diagnostics, `${label}: diagnostics differ`);
  assert.deepStrictEqual(viaParse.root, slow.root, `${label}: parseYaml differs from the package path`);
  return { accepted: true, packageErrors: reporter.diagnostics.length };
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(n) ? [p] : [];
  });
}

test('every fixture: the fast reader gives the package tree, or gives up on the files with errors', () => {
  const files = yamlFiles(fixturesRoot());
  assert.ok(files.length > 20);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const r = compare(text, f);
    // Every valid fixture is inside the subset: the fast path is the one users get.
    if (r.packageErrors === 0) assert.ok(r.accepted, `${f}: expected the fast reader to read it`);
  }
});

const SUBSET_CASES: readonly string[] = [
  'services:\n  web:\n    image: nginx # comment\n    ports: ["8080:80", \'443:443\']\n',
  '---\nname: x\nservices: {}\n...\n# end\n',
  '# only a comment\n',
  '',
  'a:\nb: ~\nc: null\nd: true\ne: False\nf: 0440\ng: 0o17\nh: 0x1F\ni: 1.50\nj: 1e3\nk: .inf\nl: -.Inf\nm: .nan\nn: -0\no: +5\np: 12:30\nq: 1.\n',
  '1: a\ntrue: b\n0x10: c\n"quoted key": d\n\'single\': e\nnull: f\n',
  'a: "tab\\tnew\\nline \\u00e9 \\x41 \\U0001F600 \\\\ \\" \\/"\nb: \'it\'\'s\'\nc: ""\nd: \'\'\n',
  'a: plain with  spaces   \nb: a#b\nc: http://h:80/p\nd: -x\ne: :x\nf: é ü\n',
  'x: &a {k: 1, l: [1, 2, {m: n}]}\ny: *a\nz: [*a, *a]\n',
  'base: &b\n  restart: always\n  labels: {a: "1"}\nsvc:\n  <<: *b\n  restart: "no"\n',
  'a: &a {x: 1}\nb: &b {y: 2, x: 3}\nc:\n  <<: [*a, *b]\n  z: 4\n',
  'c:\n  <<: {inline: 1}\n  <<: {inline: 2, other: 3}\n',
  'p: !reset\nq: !reset []\nr: !override\n  - 1\ns: !override &o {a: 1}\nt: *o\nu: !reset 0440\nv: !reset x\nw: &e\n',
  'l: |\n  line 1\n    more\n\n  line 3\nf: >\n  folded\n  text\n\n  para\n    indented\n  back\nk: |+\n  keep\n\ns: >-\n  strip\n\n',
  'a: |\n\n  after empty\nb: >\n\n  x\n  y\nc: | # comment\n  x\n',
  '- a\n- - b\n  - c\n- d: 1\n  e: 2\n-\n- # c\n  x: 1\n- &s\n  y: 2\n- *s\n',
  'key:\n- a\n- b\nnext:\n  - c\n',
  'x: [a, b,]\ny: {a: 1, b: [x, y], c: {d: e},}\nz: []\nw: {}\nv: ["a,b", \'c]\', {"k": v}]\n',
  '  indented: root\n  other: 1\n',
  'a: [1, 0440, null, true, ~]\n',
];

test('hand-written documents in the subset: read by the fast reader, same tree as the package', () => {
  for (const text of SUBSET_CASES) {
    const r = compare(text, JSON.stringify(text));
    assert.ok(r.accepted, `expected the fast reader to read ${JSON.stringify(text)}`);
  }
});

const OUTSIDE_CASES: readonly string[] = [
  'a:\tb\n', // a tab
  'a: b\r\n', // CRLF
  '\ufeffa: b\n', // BOM
  '%YAML 1.2\n---\na: b\n', // a directive
  'a: 1\n---\nb: 2\n', // two documents
  'a: !!str 1\n', // other tags
  'a: !foo x\n',
  '? complex\n: key\n',
  'a: b\n  c\n', // a plain scalar on two lines
  'a: "b\n  c"\n', // a quoted scalar on two lines
  'a: [b,\n  c]\n', // a flow collection on two lines
  'a: |2\n   x\n', // an indentation indicator
  'a: 1\na: 2\n', // a duplicate key (the package reports it)
  'a: *nope\n', // an unknown alias
  'a: &x [*x]\n', // an alias inside its own anchor
  'a: b: c\n',
  'a: @x\n',
  '<<: 1\n', // a merge of a scalar
  'just a scalar\n',
  '- [a: b]\n',
];

test('documents outside the subset, or with errors: the fast reader gives up, parseYaml reports what the package does', () => {
  for (const text of OUTSIDE_CASES) {
    const r = compare(text, JSON.stringify(text));
    assert.ok(!r.accepted, `expected the fast reader to give up on ${JSON.stringify(text)}`);
  }
});

test('an alias bomb: parseYaml reports it exactly as the package path does', () => {
  const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (let i = 1; i < 8; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const text = `${lines.join('\n')}\n`;
  const r = compare(text, 'bomb');
  assert.equal(r.packageErrors, 1);
  const reporter = new Reporter();
  assert.equal(parseYaml(text, 'f.yaml', '/base', reporter).root, undefined);
  assert.equal(reporter.diagnostics[0]?.code, 'SPEC_ALIAS_BOMB');
});

// ---- generated documents -------------------------------------------------------------------------------

type Gen = { t: 'scalar'; s: string } | { t: 'flow'; s: string } | { t: 'block'; header: string; lines: [number, string][] } | { t: 'alias'; s: string } | { t: 'empty' } | { t: 'map'; entries: [string, string, Gen, string][]; step: number } | { t: 'seq'; items: [string, Gen][]; step: number };

const SCALARS = ['a', 'b c', 'x-y', 'true', 'False', 'null', '~', '0', '-0', '+5', '0440', '08', '0o17', '0x1F', '1.0', '.5', '1e3', '.inf', '.nan', '12:30', 'http://h:80/p', 'a#b', 'a # c', '-a', ':a', '"q"', "'q'", '"a\\"b"', '"\\t\\u00e9"', "'it''s'", '""', 'é', '${A:-b}', 'a: b', '@x', '- x', '!foo x', '*nope', '"open'];
const KEYS = ['a', 'b', 'c', 'image', '1', '"1x"', 'true', 'null', '"k y"', "'k2'", '<<', '0x10', '-k', 'a b'];
const PROPS = ['', '', '', '', '&A ', '!reset ', '!override ', '&B !reset ', '!!str '];
const FLOW_ITEMS = ['a', '1', '"x,y"', "'q'", 'true', '*A', 'a b', 'a:b', '0440', 'null', 'a: b', ''];

const flowArb: fc.Arbitrary<string> = fc.letrec<{ flow: string; item: string }>((tie) => ({
  item: fc.oneof({ depthSize: 'small' }, fc.constantFrom(...FLOW_ITEMS), tie('flow')),
  flow: fc
    .tuple(fc.boolean(), fc.array(tie('item'), { maxLength: 3 }), fc.constantFrom('', ',', ' '))
    .map(([isMap, items, trail]) => (isMap ? `{${items.map((x, i) => `k${i}: ${x}`).join(', ')}${items.length > 0 ? trail : ''}}` : `[${items.join(', ')}${items.length > 0 ? trail : ''}]`)),
})).flow;

const nodeArb = fc.letrec<{ node: Gen; map: Gen; seq: Gen }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...SCALARS).map((s): Gen => ({ t: 'scalar', s })),
    flowArb.map((s): Gen => ({ t: 'flow', s })),
    fc.tuple(fc.constantFrom('|', '>', '|-', '>-', '|+', '>+', '| # c'), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('', 'x', 'y z', ' lead', '# h')), { maxLength: 4 })).map(([header, lines]): Gen => ({ t: 'block', header, lines })),
    fc.constantFrom('*A', '*B').map((s): Gen => ({ t: 'alias', s })),
    fc.constant<Gen>({ t: 'empty' }),
    tie('map'),
    tie('seq'),
  ),
  map: fc.tuple(fc.array(fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...PROPS), tie('node'), fc.constantFrom('', '', ' # c', '  ')), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3 })).map(([entries, step]): Gen => ({ t: 'map', entries, step })),
  seq: fc.tuple(fc.array(fc.tuple(fc.constantFrom(...PROPS), tie('node')), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 2 })).map(([items, step]): Gen => ({ t: 'seq', items, step })),
}));

const pad = (n: number): string => ' '.repeat(n);

function valueText(v: Gen, n: number, props: string, step: number, inSeq: boolean): string {
  switch (v.t) {
    case 'scalar':
    case 'flow':
      return ` ${props}${v.s}`;
    case 'alias':
      return ` ${props}${v.s}`;
    case 'empty':
      return props === '' ? '' : ` ${props.trimEnd()}`;
    case 'block':
      return ` ${props}${v.header}\n${v.lines.map(([extra, l]) => (l === '' ? '' : pad(n + step + extra) + l)).join('\n')}`;
    case 'map': {
      if (inSeq && props === '' && v.step === 2) return ` ${mapText(v, n + 2).slice(n + 2)}`;
      return `${props === '' ? '' : ` ${props.trimEnd()}`}\n${mapText(v, n + step)}`;
    }
    case 'seq': {
      if (inSeq && props === '' && v.step === 0) return ` ${seqText(v, n + 2).slice(n + 2)}`;
      return `${props === '' ? '' : ` ${props.trimEnd()}`}\n${seqText(v, inSeq ? n + step : n + v.step)}`;
    }
  }
}

function mapText(m: Gen & { t: 'map' }, n: number): string {
  return m.entries.map(([k, props, v, tail]) => `${pad(n)}${k}:${valueText(v, n, props, m.step, false)}${v.t === 'scalar' || v.t === 'flow' || v.t === 'alias' || v.t === 'empty' ? tail : ''}`).join('\n');
}

function seqText(s: Gen & { t: 'seq' }, n: number): string {
  return s.items.map(([props, v]) => `${pad(n)}-${valueText(v, n, props, 2, true)}`).join('\n');
}

const docArb = fc
  .tuple(fc.constantFrom('', '---\n', '# c\n', '\n'), fc.oneof(nodeArb.map, nodeArb.seq), fc.constantFrom('', '\n', '\n...\n', '\n# end', '\n\n'))
  .map(([head, root, tail]) => {
    const anchors = root.t === 'seq' ? '- &A {x: 1}\n- &B\n  y: 2\n' : 'A: &A {x: 1}\nB: &B\n  y: 2\n';
    const body = root.t === 'map' ? mapText(root as Gen & { t: 'map' }, 0) : seqText(root as Gen & { t: 'seq' }, 0);
    return head + anchors + body + tail;
  });

test('generated documents: whatever the fast reader accepts equals the package tree', () => {
  let accepted = 0;
  fc.assert(
    fc.property(docArb, (text) => {
      if (compare(text, JSON.stringify(text)).accepted) accepted++;
    }),
    { numRuns: 600 },
  );
  // The generator stays mostly near the subset; a good share must take the fast path.
  assert.ok(accepted > 60, `only ${accepted} of 600 generated documents took the fast path`);
});
