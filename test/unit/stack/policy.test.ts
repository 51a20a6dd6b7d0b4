// The stack file policy on real files in a temp dir: what a stack makes the loader read, what it may show of
// it, and what strict mode refuses (see src/stack/file-policy.ts and host-access.ts). The fixture cases
// warn-risky, err-strict-risky and err-strict-paths cover the rest.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import type { Diagnostic, LoadOptions } from '../../../src/stack/index.js';
import { DEFAULT_MAX_FILE_BYTES, readStdinCapped, diagnosticsOf, formatDiagnostic, formatDiagnosticLine, loadStack, MAX_NESTING_DEPTH } from '../../../src/stack/index.js';
import { parseYamlWithPackage } from '../../../src/stack/parse.js';
import { Reporter } from '../../../src/stack/report.js';
import { readYamlFast } from '../../../src/stack/yaml-fast.js';
import { stackConfigCommand } from '../../../src/cli/commands/stack-config.js';

const roots: string[] = [];
after(() => { for (const r of roots) rmSync(r, { recursive: true, force: true }); });

/** A temp dir holding `files` (paths may have directories); the project is its `proj/` directory. */
function layout(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'gantry-policy-test-'));
  roots.push(root);
  mkdirSync(join(root, 'proj'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  return root;
}

interface Outcome {
  readonly diagnostics: readonly Diagnostic[];
  /** Everything a user could see: the error message, each diagnostic in both formats, hints. */
  readonly shown: string;
}

async function load(root: string, options: LoadOptions = {}): Promise<Outcome> {
  let diagnostics: readonly Diagnostic[];
  let message = '';
  try {
    diagnostics = (await loadStack({ cwd: join(root, 'proj'), env: {}, ...options })).diagnostics;
  } catch (e) {
    const d = diagnosticsOf(e);
    if (d === undefined) throw e;
    assert.ok(e instanceof GantryError);
    message = `${e.message}\n${e.hint ?? ''}`;
    diagnostics = d;
  }
  const shown = [message, ...diagnostics.flatMap((d) => [formatDiagnostic(d), formatDiagnosticLine(d), JSON.stringify(d)])].join('\n');
  return { diagnostics, shown };
}

const codes = (o: Outcome): string[] => o.diagnostics.map((d) => d.code).sort();

const SECRET = 'S3CRET-hash-9f8e7d';
/** A fake /etc/shadow: not KEY=VALUE, not a YAML mapping, and the secret on every line. */
const SHADOW = `root:$6$${SECRET}$abc:19000:0:99999:7:::\ndaemon:*:${SECRET}:0:99999:7:::\n"unterminated ${SECRET}\nKEY_${SECRET}='open\n`;

describe('files outside the project: no text of them in any output', () => {
  const root = layout({
    'host/shadow': SHADOW,
    'host/shadow.yaml': `services:\n  x:\n    image: [${SECRET}\n`,
    'host/keys.yaml': `services:\n  ${SECRET}:\n    image: a\n    ${SECRET}_key: 1\n`,
  });
  test('env_file: ../host/shadow — located errors (file, line, column, kind), no line text, no excerpt', async () => {
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    env_file: ../host/shadow\n');
    const o = await load(root);
    assert.ok(o.diagnostics.length >= 3, o.shown);
    for (const d of o.diagnostics) {
      assert.equal(d.code, 'SPEC_ENV_FILE_SYNTAX');
      assert.equal(d.location?.file, join(root, 'host/shadow'));
      assert.equal(d.location?.lineText, undefined);
      assert.equal(d.message, 'a line of an env file is malformed');
    }
    assert.deepEqual(o.diagnostics.map((d) => d.location?.line).sort(), [1, 2, 3, 4]);
    assert.ok(!o.shown.includes(SECRET), o.shown);
    assert.match(o.shown, /host\/shadow:1:1/);
  });
  test('include, extends.file, a YAML syntax error and unknown keys in outside files show none of their text', async () => {
    for (const stack of [
      'include:\n  - ../host/shadow\nservices:\n  web:\n    image: a\n',
      'include:\n  - ../host/shadow.yaml\nservices:\n  web:\n    image: a\n',
      'include:\n  - ../host/keys.yaml\nservices:\n  web:\n    image: a\n',
      'services:\n  web:\n    extends:\n      file: ../host/shadow.yaml\n      service: x\n',
      'services:\n  web:\n    extends:\n      file: ../host/keys.yaml\n      service: nope\n',
      'include:\n  - path: ./inc.yaml\n    env_file: ../host/shadow\nservices:\n  web:\n    image: a\n',
    ]) {
      writeFileSync(join(root, 'proj/compose.yaml'), stack);
      writeFileSync(join(root, 'proj/inc.yaml'), 'services:\n  inc:\n    image: a\n');
      const o = await load(root);
      assert.ok(o.diagnostics.some((d) => d.severity === 'error'), `${stack}\n${o.shown}`);
      assert.ok(!o.shown.includes(SECRET), `${stack}\n${o.shown}`);
    }
  });
  test('a malformed env file inside the project keeps its excerpt and its precise message', async () => {
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    env_file: ./own.env\n');
    writeFileSync(join(root, 'proj/own.env'), "OK=1\nBAD='open\n");
    const o = await load(root);
    assert.deepEqual(codes(o), ['SPEC_ENV_FILE_SYNTAX']);
    assert.equal(o.diagnostics[0]?.location?.lineText, "BAD='open");
    assert.match(o.diagnostics[0]?.message ?? '', /unterminated single quote in the value of BAD/);
  });
  test('by default (compose rules) an env_file outside the project is read: ../shared.env works', async () => {
    writeFileSync(join(root, 'shared.env'), 'SHARED=yes\n');
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    env_file: ../shared.env\n');
    const r = await loadStack({ cwd: join(root, 'proj'), env: {} });
    assert.equal(r.model.services['web']?.environment['SHARED'], 'yes');
  });
});

describe('strict mode: paths through symlinks and variables', () => {
  const root = layout({ 'outside/x.env': 'X=1\n', 'outside/data/.keep': '' });
  symlinkSync('../outside', join(root, 'proj/link'));
  mkdirSync(join(root, 'proj/data'));
  test('a symlink inside the project pointing out is refused for binds and env files; a real inside path is not', async () => {
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    env_file: ./link/x.env\n    volumes:\n      - ./link/data:/d\n      - ./link/new/dir:/n\n      - ./data:/own\n');
    const o = await load(root, { strict: true });
    assert.deepEqual(o.diagnostics.map((d) => [d.code, d.location?.line, d.location?.col]).sort(), [
      ['SPEC_PATH_OUTSIDE_PROJECT', 4, 15], ['SPEC_PATH_OUTSIDE_PROJECT', 6, 9], ['SPEC_PATH_OUTSIDE_PROJECT', 7, 9],
    ], o.shown);
    assert.match(o.shown, /env_file .*\/proj\/link\/x\.env is outside the project directory/);
    // Without --strict the same stack loads (compose rules).
    const lax = await load(root);
    assert.deepEqual(codes(lax), []);
  });
  test('a variable that leads out (${DIR}/x.env, ${UP}/outside) is caught after interpolation', async () => {
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    env_file: ${DIR}/x.env\n    volumes:\n      - ${UP}/outside/data:/d\n');
    const o = await load(root, { strict: true, env: { DIR: join(root, 'outside'), UP: '..' } });
    assert.deepEqual(codes(o), ['SPEC_PATH_OUTSIDE_PROJECT', 'SPEC_PATH_OUTSIDE_PROJECT'], o.shown);
  });
  test("a project's own compose.yaml or .env that is a symlink out: refused in strict mode, shown without text otherwise", async () => {
    const r = layout({ 'outside/compose.yaml': `services:\n  web:\n    image: a\n    ${SECRET}: 1\n`, 'outside/x.env': 'X=1\n' });
    symlinkSync('../outside/compose.yaml', join(r, 'proj/compose.yaml'));
    const strict = await load(r, { strict: true });
    assert.deepEqual(codes(strict), ['SPEC_PATH_OUTSIDE_PROJECT'], strict.shown);
    assert.match(strict.shown, /stack file .*\/proj\/compose\.yaml is outside the project directory/);
    const lax = await load(r);
    assert.deepEqual(codes(lax), ['SPEC_UNKNOWN_KEY'], lax.shown);
    assert.ok(!lax.shown.includes(SECRET), lax.shown);
    rmSync(join(r, 'proj/compose.yaml'));
    writeFileSync(join(r, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n');
    symlinkSync('../outside/x.env', join(r, 'proj/.env'));
    assert.deepEqual(codes(await load(r, { strict: true })), ['SPEC_PATH_OUTSIDE_PROJECT']);
    assert.deepEqual(codes(await load(r)), []);
  });
  test('stack config --strict refuses (exit 1) what plain stack config only warns about', async () => {
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  web:\n    image: a\n    privileged: true\n');
    const run = async (strict: boolean): Promise<{ code: number; err: string }> => {
      let err = '';
      const code = await stackConfigCommand({ files: [], projectName: undefined, projectDirectory: undefined, profiles: [], envFiles: [], format: 'yaml', services: false, volumes: false,
        strict, cwd: join(root, 'proj'), env: {}, stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) } });
      return { code, err };
    };
    const lax = await run(false);
    assert.equal(lax.code, 0);
    assert.match(lax.err, /warning\[SPEC_RISKY_PRIVILEGED\]: service "web" runs privileged: this gives the container full control of the host/);
    const strict = await run(true);
    assert.equal(strict.code, 1);
    assert.match(strict.err, /error\[SPEC_RISKY_PRIVILEGED\]/);
  });
});

describe('size cap', () => {
  test('a stack file over the default cap (4 MiB) is refused by size, naming the file and the cap', async () => {
    const root = layout({ 'proj/compose.yaml': `services:\n  a:\n    image: a\n#${'x'.repeat(DEFAULT_MAX_FILE_BYTES)}\n` });
    const o = await load(root);
    assert.deepEqual(codes(o), ['SPEC_FILE_TOO_LARGE']);
    assert.match(o.diagnostics[0]?.message ?? '', /^stack file .*\/proj\/compose\.yaml is larger than the 4194304-byte cap \(\d+ bytes\)$/);
    assert.equal(o.diagnostics[0]?.hint, 'stack and env files are capped at 4 MiB; split the file, or check that the path names the right file');
  });
  test('standard input is read only up to the cap, even from an endless pipe, and then refused', async () => {
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) yield Buffer.from('# filler line\n'.repeat(1000));
    }
    const text = await readStdinCapped(endless(), 1000);
    assert.equal(text.length, 1001);
    const root = layout({});
    const o = await load(root, { files: ['-'], maxFileBytes: 1000, stdin: () => Promise.resolve(text) });
    assert.deepEqual(o.diagnostics.map((d) => [d.code, d.message]), [['SPEC_FILE_TOO_LARGE', 'stack file <stdin> is larger than the 1000-byte cap']]);
  });
  test('included, extended and env files are capped too (located at the line that names them)', async () => {
    const big = `# ${'y'.repeat(300)}\nservices:\n  b:\n    image: b\n`;
    const root = layout({ 'proj/big.yaml': big, 'proj/big.env': `A=${'z'.repeat(300)}\n` });
    writeFileSync(join(root, 'proj/compose.yaml'), 'include:\n  - ./big.yaml\nservices:\n  c:\n    extends:\n      file: ./big.yaml\n      service: b\n');
    const o = await load(root, { maxFileBytes: 200 });
    assert.deepEqual(o.diagnostics.map((d) => [d.code, d.location?.line]).sort(), [['SPEC_FILE_TOO_LARGE', 2], ['SPEC_FILE_TOO_LARGE', 6]], o.shown);
    assert.match(o.diagnostics[0]?.message ?? '', /big\.yaml is larger than the 200-byte cap \(331 bytes\)/);
    writeFileSync(join(root, 'proj/compose.yaml'), 'services:\n  a:\n    image: a\n    env_file: ./big.env\n');
    const e = await load(root, { maxFileBytes: 200 });
    assert.deepEqual(e.diagnostics.map((d) => [d.code, d.location?.line, d.location?.col]), [['SPEC_FILE_TOO_LARGE', 4, 15]], e.shown);
  });
});

