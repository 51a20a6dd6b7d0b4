// Log drivers like Docker's: `json-file` (the shim writes the file, rotating it by size) and `none`. Validates
// HostConfig.LogConfig with Docker's rules and messages, and derives what the shim is told at start. Pure.
import { GantryError } from '../../common/errors.js';
import { parseGoBool } from '../../common/units.js';
import { logConfigOf, type ContainerView, type LogConfig } from '../containers/record.js';

const invalid = (message: string, hint?: string): GantryError => new GantryError('INVALID_ARGUMENT', message, { hint });

/** The options Docker's json-file driver knows, plus the two every driver takes (mode, max-buffer-size). */
const JSON_FILE_OPTIONS = ['max-size', 'max-file', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

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
const TAG_FIELDS = ['ID', 'FullID', 'Name', 'ImageID', 'ImageFullID', 'ImageName', 'DaemonName'] as const;
type TagField = typeof TAG_FIELDS[number];
const TAG_PART = /\{\{\s*\.([A-Za-z]+)\s*\}\}/g;

function checkTag(tag: string): void {
  const rest = tag.replace(TAG_PART, (whole, field: string) => {
    if (!(TAG_FIELDS as readonly string[]).includes(field)) {
      throw invalid(`log option tag: unknown field {{.${field}}}`, `tag templates may use ${TAG_FIELDS.map((f) => `{{.${f}}}`).join(' ')}`);
    }
    return '';
  });
  if (rest.includes('{{')) throw invalid(`log option tag "${tag}": only {{.Field}} templates are supported`, `tag templates may use ${TAG_FIELDS.map((f) => `{{.${f}}}`).join(' ')}`);
}

function compileRegex(option: string, source: string): RegExp {
  try {
    return new RegExp(source);
  } catch {
    throw invalid(`log option ${option}: invalid regular expression "${source}"`);
  }
}

/** Validated, numeric form of the json-file options (what the shim needs). */
export interface JsonFileLimits {
  /** Bytes; undefined = never rotate. */
  maxSizeBytes: number | undefined;
  /** Files kept in total (log + log.1 … log.N-1); only effective with maxSizeBytes, as in Docker. */
  maxFiles: number;
}

function jsonFileLimits(config: Record<string, string>): JsonFileLimits {
  let maxSizeBytes: number | undefined;
  const size = config['max-size'];
  if (size !== undefined) {
    const n = parseDecimalSize(size);
    if (n === undefined) throw invalid(`invalid max-size "${size}"`, 'give a size like 10k, 10m or 1g (1m = 1000000 bytes, as in Docker); a bare number is bytes');
    if (n <= 0) throw invalid('max-size must be a positive number', 'e.g. --log-opt max-size=10m');
    maxSizeBytes = n;
  }
  let maxFiles = 1;
  const files = config['max-file'];
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files) || !Number.isSafeInteger(Number(files)) || Number(files) > 2 ** 31 - 1) {
      throw invalid(`invalid max-file "${files}"`, 'give a whole number of files, e.g. --log-opt max-file=3');
    }
    maxFiles = Number(files);
    if (maxFiles < 1) throw invalid('max-file cannot be less than 1', 'e.g. --log-opt max-file=3');
  }
  return { maxSizeBytes, maxFiles };
}

function validateJsonFile(config: Record<string, string>): void {
  for (const key of Object.keys(config)) {
    if (!JSON_FILE_OPTIONS.includes(key)) {
      throw invalid(`unknown log opt '${key}' for json-file log driver`, `json-file options: ${JSON_FILE_OPTIONS.join(', ')}`);
    }
  }
  const mode = config['mode'];
  if (mode !== undefined && mode !== '' && mode !== 'blocking' && mode !== 'non-blocking') {
    throw invalid(`logging mode not supported: ${mode}`, 'use mode=blocking or mode=non-blocking');
  }
  const buffer = config['max-buffer-size'];
  if (buffer !== undefined) {
    if (mode !== 'non-blocking') throw invalid("max-buffer-size option is only supported with 'mode=non-blocking'");
    // Docker's units.RAMInBytes: binary units here
    if (parseSize(buffer, 1024) === undefined) throw invalid(`error parsing option max-buffer-size: invalid size "${buffer}"`);
  }
  const { maxSizeBytes, maxFiles } = jsonFileLimits(config);
  const compressText = config['compress'];
  if (compressText !== undefined) {
    const compress = parseGoBool(compressText);
    if (compress === undefined) throw invalid(`invalid compress "${compressText}"`, 'use true or false');
    if (compress && (maxFiles === 1 || maxSizeBytes === undefined)) {
      throw invalid('compress cannot be true when max-file is less than 2 or max-size is not set');
    }
    if (compress) {
      throw new GantryError('UNSUPPORTED', 'log option compress=true is not supported: rotated log files are kept uncompressed',
        { hint: 'leave out compress (or set compress=false); max-size times max-file still bounds the disk used' });
    }
  }
  for (const option of ['labels-regex', 'env-regex'] as const) {
    const source = config[option];
    if (source !== undefined && source !== '') compileRegex(option, source);
  }
  if (config['tag'] !== undefined) checkTag(config['tag']);
}

