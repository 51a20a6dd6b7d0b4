import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { interpolate, parseTemplate, TemplateSyntaxError } from '../../../src/stack/interpolate.js';

const env: Record<string, string> = { SET: 'value', EMPTY: '', OTHER: 'o' };
const lookup = (n: string): string | undefined => env[n];

describe('interpolate: every form', () => {
  const cases: [string, string][] = [
    ['$SET', 'value'],
    ['${SET}', 'value'],
    ['a${SET}b$SET.c', 'avalueb' + 'value.c'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${SET:-d}', 'value'],
    ['${UNSET-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${UNSET:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${SET:?msg}', 'value'],
    ['${EMPTY?msg}', ''],
    ['${UNSET:-${OTHER}}', 'o'],
    ['${UNSET:-${ALSO:-deep ${SET}}}', 'deep value'],
    ['${UNSET:-a:b-c}', 'a:b-c'],
    ['$$', '$'],
    ['$${SET}', '${SET}'],
    ['$$$SET', '$value'],
    ['no dollars', 'no dollars'],
    ['${UNSET:-}', ''],
  ];
  for (const [input, want] of cases) {
    test(`${input} -> ${JSON.stringify(want)}`, () => {
      const r = interpolate(input, lookup);
      assert.deepEqual(r.problems, []);
      assert.equal(r.value, want);
    });
  }
  test('unset variables without a default are reported (and become empty)', () => {
    const r = interpolate('x${NOPE}y$NOPE2', lookup);
    assert.equal(r.value, 'xy');
    assert.deepEqual(r.unset, ['NOPE', 'NOPE2']);
  });
  test('a default that is not used does not count as unset', () => {
    assert.deepEqual(interpolate('${SET:-${NOPE}}', lookup).unset, []);
  });
  test('required variables: message and offset', () => {
    const r = interpolate('ab${UNSET:?give it}', lookup);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]?.kind, 'required');
    assert.equal(r.problems[0]?.offset, 2);
    assert.match(r.problems[0]?.message ?? '', /UNSET is not set: give it/);
    assert.match(interpolate('${EMPTY:?}', lookup).problems[0]?.message ?? '', /EMPTY is empty/);
    assert.match(interpolate('${UNSET?}', lookup).problems[0]?.message ?? '', /UNSET is not set/);
  });
  test('syntax errors carry the offset of the bad "$"', () => {
    for (const [input, offset] of [['${', 0], ['x${}', 1], ['${A', 0], ['${A:-b', 0], ['${A B}', 0], ['ab$', 2], ['$ 5', 0], ['${1A}', 0]] as const) {
      const r = interpolate(input, lookup);
      assert.equal(r.problems[0]?.kind, 'syntax', input);
      assert.equal(r.problems[0]?.offset, offset, input);
    }
  });
});

describe('interpolate: properties', () => {
  const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '-', ':', '{', '}', '$', '"', '\\') });
  const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/);
  test('escaping every "$" as "$$" gives back the text', () => {
    fc.assert(fc.property(text, (s) => {
      const r = interpolate(s.split('$').join('$$'), () => 'X');
      return r.problems.length === 0 && r.value === s;
    }));
  });
  test('text without "$" is unchanged', () => {
    fc.assert(fc.property(text.map((s) => s.replaceAll('$', '')), (s) => interpolate(s, () => 'X').value === s));
  });
  test('${NAME} and $NAME read the variable', () => {
    fc.assert(fc.property(name, fc.string(), (n, v) => interpolate(`\${${n}}`, (x) => (x === n ? v : undefined)).value === v && interpolate(`[$${n}]`, (x) => (x === n ? v : undefined)).value === `[${v}]`));
  });
  test('${NAME:-default}: the value when set and non-empty, else the default', () => {
    fc.assert(fc.property(name, fc.option(fc.string()), fc.stringMatching(/^[a-z ]*$/), (n, v, d) => {
      const r = interpolate(`\${${n}:-${d}}`, (x) => (x === n ? (v ?? undefined) : undefined));
      return r.value === (v !== null && v !== '' ? v : d);
    }));
  });
  test('the parser never throws anything but TemplateSyntaxError', () => {
    fc.assert(fc.property(text, (s) => {
      try {
        parseTemplate(s);
      } catch (e) {
        return e instanceof TemplateSyntaxError && e.offset >= 0 && e.offset < Math.max(1, s.length);
      }
      return true;
    }));
  });
});
