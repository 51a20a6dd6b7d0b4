// Loads a checkout's stack the way a deployment must: strict policy (src/stack/host-access.ts), paths inside the
// checkout only, the operator's env file as the environment (never the daemon's own), the source's name as the
// project name unless the stack sets `name:`. Answers the model, or the located diagnostics.
import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../common/errors.js';
import type { Diagnostic } from '../stack/diagnostic.js';
import { parseEnvFile } from '../stack/env-file.js';
import { diagnosticsOf, loadStack } from '../stack/index.js';
import type { StackModel } from '../stack/model.js';
import { Reporter } from '../stack/report.js';
import type { DeploySpec } from './types.js';

export type LoadOutcome =
  | { readonly ok: true; readonly model: StackModel; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly message: string; readonly diagnostics: readonly Diagnostic[] };

const MAX_ENV_FILE = 256 * 1024;

/** The operator's env file as variables (its text never appears in a diagnostic: it may hold secrets). */
export function readEnvFile(path: string): Map<string, string> {
  let size: number;
  try { size = statSync(path).size; } catch {
    throw new GantryError('INVALID_ARGUMENT', `cannot read the env file ${path}`, { hint: 'the daemon reads it at each sync: check that it exists' });
  }
  if (size > MAX_ENV_FILE) throw new GantryError('TOO_LARGE', `the env file ${path} is over 256 KiB`);
  const reporter = new Reporter();
  reporter.markUntrusted(path);
  const vars = parseEnvFile(readFileSync(path, 'utf8'), path, {}, reporter);
  const bad = reporter.diagnostics.find((d) => d.severity === 'error');
  if (bad !== undefined) throw new GantryError('INVALID_ARGUMENT', `the env file ${path} has a syntax error at line ${bad.location?.line ?? '?'}`, { hint: 'lines are KEY=VALUE' });
  return vars;
}

/** The stack files and project directory of `paths` in the checkout (a directory: discovery in it). */
function stackFiles(checkout: string, paths: readonly string[]): { files: string[] | undefined; projectDirectory: string } | { missing: string } {
  if (paths.length === 0) return { files: undefined, projectDirectory: checkout };
  const abs = paths.map((p) => join(checkout, p));
  for (const [i, p] of abs.entries()) {
    // lstat: a symlink in the checkout is never followed to find the stack (strict mode then checks real paths).
    if (!existsSync(p) && !isLink(p)) return { missing: paths[i]! };
  }
  const first = abs[0]!;
  if (abs.length === 1 && !isLink(first) && statSync(first).isDirectory()) return { files: undefined, projectDirectory: first };
  return { files: abs, projectDirectory: join(first, '..') };
}

function isLink(p: string): boolean {
  try { return lstatSync(p).isSymbolicLink(); } catch { return false; }
}

export async function loadCheckout(spec: DeploySpec, checkout: string, commit: string): Promise<LoadOutcome> {
  const where = stackFiles(checkout, spec.paths);
  if ('missing' in where) return { ok: false, message: `--path ${where.missing} does not exist in commit ${commit.slice(0, 12)}`, diagnostics: [] };
  const env = spec.envFile === undefined ? {} : Object.fromEntries(readEnvFile(spec.envFile));
  try {
    const r = await loadStack({
      files: where.files, projectDirectory: where.projectDirectory, cwd: where.projectDirectory, env, strict: true, defaultProjectName: spec.name,
      envFiles: [],
    });
    // `environment:` secrets/configs take their value from the operator's env file.
    const fix = (objs: StackModel['secrets']): StackModel['secrets'] => Object.fromEntries(Object.entries(objs).map(([k, o]) =>
      [k, o.environment !== undefined && o.content === undefined ? { ...o, content: env[o.environment] ?? '' } : o]));
    return { ok: true, model: { ...r.model, secrets: fix(r.model.secrets), configs: fix(r.model.configs) }, diagnostics: r.diagnostics };
  } catch (e) {
    const diagnostics = diagnosticsOf(e);
    if (diagnostics === undefined) throw e;
    return { ok: false, message: e instanceof Error ? e.message : String(e), diagnostics };
  }
}
