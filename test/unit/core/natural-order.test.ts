// `stack ps` lists replicas as people count them (web-2 before web-10), without ICU's collator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { naturalCompare } from '../../../src/common/natural-order.js';

test('digit runs compare by value, the rest by code unit', () => {
  const names = ['app-web-10', 'app-db-1', 'app-web-2', 'app-web-1', 'app-web-02', 'app-web', 'app-web-1a'];
  assert.deepEqual([...names].sort(naturalCompare), ['app-db-1', 'app-web', 'app-web-1', 'app-web-1a', 'app-web-2', 'app-web-02', 'app-web-10']);
});

test('agrees with ICU numeric collation on lowercase names', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
  fc.assert(fc.property(name, name, (a, b) => {
    const ours = Math.sign(naturalCompare(a, b));
    const icu = Math.sign(a.localeCompare(b, 'en', { numeric: true }));
    // ICU orders "-" and digits differently from code units only when the letters/dashes differ; the property
    // checked is the one users see: names that differ only in their numbers are ordered by those numbers.
    if (a.replace(/\d+/g, '#') === b.replace(/\d+/g, '#') && !/(^|\D)0\d/.test(a + ' ' + b)) assert.equal(ours, icu, `${a} vs ${b}`);
  }));
});

test('is a total order: antisymmetric and consistent with equality', () => {
  fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
    assert.equal(Math.sign(naturalCompare(a, b)) + Math.sign(naturalCompare(b, a)), 0);
    if (naturalCompare(a, b) === 0) assert.equal(a, b);
  }));
});
