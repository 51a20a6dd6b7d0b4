// The stack loader's public entry points: loadStack (the front half of `gantry up`), the model types, the
// diagnostic formatter and the service config hash. Pure: it reads files and nothing else.

import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { GantryError } from '../common/errors.js';
import type { ComposeContext } from './compose.js';
import { composeFiles, envLookup } from './compose.js';
import type { Diagnostic } from './diagnostic.js';
import { discover, STACK_FILE_NAMES, STDIN_FILE } from './discover.js';
import { allowPath, makeFilePolicy } from './file-policy.js';
import { checkHostAccess } from './host-access.js';
import type { StackModel } from './model.js';
import { normalizeStack } from './normalize.js';
import type { DiagnosticCode } from './diagnostic-codes.js';
import type { Severity } from './diagnostic.js';
import type { PathSeg, PMap, PNode } from './pnode.js';
import { getEntry, locate, pmap } from './pnode.js';
import { Reporter, sortDiagnostics } from './report.js';
import { checkSemantics } from './semantics.js';
import { reportUnsupported } from './unsupported.js';
import { validateTree } from './validate.js';

export type * from './model.js';
export type { Diagnostic, Severity, SourceLocation } from './diagnostic.js';
export type { PathSeg, PNode, PMap, PSeq, PScalar, Pos } from './pnode.js';
export type { DiagnosticCode } from './diagnostic-codes.js';
export { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
export { formatPath, isError } from './diagnostic.js';
export { formatDiagnostic, formatDiagnosticLine } from './format.js';
export type { FormatOptions } from './format.js';
export { serviceConfigHash, canonicalJson } from './hash.js';
export { STACK_FILE_NAMES } from './discover.js';
export { UNSUPPORTED_KEYS } from './unsupported.js';
export { DEFAULT_MAX_FILE_BYTES, readStdinCapped } from './file-policy.js';
export { MAX_NESTING_DEPTH } from './parse.js';

export interface LoadOptions {
  /** Stack files, in merge order ("-" reads standard input). Default: discovery in the working directory. */
  readonly files?: readonly string[] | undefined;
  readonly projectDirectory?: string | undefined;
  readonly projectName?: string | undefined;
  /** The name when neither projectName, COMPOSE_PROJECT_NAME nor `name:` sets one (default: the directory's). */
  readonly defaultProjectName?: string | undefined;
  readonly profiles?: readonly string[] | undefined;
  /** Env files for interpolation (default: `.env` in the project directory, if present). */
  readonly envFiles?: readonly string[] | undefined;
  /** The shell environment (default: process.env); it takes precedence over env files. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly cwd?: string | undefined;
  readonly stdin?: (() => Promise<string>) | undefined;
  /**
   * Strict mode (`--strict`; deployments from git force it): privileged, added capabilities, host
   * namespaces, devices and binds of the host root, system directories or the daemon socket are errors, not
   * warnings, and every path the stack names (env_file, include, extends.file, secret/config files, bind
   * sources, build contexts) must resolve, after interpolation and symlinks, inside the project directory.
   */
  readonly strict?: boolean | undefined;
  /** Size cap for every file read (default DEFAULT_MAX_FILE_BYTES, 4 MiB). */
  readonly maxFileBytes?: number | undefined;
  /**
   * false: the model is not deep-frozen (only its top level), for a caller that prints it and drops it (`stack
   * config`: freezing walks every object of the model, ~1.5 ms of a cold 100-service load). Default true.
   */
  readonly freeze?: boolean | undefined;
}

export interface LoadResult {
  readonly model: StackModel;
  /** Warnings only: when there are errors, loadStack throws STACK_INVALID instead. */
  readonly diagnostics: readonly Diagnostic[];
  /** The merged, interpolated tree the model was made from, for later stages that report located diagnostics
   *  about what the user wrote (`stack convert`). */
  readonly source: StackSource;
}

/** The positioned tree behind a model, and a way to make diagnostics located in it (excerpts as the loader's). */
export interface StackSource {
  readonly root: PNode;
  diagnostic(severity: Severity, code: DiagnosticCode, message: string, path: readonly PathSeg[], hint: string | undefined, at?: 'key' | 'value'): Diagnostic;
}

/** Normalises a project name: lowercase, only [a-z0-9_-], starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[^a-z0-9]+/, '');
}

/** Errors after which the tree is not worth validating (it is missing, or not what the file says). */
const STRUCTURAL = new Set(['SPEC_YAML_SYNTAX', 'SPEC_FILE_NOT_FOUND', 'SPEC_ALIAS_BOMB', 'SPEC_DUPLICATE_KEY', 'SPEC_BAD_MERGE_KEY', 'SPEC_NOT_A_MAPPING', 'SPEC_YAML_TOO_DEEP', 'SPEC_FILE_TOO_LARGE']);

function hasStructuralErrors(reporter: Reporter): boolean {
  return reporter.diagnostics.some((d) => d.severity === 'error' && STRUCTURAL.has(d.code));
}

function fail(diagnostics: readonly Diagnostic[]): never {
  const sorted = sortDiagnostics(diagnostics);
  const errors = sorted.filter((d) => d.severity === 'error');
  const first = errors[0];
  const where = first?.location === undefined ? '' : `${first.location.file}:${first.location.line}:${first.location.col}: `;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
  throw new GantryError('STACK_INVALID', `invalid stack: ${where}${first?.message ?? 'unknown problem'}${more}`, {
    hint: first?.hint,
    detail: { diagnostics: sorted },
  });
}

/**
 * Loads, interpolates, merges, validates and normalises a stack. Resolves with the model and any warnings;
 * rejects with GantryError STACK_INVALID (detail.diagnostics: Diagnostic[], errors and warnings) when the
 * stack has errors.
 */
export async function loadStack(options: LoadOptions = {}): Promise<LoadResult> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const shell = options.env ?? process.env;
  const reporter = new Reporter();
  const found = discover({ files: options.files, projectDirectory: options.projectDirectory, cwd, composeFileEnv: shell['COMPOSE_FILE'] });
  if (found === undefined) {
    reporter.error('SPEC_NO_FILE', `no stack file found in ${resolve(options.projectDirectory ?? cwd)} or its parents`, undefined, [], `create one of ${STACK_FILE_NAMES.join(', ')}, or name a file with -f`);
    fail(reporter.diagnostics);
  }
  const { files, projectDir } = found;
  const stdinText = files.includes('-') ? await (options.stdin?.() ?? Promise.resolve('')) : undefined;
  const policy = makeFilePolicy(projectDir, options.strict === true, options.maxFileBytes);
  const ctx: ComposeContext = { reporter, stdinText, warnedUnset: new Set(), shell, loadedFiles: [], policy };

  const defaultEnv = resolve(projectDir, '.env');
  const envFiles = options.envFiles !== undefined && options.envFiles.length > 0 ? options.envFiles.map((f) => resolve(cwd, f)) : existsSync(defaultEnv) ? [defaultEnv] : [];
  if (policy.strict) {
    // Strict mode holds for the files the command names too: a checkout's compose.yaml or .env may be a
    // symlink out of it.
    for (const f of files) if (f !== STDIN_FILE) allowPath(policy, reporter, f, 'stack file', undefined, []);
    for (const f of envFiles) allowPath(policy, reporter, f, 'env file', undefined, []);
    if (reporter.hasErrors()) fail(reporter.diagnostics);
  }
  const lookup = envLookup(envFiles, ctx, undefined);
  const root: PMap = composeFiles(files, projectDir, lookup, ctx) ?? pmap({ file: files[0] ?? '-', line: 1, col: 1, length: 1, base: projectDir });
  if (root.entries.size === 0 && !hasStructuralErrors(reporter)) {
    // Compose refuses this too ("empty compose file"): loading it as a project with nothing in it hides a
    // wrong file name or a file truncated by an editor.
    const first = files[0] ?? STDIN_FILE;
    const shown = first === STDIN_FILE ? '<stdin>' : first;
    reporter.error('SPEC_EMPTY_FILE', files.length > 1 ? `the stack files ${files.map((f) => (f === STDIN_FILE ? '<stdin>' : f)).join(', ')} are all empty` : `the stack file ${shown} is empty`,
      { file: shown, line: 1, col: 1, length: 1, base: projectDir }, [], 'a stack file needs at least a `services:` section, e.g. services: {web: {image: nginx}}');
    fail(reporter.diagnostics);
  }

  // Project name: -p > COMPOSE_PROJECT_NAME > `name:` > the caller's default (a deployment's name) > directory name.
  const nameNode = getEntry(root, 'name')?.value;
  const declared = nameNode?.kind === 'scalar' && nameNode.value !== null ? String(nameNode.value) : undefined;
  const rawName = options.projectName ?? lookup('COMPOSE_PROJECT_NAME') ?? declared ?? options.defaultProjectName ?? basename(projectDir);
  const name = normalizeProjectName(rawName);
  if (name === '') reporter.error('SPEC_BAD_PROJECT_NAME', `project name ${JSON.stringify(rawName)} is empty once normalised`, undefined, [], 'use -p NAME with lowercase letters, digits, "-" and "_"');

  // Profiles: --profile, else COMPOSE_PROFILES.
  const profileList = options.profiles !== undefined && options.profiles.length > 0 ? [...options.profiles] : (lookup('COMPOSE_PROFILES') ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
  const active = new Set(profileList);
  const enabled = new Set<string>();
  const services = getEntry(root, 'services')?.value;
  const usedProfiles = new Set<string>();
  if (services?.kind === 'map') {
    services.entries.forEach((e, k) => {
      if (k.startsWith('x-')) return;
      const p = getEntry(e.value, 'profiles')?.value;
      const list = p?.kind === 'seq' ? p.items.flatMap((i) => (i.kind === 'scalar' && i.value !== null ? [String(i.value)] : [])) : [];
      for (const x of list) usedProfiles.add(x);
      if (list.length === 0 || active.has('*') || list.some((x) => active.has(x))) enabled.add(k);
    });
  }
  for (const p of active) {
    if (p !== '*' && !usedProfiles.has(p)) reporter.warn('SPEC_PROFILE_UNKNOWN', `profile "${p}" is used by no service`, undefined, [], usedProfiles.size === 0 ? 'no service declares profiles' : `profiles in this stack: ${[...usedProfiles].sort().join(', ')}`);
  }

  if (!hasStructuralErrors(reporter)) {
    validateTree(root, reporter);
    reportUnsupported(root, reporter);
    checkSemantics({ root, enabled }, reporter);
    checkHostAccess(root, policy, reporter, projectDir, shell);
  }
  if (hasStructuralErrors(reporter)) fail(reporter.diagnostics);
  // Normalisation finds the problems the schema leaves to it (a malformed duration given as a string, ...).
  // It also runs when there are errors already, so that every problem is reported at once.
  const hadErrors = reporter.hasErrors();
  let model: StackModel;
  try {
    model = normalizeStack({ root, name, projectDir, files: ctx.loadedFiles, profiles: profileList, enabled, lookup, shell, policy, freeze: options.freeze }, reporter);
  } catch (e) {
    if (hadErrors) fail(reporter.diagnostics); // a shape the schema already rejected
    throw e;
  }
  if (reporter.hasErrors()) fail(reporter.diagnostics);
  const warnings = sortDiagnostics(reporter.diagnostics);
  const source: StackSource = {
    root,
    diagnostic: (severity, code, message, path, hint, at = 'key') => reporter.make(severity, code, message, path.length === 0 ? undefined : locate(root, path, at === 'key'), path, hint),
  };
  return { model: Object.freeze({ ...model, warnings: Object.freeze(warnings) }), diagnostics: warnings, source };
}

/** The diagnostics carried by a STACK_INVALID error (or undefined for any other error). */
export function diagnosticsOf(e: unknown): readonly Diagnostic[] | undefined {
  if (e instanceof GantryError && e.code === 'STACK_INVALID') {
    const d = e.detail?.['diagnostics'];
    if (Array.isArray(d)) return d as Diagnostic[];
  }
  return undefined;
}
