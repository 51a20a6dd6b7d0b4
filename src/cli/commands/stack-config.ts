// `gantry stack config`: load the stack and print the normalised model (YAML or JSON), the service or volume
// names, or a service's config hash. Diagnostics go to stderr; exit status 1 only when there are errors.
// This module is itself loaded only for `stack config`, so it imports what it needs directly: one module graph
// loaded at once is faster than a chain of dynamic imports.

import type { Diagnostic, StackModel } from '../../stack/index.js';
import * as stack from '../../stack/index.js';
import { toYaml } from '../../stack/yaml-out.js';

export interface StackCommandArgs {
  readonly files: readonly string[];
  readonly projectName: string | undefined;
  readonly projectDirectory: string | undefined;
  readonly profiles: readonly string[];
  readonly envFiles: readonly string[];
  readonly format: 'yaml' | 'json';
  /** Print the enabled service names, one a line. */
  readonly services: boolean;
  /** Print the volume keys, one a line. */
  readonly volumes: boolean;
  /** Print "SERVICE HASH" for this service ("*" for all). */
  readonly hash?: string | undefined;
  /** Strict stack policy (`--strict`). */
  readonly strict?: boolean | undefined;
  /** Only validate: print nothing but diagnostics (`config -q`). */
  readonly quiet?: boolean | undefined;
  /** Injected for tests; default process streams, process.env, process.cwd(). */
  readonly stdout?: { write(s: string): unknown } | undefined;
  readonly stderr?: { write(s: string): unknown } | undefined;
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  readonly cwd?: string | undefined;
}

/** The model as printed: without its warnings (they go to stderr). */
function printedPart(model: StackModel): Omit<StackModel, 'warnings'> {
  const { warnings: _w, ...rest } = model;
  return rest;
}

/** The model as plain data for printing: undefined members dropped, warnings left out. */
export function printableModel(model: StackModel): unknown {
  return JSON.parse(JSON.stringify(printedPart(model))) as unknown;
}

/** What `stack config` prints: the model as YAML (toYaml reads it as JSON.stringify would, without a copy). */
export function modelYaml(model: StackModel): string {
  return toYaml(printedPart(model));
}

export async function stackConfigCommand(args: StackCommandArgs): Promise<number> {
  const out = args.stdout ?? process.stdout;
  const err = args.stderr ?? process.stderr;
  const color = args.stderr === undefined && process.stderr.isTTY && process.env['NO_COLOR'] === undefined;
  const printDiagnostics = (list: readonly Diagnostic[]): void => {
    for (const d of list) err.write(`${stack.formatDiagnostic(d, { color, cwd: args.cwd })}\n\n`);
  };
  let result;
  try {
    result = await stack.loadStack({
      files: args.files,
      projectName: args.projectName,
      projectDirectory: args.projectDirectory,
      profiles: args.profiles,
      envFiles: args.envFiles,
      strict: args.strict,
      env: args.env,
      cwd: args.cwd,
      stdin: () => stack.readStdinCapped(),
      freeze: false, // printed and dropped
    });
  } catch (e) {
    const diagnostics = stack.diagnosticsOf(e);
    if (diagnostics === undefined) throw e;
    printDiagnostics(diagnostics);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    err.write(`${errors} error${errors === 1 ? '' : 's'}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}\n`);
    return 1;
  }
  printDiagnostics(result.diagnostics);
  if (args.quiet === true) return 0;
  const { model } = result;
  if (args.hash !== undefined) {
    const names = args.hash === '*' ? Object.keys(model.services) : args.hash.split(',').map((s) => s.trim());
    for (const n of names) {
      const svc = model.services[n];
      if (svc === undefined) {
        err.write(`error: no such service: ${n} (services: ${Object.keys(model.services).sort().join(', ')})\n`);
        return 1;
      }
      out.write(`${n} ${stack.serviceConfigHash(svc)}\n`);
    }
    return 0;
  }
  if (args.services) {
    for (const n of Object.keys(model.services)) out.write(`${n}\n`);
    return 0;
  }
  if (args.volumes) {
    for (const n of Object.keys(model.volumes)) out.write(`${n}\n`);
    return 0;
  }
  if (args.format === 'json') out.write(`${JSON.stringify(printableModel(model), null, 2)}\n`);
  else out.write(modelYaml(model));
  return 0;
}
