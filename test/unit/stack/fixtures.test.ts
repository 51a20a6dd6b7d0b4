// Table-driven: every directory under test/fixtures/stack is a case. Its `case.json` says how to load it
// (options) and what must come out: the exact diagnostics (code, file, line, column) and, for a valid stack,
// a subset of the normalised model. "$DIR" in expected values and messages stands for the case directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadStack, diagnosticsOf } from '../../../src/stack/index.js';
import type { Diagnostic, LoadOptions } from '../../../src/stack/index.js';
import { fixturesRoot } from './helpers.js';

interface CaseFile {
  readonly description: string;
  readonly options?: Omit<LoadOptions, 'stdin' | 'cwd'> & { readonly cwd?: string; readonly stdin?: string };
  /** Every diagnostic expected, errors and warnings: [code, file (relative to the case dir), line, col]. */
  readonly diagnostics: readonly (readonly [string, string, number, number])[];
  readonly model?: unknown;
  /** Substrings expected in the messages/hints of the diagnostics, in order of the diagnostics list. */
  readonly messages?: readonly string[];
}

function subst(v: unknown, dir: string): unknown {
  if (typeof v === 'string') return v.replaceAll('$DIR', dir);
  if (Array.isArray(v)) return v.map((x) => subst(x, dir));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x, dir)]));
  return v;
}

/** Asserts that `expected` is contained in `actual` (objects: listed keys only; arrays: same length, each
 *  item a subset; "$ABSENT": the key must not be there). */
function assertSubset(actual: unknown, expected: unknown, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected a list, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: expected ${expected.length} items, got ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => assertSubset((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) {
      if (v === '$ABSENT') {
        assert.ok(!(k in (actual as object)) || (actual as Record<string, unknown>)[k] === undefined, `${path}.${k} should be absent`);
        continue;
      }
      assertSubset((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    }
    return;
  }
  assert.deepEqual(JSON.parse(JSON.stringify(actual ?? null)), expected, `${path} differs`);
}

const root = fixturesRoot();
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  const caseFile = join(dir, 'case.json');
  if (!existsSync(caseFile)) continue;
  const spec = JSON.parse(readFileSync(caseFile, 'utf8')) as CaseFile;
  test(`${name}: ${spec.description}`, async () => {
    const opts = (subst(spec.options ?? {}, dir) ?? {}) as CaseFile['options'] & object;
    const stdinText = opts.stdin;
    let diagnostics: readonly Diagnostic[];
    let model: unknown;
    try {
      const r = await loadStack({
        ...opts,
        env: opts.env ?? {},
        cwd: opts.cwd === undefined ? dir : join(dir, opts.cwd),
        stdin: stdinText === undefined ? undefined : () => Promise.resolve(stdinText),
      });
      diagnostics = r.diagnostics;
      model = r.model;
    } catch (e) {
      const d = diagnosticsOf(e);
      if (d === undefined) throw e;
      diagnostics = d;
    }
    const got = diagnostics.map((d) => [d.code, d.location === undefined ? '' : relative(dir, d.location.file), d.location?.line ?? 0, d.location?.col ?? 0]);
    const want = spec.diagnostics.map((d) => [...d]);
    const key = (x: unknown[]): string => JSON.stringify(x);
    assert.deepEqual([...got].sort((a, b) => key(a).localeCompare(key(b))), [...want].sort((a, b) => key(a).localeCompare(key(b))), `diagnostics differ:\n${diagnostics.map((d) => `  ${d.code} ${d.message} @${d.location?.line}:${d.location?.col}`).join('\n')}`);
    for (const [i, m] of (subst(spec.messages ?? [], dir) as string[]).entries()) {
      const text = diagnostics.map((d) => `${d.message} | ${d.hint ?? ''}`);
      assert.ok(text.some((t) => t.includes(m)), `message #${i} ${JSON.stringify(m)} not found in:\n${text.join('\n')}`);
    }
    const hasErrors = diagnostics.some((d) => d.severity === 'error');
    if (spec.model !== undefined) {
      assert.ok(!hasErrors, 'expected a valid stack');
      assertSubset(model, subst(spec.model, dir), 'model');
    } else {
      assert.ok(hasErrors || model !== undefined);
    }
  });
}
