import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import fc from 'fast-check';
import { toYaml } from '../../../src/stack/yaml-out.js';

test('emits block YAML that reads back to the same data', () => {
  const data = {
    name: 'demo', n: 3, f: 0.5, t: true, nil: null, empty: '', list: ['a', 'true', '1.0', 'x: y', '- z', '#c', 'ok #no', '0o7', '~'],
    nested: [{ a: 1, b: [1, 2] }, [], {}, [[1], { c: 'd' }]], em: {}, el: [], 'key with: colon': 'v', multi: 'line1\nline2',
  };
  assert.deepEqual(parse(toYaml(data)), data);
  assert.equal(toYaml({ a: { b: [1] } }), 'a:\n  b:\n    - 1\n');
});

test('any JSON value round-trips through the emitter and a YAML parser', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const clean = JSON.parse(JSON.stringify(v)) as unknown;
    assert.deepEqual(parse(toYaml(clean)), clean);
  }), { numRuns: 2000 });
});