describe('nesting depth cap', () => {
  const deepFlow = (n: number): string => `services:\n  a:\n    image: a\n    x-deep: ${'['.repeat(n)}${']'.repeat(n)}\n`;
  const deepBlock = (n: number): string => `services:\n  a:\n    image: a\n    x-deep:\n${Array.from({ length: n }, (_, i) => `${' '.repeat(6 + i)}k:\n`).join('')}`;
  const aliasChain = (n: number): string => `services:\n  a:\n    image: a\nx-0: &a0 [1]\n${Array.from({ length: n }, (_, i) => `x-${i + 1}: &a${i + 1} [*a${i}]\n`).join('')}`;
  for (const [what, text, line] of [
    ['10,000 nested flow sequences', deepFlow(10_000), undefined],
    ['300 nested block mappings', deepBlock(300), 4 + MAX_NESTING_DEPTH - 2],
    ['2,000 nested block mappings (2 MB; the package itself gives up)', deepBlock(2_000), undefined],
    ['aliases each wrapping the one before', aliasChain(300), undefined],
  ] as const) {
    test(`${what}: a located SPEC_YAML_TOO_DEEP error, no crash`, async () => {
      const root = layout({ 'proj/compose.yaml': text });
      const o = await load(root);
      assert.deepEqual(codes(o), ['SPEC_YAML_TOO_DEEP'], o.shown);
      const d = o.diagnostics[0] as Diagnostic;
      assert.match(d.message, /^the YAML nests deeper than 100 levels/);
      assert.equal(d.location?.file, join(root, 'proj/compose.yaml'));
      if (line !== undefined) assert.equal(d.location?.line, line);
    });
  }
  test('the fast reader gives up past the cap (no exception); the package reader reports it', () => {
    assert.equal(readYamlFast(deepFlow(10_000), 'f', '/', MAX_NESTING_DEPTH), undefined);
    assert.equal(readYamlFast(deepBlock(200), 'f', '/', MAX_NESTING_DEPTH), undefined);
    assert.notEqual(readYamlFast(deepBlock(50), 'f', '/', MAX_NESTING_DEPTH), undefined);
    const reporter = new Reporter();
    assert.equal(parseYamlWithPackage(deepBlock(200), 'f', '/', reporter).root, undefined);
    assert.deepEqual(reporter.diagnostics.map((d) => d.code), ['SPEC_YAML_TOO_DEEP']);
  });
  test('nesting just under the cap loads', async () => {
    const root = layout({ 'proj/compose.yaml': deepFlow(MAX_NESTING_DEPTH - 4) });
    assert.deepEqual(codes(await load(root)), []);
  });
});
