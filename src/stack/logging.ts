// `logging` of a service: the drivers Gantry implements (json-file, the default, and none), with the options
// Docker's json-file driver accepts, checked as Docker checks them at container creation — but located.

import type { LoggingModel } from './model.js';
import type { PathSeg, PNode, Pos } from './pnode.js';
import { getEntry } from './pnode.js';
import type { Reporter } from './report.js';

/** Docker's json-file driver refuses any other option ("unknown log opt"). */
const JSON_FILE_OPTIONS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'];

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

function checkJsonFileOptions(options: readonly Option[], path: readonly PathSeg[], reporter: Reporter): void {
  const get = (k: string): Option | undefined => options.find((o) => o.key === k);
  const bad = (o: Option, message: string, hint: string): void => reporter.error('SPEC_INVALID_VALUE', message, o.pos, [...path, o.key], hint);
  for (const o of options) {
    if (!JSON_FILE_OPTIONS.includes(o.key)) bad(o, `unknown json-file logging option ${JSON.stringify(o.key)}`, `json-file options are: ${JSON_FILE_OPTIONS.join(', ')}`);
  }
  const size = get('max-size');
  // Docker reads max-size with go-units' FromHumanSize (decimal units: 10m is 10 000 000 bytes).
  const sizeMatch = size === undefined ? null : /^([0-9]+(?:\.[0-9]+)?) ?([kmgtp])?i?b?$/i.exec(size.value);
  if (size !== undefined && (sizeMatch === null || !(Number(sizeMatch[1]) > 0))) {
    bad(size, `invalid logging option max-size ${JSON.stringify(size.value)}: it must be a positive size`, 'sizes look like 10m, 500k or 1g');
  }
  const files = get('max-file');
  const fileCount = files === undefined ? 1 : /^[0-9]+$/.test(files.value) ? Number(files.value) : Number.NaN;
  if (files !== undefined && !(fileCount >= 1)) bad(files, `invalid logging option max-file ${JSON.stringify(files.value)}: it must be a positive integer`, 'max-file is the number of log files kept, e.g. 3');
  const compress = get('compress');
  if (compress !== undefined) {
    const on = /^(1|t|true)$/i.test(compress.value);
    if (!on && !/^(0|f|false)$/i.test(compress.value)) bad(compress, `invalid logging option compress ${JSON.stringify(compress.value)}: it must be true or false`, 'write compress: "true" or "false"');
    else if (on && (size === undefined || !(fileCount >= 2))) bad(compress, 'logging option compress needs max-size and a max-file of 2 or more', 'compression applies to rotated files: set max-size and max-file too, or drop compress');
  }
}
