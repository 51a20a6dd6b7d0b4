// The json-file log driver's options, checked with Docker's rules: one checker for both callers — the Docker API
// (HostConfig.LogConfig, which throws the first problem) and the stack loader (`logging.options`, which reports
// every problem at its location). Pure, no imports beyond units, so the CLI's stack loader stays light.
import { parseGoBool } from '../../common/units.js';

/** The options Docker's json-file driver knows, plus the two every driver takes (mode, max-buffer-size). */
export const JSON_FILE_OPTIONS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

export interface LogOptionProblem {
  /** The option the problem is about. */
  key: string;
  message: string;
  hint?: string | undefined;
  /** UNSUPPORTED: valid for Docker, not done by Gantry; otherwise invalid. */
  unsupported?: boolean;
}

const SIZE_RE = /^(\d+(?:\.\d*)?|\.\d+) ?(?:([kmgtp])(?:b|ib)?|b)?$/i;

/** A size in Docker's syntax ("10m", "1.5g", "512kb", "4096"): bytes, or undefined when it is not one. */
function parseSize(text: string, base: 1000 | 1024): number | undefined {
  const m = SIZE_RE.exec(text);
  if (!m) return undefined;
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * base ** power);
}

/** Docker's `units.FromHumanSize`, used for max-size: decimal, 1k = 1000, 1m = 1000000 ("kb", "kib" alike). */
export const parseDecimalSize = (text: string): number | undefined => parseSize(text, 1000);

/** `tag` templates: the fields Docker documents for log tags. */
export const TAG_FIELDS = ['ID', 'FullID', 'Name', 'ImageID', 'ImageFullID', 'ImageName', 'DaemonName'] as const;
export const TAG_PART = /\{\{\s*\.([A-Za-z]+)\s*\}\}/g;
const TAG_HINT = `tag templates may use ${TAG_FIELDS.map((f) => `{{.${f}}}`).join(' ')}`;

function tagProblem(tag: string): LogOptionProblem | undefined {
  let unknown: string | undefined;
  const rest = tag.replace(TAG_PART, (_whole, field: string) => {
    if (!(TAG_FIELDS as readonly string[]).includes(field)) unknown ??= field;
    return '';
  });
  if (unknown !== undefined) return { key: 'tag', message: `log option tag: unknown field {{.${unknown}}}`, hint: TAG_HINT };
  if (rest.includes('{{')) return { key: 'tag', message: `log option tag "${tag}": only {{.Field}} templates are supported`, hint: TAG_HINT };
  return undefined;
}

/** The regex of `labels-regex` / `env-regex`, or undefined when it does not compile. */
export function logOptionRegex(source: string): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}

/** Validated, numeric form of the json-file options (what the shim needs). */
export interface JsonFileLimits {
  /** Bytes; undefined = never rotate. */
  maxSizeBytes: number | undefined;
  /** Files kept in total (log + log.1 … log.N-1); only effective with maxSizeBytes, as in Docker. */
  maxFiles: number;
}

function limitsOf(config: Readonly<Record<string, string>>, problems: LogOptionProblem[]): JsonFileLimits {
  let maxSizeBytes: number | undefined;
  const size = config['max-size'];
  if (size !== undefined) {
    const n = parseDecimalSize(size);
    if (n === undefined) problems.push({ key: 'max-size', message: `invalid max-size "${size}"`, hint: 'give a size like 10k, 10m or 1g (1m = 1000000 bytes, as in Docker); a bare number is bytes' });
    else if (n <= 0) problems.push({ key: 'max-size', message: 'max-size must be a positive number', hint: 'e.g. --log-opt max-size=10m' });
    else maxSizeBytes = n;
  }
  let maxFiles = 1;
  const files = config['max-file'];
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files) || !Number.isSafeInteger(Number(files)) || Number(files) > 2 ** 31 - 1) {
      problems.push({ key: 'max-file', message: `invalid max-file "${files}"`, hint: 'give a whole number of files, e.g. --log-opt max-file=3' });
    } else if (Number(files) < 1) {
      problems.push({ key: 'max-file', message: 'max-file cannot be less than 1', hint: 'e.g. --log-opt max-file=3' });
    } else {
      maxFiles = Number(files);
    }
  }
  return { maxSizeBytes, maxFiles };
}

/** The limits of options already checked by `jsonFileProblems` (invalid ones count as unset). */
export const jsonFileLimits = (config: Readonly<Record<string, string>>): JsonFileLimits => limitsOf(config, []);

/** Every problem of a json-file option set, in Docker's order and words. */
export function jsonFileProblems(config: Readonly<Record<string, string>>): LogOptionProblem[] {
  const problems: LogOptionProblem[] = [];
  for (const key of Object.keys(config)) {
    if (!JSON_FILE_OPTIONS.includes(key)) problems.push({ key, message: `unknown log opt '${key}' for json-file log driver`, hint: `json-file options: ${JSON_FILE_OPTIONS.join(', ')}` });
  }
  const mode = config['mode'];
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    problems.push({ key: 'mode', message: `logging mode not supported: ${mode}`, hint: 'use mode=blocking or mode=non-blocking' });
  }
  const buffer = config['max-buffer-size'];
  if (buffer !== undefined) {
    if (mode !== 'non-blocking') problems.push({ key: 'max-buffer-size', message: "max-buffer-size option is only supported with 'mode=non-blocking'" });
    // Docker's units.RAMInBytes: binary units here
    else if (parseSize(buffer, 1024) === undefined) problems.push({ key: 'max-buffer-size', message: `error parsing option max-buffer-size: invalid size "${buffer}"` });
  }
  const { maxSizeBytes, maxFiles } = limitsOf(config, problems);
  const compressText = config['compress'];
  if (compressText !== undefined) {
    const compress = parseGoBool(compressText);
    if (compress === undefined) problems.push({ key: 'compress', message: `invalid compress "${compressText}"`, hint: 'use true or false' });
    else if (compress && (maxFiles === 1 || maxSizeBytes === undefined)) {
      problems.push({ key: 'compress', message: 'compress cannot be true when max-file is less than 2 or max-size is not set', hint: 'compression applies to rotated files: set max-size and max-file too, or drop compress' });
    } else if (compress) {
      problems.push({ key: 'compress', unsupported: true, message: 'log option compress=true is not supported: rotated log files are kept uncompressed',
        hint: 'leave out compress (or set compress=false); max-size times max-file still bounds the disk used' });
    }
  }
  for (const key of ['labels-regex', 'env-regex'] as const) {
    const source = config[key];
    if (source !== undefined && source !== '' && logOptionRegex(source) === undefined) problems.push({ key, message: `log option ${key}: invalid regular expression "${source}"` });
  }
  if (config['tag'] !== undefined) {
    const p = tagProblem(config['tag']);
    if (p) problems.push(p);
  }
  return problems;
}
