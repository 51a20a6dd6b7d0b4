// Golden files: every example stack and a set of the loader's test stacks, converted to Kubernetes objects.
// The YAML and the conversion's diagnostics must match test/fixtures/kube/golden/ byte for byte, every object
// must pass validateObjects (kubernetes-models schemas, unknown fields, names, quantities), and converting twice
// gives the same text. GANTRY_UPDATE_GOLDEN=1 rewrites the golden files (review the diff before committing).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { convertStack, type ConvertOptions } from '../../../src/kube/convert.js';
import { readObjectFile } from '../../../src/kube/files.js';
import { renderStream } from '../../../src/kube/render.js';
import { validateObjects } from '../../../src/kube/validate.js';
import { loadStack, type LoadOptions } from '../../../src/stack/index.js';
import { repoRoot } from '../stack/helpers.js';

interface Case {
  readonly name: string;
  readonly dir?: string;
  readonly fixture?: string;
  readonly env?: Record<string, string>;
  readonly convert?: Omit<ConvertOptions, 'readFile'>;
}

const root = repoRoot();
const kubeDir = join(root, 'test', 'fixtures', 'kube');
const cases = (JSON.parse(readFileSync(join(kubeDir, 'cases.json'), 'utf8')) as { cases: Case[] }).cases;
const update = process.env['GANTRY_UPDATE_GOLDEN'] === '1';

export async function convertCase(c: Case): Promise<{ yaml: string; diagnostics: string; problems: string[] }> {
  let dir: string;
  let options: Omit<LoadOptions, 'cwd'> = {};
  if (c.fixture !== undefined) {
    dir = join(root, 'test', 'fixtures', 'stack', c.fixture);
    const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { options?: Omit<LoadOptions, 'cwd'> & { cwd?: string } };
    const { cwd, ...rest } = spec.options ?? {};
    options = rest;
    if (cwd !== undefined) dir = join(dir, cwd);
  } else {
    dir = join(root, c.dir ?? '.');
  }
  const r = await loadStack({ ...options, env: { ...(options.env ?? {}), ...(c.env ?? {}) }, cwd: dir });
  const model = { ...r.model, secrets: Object.fromEntries(Object.entries(r.model.secrets).map(([k, o]) => [k, o.environment !== undefined ? { ...o, content: c.env?.[o.environment] ?? '' } : o])) };
  const result = convertStack(model, r.source, { ...(c.convert ?? {}), readFile: readObjectFile });
  const diagnostics = result.diagnostics.map((d) => `${d.severity} ${d.code} ${d.location === undefined ? '-' : `${relative(root, d.location.file)}:${d.location.line}:${d.location.col}`} ${d.message}${d.hint === undefined ? '' : ` (hint: ${d.hint})`}\n`).join('');
  const hasErrors = result.diagnostics.some((d) => d.severity === 'error');
  const problems = (await validateObjects(result.objects)).map((p) => `${p.object} ${p.path}: ${p.message}`);
  // Host paths in messages are shown relative to the repository, so the golden files hold for any checkout.
  return { yaml: hasErrors ? '' : renderStream(result.objects), diagnostics: diagnostics.replaceAll(`${root}/`, '$ROOT/'), problems };
}

for (const c of cases) {
  test(`golden: ${c.name}`, async () => {
    const got = await convertCase(c);
    assert.deepEqual(got.problems, [], 'every converted object validates');
    const again = await convertCase(c);
    assert.equal(again.yaml, got.yaml, 'the output is deterministic');
    const yamlFile = join(kubeDir, 'golden', `${c.name}.yaml`);
    const diagFile = join(kubeDir, 'golden', `${c.name}.txt`);
    if (update) {
      mkdirSync(join(kubeDir, 'golden'), { recursive: true });
      writeFileSync(yamlFile, got.yaml);
      writeFileSync(diagFile, got.diagnostics);
      return;
    }
    assert.ok(existsSync(yamlFile), `${yamlFile} is missing: run with GANTRY_UPDATE_GOLDEN=1`);
    assert.equal(got.yaml, readFileSync(yamlFile, 'utf8'), `objects differ from ${relative(root, yamlFile)} (GANTRY_UPDATE_GOLDEN=1 regenerates)`);
    assert.equal(got.diagnostics, readFileSync(diagFile, 'utf8'), `diagnostics differ from ${relative(root, diagFile)}`);
  });
}
