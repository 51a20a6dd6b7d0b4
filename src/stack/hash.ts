// The stable configuration hash of a service: decides whether a running container must be recreated.
// Fields that must not cause recreation (replicas, depends_on, profiles, pull_policy, develop) are left out, and fields
// added after containers first carried the hash count only when set (SERVICE_V1), so upgrades recreate nothing.

import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';
import type { ServiceModel } from './model.js';

// node:crypto costs a few ms to load; only a hash needs it.
let crypto: typeof Crypto | undefined;
function createHash(algorithm: string): Crypto.Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return crypto.createHash(algorithm);
}

/** JSON with object keys sorted and undefined members dropped, so equal models give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * How the hash reads a value: `true` hashes it whole (scalars, lists of scalars, maps of user data such as
 * `environment` or `x`); `fields` is an object with a known member set; `items` a list and `entries` a map (user
 * keys) whose values have the given shape.
 */
type Shape = true | { readonly fields: Readonly<Record<string, Shape>> } | { readonly items: Shape } | { readonly entries: Shape };

const fields = (f: Readonly<Record<string, Shape>>): Shape => ({ fields: f });
const leaves = (...names: string[]): Record<string, Shape> => Object.fromEntries(names.map((n) => [n, true]));

const RESOURCES_V1 = fields(leaves('memory', 'cpus', 'pids'));
const FILE_GRANT_V1: Shape = { items: fields(leaves('source', 'target', 'uid', 'gid', 'mode')) };

/**
 * The members of a service the hash covered when containers first carried it in their `gantry.config-hash`
 * label. FROZEN: members added to the model later must not be added here. Listed members are hashed as they
 * always were (default values included), so those hashes never change; any other member is hashed only when it
 * is set (see `isUnset`), so a new field whose default normalises to undefined, null, false, [] or {} leaves
 * the hash of every service that does not use it unchanged — an upgrade recreates no container.
 * Left out on purpose (they must not recreate containers): depends_on, profiles, pull_policy, deploy.replicas.
 */
const SERVICE_V1: Shape = fields({
  ...leaves('name', 'image', 'command', 'entrypoint', 'environment', 'expose', 'tmpfs', 'network_mode', 'mem_limit',
    'mem_reservation', 'memswap_limit', 'shm_size', 'cpus', 'pids_limit', 'user', 'working_dir', 'hostname', 'domainname',
    'container_name', 'labels', 'annotations', 'cap_add', 'cap_drop', 'privileged', 'read_only', 'init', 'stop_signal',
    'stop_grace_period', 'sysctls', 'tty', 'stdin_open', 'extra_hosts', 'dns', 'dns_search', 'dns_opt', 'restart',
    'mac_address', 'group_add', 'x'),
  ports: { items: fields(leaves('target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol')) },
  volumes: {
    items: fields({
      ...leaves('type', 'source', 'target', 'read_only', 'consistency'),
      bind: fields(leaves('propagation', 'create_host_path', 'selinux')),
      volume: fields(leaves('nocopy', 'subpath')),
      tmpfs: fields(leaves('size', 'mode')),
    }),
  },
  networks: { entries: fields(leaves('aliases', 'ipv4_address', 'ipv6_address', 'mac_address', 'priority')) },
  healthcheck: fields(leaves('test', 'interval', 'timeout', 'start_period', 'start_interval', 'retries', 'disable')),
  deploy: fields({
    limits: RESOURCES_V1,
    reservations: RESOURCES_V1,
    restart_policy: fields(leaves('condition', 'delay', 'max_attempts', 'window')),
    labels: true,
  }),
  ulimits: { entries: fields(leaves('soft', 'hard')) },
  secrets: FILE_GRANT_V1,
  configs: FILE_GRANT_V1,
});

const NOT_HASHED = new Set(['depends_on', 'profiles', 'pull_policy', 'develop']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The value a member not in SERVICE_V1 has when the user did not set it. 0 and "" are real values. */
function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isPlainObject(v) && Object.values(v).every(isUnset);
}

/** The value as the hash sees it: known members as they are, unknown (newer) members only when set. */
function hashedForm(value: unknown, shape: Shape): unknown {
  if (shape === true) return value;
  if ('items' in shape) return Array.isArray(value) ? value.map((v: unknown) => hashedForm(v, shape.items)) : value;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if ('entries' in shape) { out[key] = hashedForm(v, shape.entries); continue; }
    const known = shape.fields[key];
    if (known !== undefined) out[key] = hashedForm(v, known);
    else if (!isUnset(v)) out[key] = v;
  }
  return out;
}

/** sha256 (hex) of the canonical JSON of the fields of a service that matter to its containers. */
export function serviceConfigHash(service: ServiceModel): string {
  const { deploy, ...rest } = service as ServiceModel & Record<string, unknown>;
  const { replicas: _r, update_config: _u, ...deployRest } = deploy;
  const hashed: Record<string, unknown> = { deploy: deployRest };
  for (const [key, v] of Object.entries(rest)) if (!NOT_HASHED.has(key)) hashed[key] = v;
  const text = canonicalJson(hashedForm(hashed, SERVICE_V1));
  return createHash('sha256').update(text).digest('hex');
}
