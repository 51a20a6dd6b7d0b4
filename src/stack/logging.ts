// `logging` of a service: the drivers Gantry implements (json-file, the default, and none), with the options
// Docker's json-file driver accepts, checked as Docker checks them at container creation — but located.

import type { LoggingModel } from './model.js';
import type { PathSeg, PNode, Pos } from './pnode.js';
import { getEntry } from './pnode.js';
import type { Reporter } from './report.js';
import { jsonFileProblems } from '../engine/logs/options.js';

interface Option {
  readonly key: string;
  readonly value: string;
  readonly pos: Pos;
}

function scalarText(n: PNode | undefined): string | undefined {
  return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
}

/** `options` as a mapping, or as a list of KEY=VALUE strings. */
function optionsOf(n: PNode | undefined): Option[] {
  if (n?.kind === 'map') return [...n.entries.values()].map((e) => ({ key: e.key, value: scalarText(e.value) ?? '', pos: e.value.pos }));
  if (n?.kind !== 'seq') return [];
  return n.items.flatMap((item) => {
    const t = scalarText(item);
    if (t === undefined) return [];
    const eq = t.indexOf('=');
    return [{ key: eq < 0 ? t : t.slice(0, eq), value: eq < 0 ? '' : t.slice(eq + 1), pos: item.pos }];
  });
}

export function normalizeLogging(n: PNode | undefined, path: readonly PathSeg[], reporter: Reporter): LoggingModel | undefined {
  if (n?.kind !== 'map') return undefined;
  const driverNode = getEntry(n, 'driver')?.value;
  const driver = scalarText(driverNode) ?? 'json-file';
  if (driver !== 'json-file' && driver !== 'none') {
    reporter.error('SPEC_UNSUPPORTED_LOG_DRIVER', `logging driver ${JSON.stringify(driver)} is not supported: Gantry supports only json-file and none`, driverNode?.pos ?? n.pos, [...path, 'driver'],
      'use `driver: json-file` (the default) or `driver: none`, or remove `logging`');
    return undefined;
  }
  const options = optionsOf(getEntry(n, 'options')?.value);
  if (driver === 'json-file') checkJsonFileOptions(options, [...path, 'options'], reporter);
  return { driver, options: Object.fromEntries(options.map((o) => [o.key, o.value])) };
}

/** The engine's json-file checks (the same the Docker API applies), each problem reported where its option is. */
function checkJsonFileOptions(options: readonly Option[], path: readonly PathSeg[], reporter: Reporter): void {
  const config = Object.fromEntries(options.map((o) => [o.key, o.value]));
  for (const problem of jsonFileProblems(config)) {
    const at = options.find((o) => o.key === problem.key);
    reporter.error(problem.unsupported ? 'SPEC_UNSUPPORTED_VALUE' : 'SPEC_INVALID_VALUE', problem.message, at?.pos, [...path, problem.key], problem.hint);
  }
}