/**
 * HostConfig.LogConfig → our log config. Type "" means the default (json-file); json-file and none are the
 * drivers there are. Options of `none` are kept and ignored, as Docker does.
 */
export function parseLogConfig(raw: unknown): LogConfig {
  if (raw === undefined || raw === null) return { type: 'json-file', config: {} };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('HostConfig.LogConfig must be an object with Type and Config');
  const { Type: type, Config: rawConfig } = raw as { Type?: unknown; Config?: unknown };
  if (type !== undefined && type !== null && typeof type !== 'string') throw invalid('HostConfig.LogConfig.Type must be a string');
  const config: Record<string, string> = {};
  if (rawConfig !== undefined && rawConfig !== null) {
    if (typeof rawConfig !== 'object' || Array.isArray(rawConfig)) throw invalid('HostConfig.LogConfig.Config must be an object of strings');
    for (const [k, v] of Object.entries(rawConfig as Record<string, unknown>)) {
      if (typeof v !== 'string') throw invalid(`log option ${k} must be a string`, 'give options as strings, e.g. "max-file": "3"');
      config[k] = v;
    }
  }
  const driver = type || 'json-file';
  if (driver === 'none') return { type: 'none', config };
  if (driver !== 'json-file') {
    throw new GantryError('UNSUPPORTED_LOG_DRIVER', `log driver "${driver}" is not supported`,
      { hint: 'only the json-file (default) and none log drivers are supported', detail: { driver } });
  }
  validateJsonFile(config);
  return { type: 'json-file', config };
}

// ---- what the shim is told ------------------------------------------------------------------------------

/** The log part of the shim spec: no path for driver none (the shim writes no file). */
export interface ShimLogSettings {
  logPath?: string | undefined;
  logMaxSizeBytes?: number | undefined;
  logMaxFiles?: number | undefined;
  /** A JSON object written as `attrs` into every line (labels, env, tag options), or undefined. */
  logAttrs?: string | undefined;
}

function shortHex(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function renderTag(tag: string, rec: ContainerView): string {
  const values: Record<TagField, string> = {
    ID: rec.id.slice(0, 12), FullID: rec.id, Name: rec.name, ImageID: shortHex(rec.config.imageId),
    ImageFullID: rec.config.imageId, ImageName: rec.config.image, DaemonName: 'docker',
  };
  return tag.replace(TAG_PART, (_whole, field: string) => values[field as TagField] ?? '');
}

/** Docker's extra attributes: chosen labels and env values, and the tag; keys sorted like Go's json.Marshal. */
export function logAttributes(rec: ContainerView, config: Record<string, string>): Record<string, string> {
  const attrs: Record<string, string> = {};
  const labels = rec.config.labels;
  for (const name of (config['labels'] ?? '').split(',')) if (name && labels[name] !== undefined) attrs[name] = labels[name];
  if (config['labels-regex']) {
    const re = compileRegex('labels-regex', config['labels-regex']);
    for (const [k, v] of Object.entries(labels)) if (re.test(k)) attrs[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of rec.config.env) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  for (const name of (config['env'] ?? '').split(',')) if (name && env.has(name)) attrs[name] = env.get(name)!;
  if (config['env-regex']) {
    const re = compileRegex('env-regex', config['env-regex']);
    for (const [k, v] of env) if (re.test(k)) attrs[k] = v;
  }
  const tag = config['tag'] ? renderTag(config['tag'], rec) : '';
  if (tag) attrs['tag'] = tag;
  return Object.fromEntries(Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function shimLogSettings(rec: ContainerView, logPath: string): ShimLogSettings {
  const cfg = logConfigOf(rec.host);
  if (cfg.type === 'none') return {};
  const { maxSizeBytes, maxFiles } = jsonFileLimits(cfg.config);
  const attrs = logAttributes(rec, cfg.config);
  return {
    logPath, logMaxSizeBytes: maxSizeBytes, logMaxFiles: maxSizeBytes === undefined ? undefined : maxFiles,
    logAttrs: Object.keys(attrs).length > 0 ? JSON.stringify(attrs) : undefined,
  };
}

/** `logs` of a container whose driver keeps nothing: Docker's refusal. */
export function assertLogsReadable(rec: ContainerView): void {
  const cfg = logConfigOf(rec.host);
  if (cfg.type === 'none') {
    throw new GantryError('UNSUPPORTED', `container ${rec.name}: configured logging driver does not support reading`,
      { hint: 'the container was created with --log-driver none, which keeps no logs; recreate it with json-file to read them' });
  }
}
