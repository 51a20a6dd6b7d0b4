// Log drivers like Docker's: `json-file` (the shim writes the file, rotating it by size) and `none`. Validates
// HostConfig.LogConfig with Docker's rules and messages, and derives what the shim is told at start. Pure.
import { GantryError } from '../../common/errors.js';
import { jsonFileLimits, jsonFileProblems, logOptionRegex, TAG_PART, type TAG_FIELDS } from './options.js';
import { logConfigOf, type ContainerView, type LogConfig } from '../containers/record.js';

const invalid = (message: string, hint?: string): GantryError => new GantryError('INVALID_ARGUMENT', message, { hint });

export { parseDecimalSize } from './options.js';

function validateJsonFile(config: Record<string, string>): void {
  const [first] = jsonFileProblems(config);
  if (first) throw new GantryError(first.unsupported ? 'UNSUPPORTED' : 'INVALID_ARGUMENT', first.message, { hint: first.hint });
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

type TagField = typeof TAG_FIELDS[number];

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
    const re = logOptionRegex(config['labels-regex']);
    for (const [k, v] of Object.entries(labels)) if (re?.test(k)) attrs[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of rec.config.env) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  for (const name of (config['env'] ?? '').split(',')) if (name && env.has(name)) attrs[name] = env.get(name)!;
  if (config['env-regex']) {
    const re = logOptionRegex(config['env-regex']);
    for (const [k, v] of env) if (re?.test(k)) attrs[k] = v;
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
