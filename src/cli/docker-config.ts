// Credentials in Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), so an
// existing `docker login` works and ours works for docker: `auths.HOST.auth` = base64(user:password), the file
// 0600, written atomically, every other key kept as it was. Credentials a docker credential helper keeps
// (`credsStore`, `credHelpers`) are read through the helper; gantry's own login always writes inline.
import type * as ChildProcess from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { GantryError } from '../common/errors.js';
import type { AuthConfig } from '../engine/registry/auth-header.js';
import { DOCKER_HUB_AUTH_KEY, authKey, loginDomain } from '../engine/registry/endpoint.js';
import { parseReference } from '../engine/images/reference.js';

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'] || join(env['HOME'] || homedir(), '.docker');
  return join(dir, 'config.json');
}

type ConfigFile = Record<string, unknown> & { auths?: Record<string, { auth?: string; identitytoken?: string; username?: string; password?: string }> };

function readConfig(path: string): ConfigFile {
  if (!existsSync(path)) return {};
  const text = readFileSync(path, 'utf8');
  if (text.length > MAX_CONFIG_BYTES) throw new GantryError('TOO_LARGE', `${path} is larger than ${MAX_CONFIG_BYTES} bytes`, { hint: 'that is not a Docker client config' });
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as ConfigFile;
  } catch {
    throw new GantryError('STATE_CORRUPT', `${path} is not valid JSON`, { hint: 'fix or move the file aside, then log in again' });
  }
}

/** The config.json keys a domain's credentials may be stored under (docker's spellings of Docker Hub included). */
function keysFor(domain: string): string[] {
  if (domain === 'docker.io') return [DOCKER_HUB_AUTH_KEY, 'https://index.docker.io/v1', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v2/`, `https://${domain}/v1/`];
}

/**
 * Credentials from a docker credential helper (`credHelpers[KEY]`, else `credsStore`): `docker-credential-NAME get`
 * with the server on stdin answers `{"Username":…,"Secret":…}`, as docker runs it. Undefined when there is none.
 */
function helperAuth(config: ConfigFile, domain: string): AuthConfig | undefined {
  const helpers = (typeof config['credHelpers'] === 'object' && config['credHelpers'] !== null ? config['credHelpers'] : {}) as Record<string, unknown>;
  for (const key of keysFor(domain)) {
    const named = helpers[key] ?? config['credsStore'];
    if (typeof named !== 'string' || !/^[A-Za-z0-9._-]+$/.test(named)) continue;
    // node:child_process is loaded only for a credential helper (it costs a few ms of every command's start-up)
    const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof ChildProcess;
    const r = spawnSync(`docker-credential-${named}`, ['get'], { input: key, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 || r.stdout.trim() === '') continue;
    try {
      const got = JSON.parse(r.stdout) as { Username?: unknown; Secret?: unknown };
      if (typeof got.Secret !== 'string' || got.Secret === '') continue;
      return got.Username === '<token>' || typeof got.Username !== 'string'
        ? { identitytoken: got.Secret, serveraddress: domain }
        : { username: got.Username, password: got.Secret, serveraddress: domain };
    } catch { continue; }
  }
  return undefined;
}

/** The stored credentials for a registry domain (`docker.io`, `127.0.0.1:5000`), if any: inline, else a helper's. */
export function storedAuth(domain: string, path = dockerConfigPath()): AuthConfig | undefined {
  const config = readConfig(path);
  return inlineAuth(config, domain) ?? helperAuth(config, domain);
}

function inlineAuth(config: ConfigFile, domain: string): AuthConfig | undefined {
  const auths = config.auths ?? {};
  for (const key of keysFor(domain)) {
    const a = auths[key];
    if (a === undefined || typeof a !== 'object') continue;
    if (a.auth || a.identitytoken || a.username) {
      return { ...(a.auth ? { auth: a.auth } : {}), ...(a.username ? { username: a.username } : {}), ...(a.password ? { password: a.password } : {}),
        ...(a.identitytoken ? { identitytoken: a.identitytoken } : {}), serveraddress: domain };
    }
  }
  return undefined;
}

/** Stores `user:password` for the registry `server` names; other entries and keys stay. */
export function saveAuth(server: string, username: string, password: string, path = dockerConfigPath()): void {
  const config = readConfig(path);
  const key = authKey(loginDomain(server));
  config.auths = { ...(config.auths ?? {}), [key]: { ...(config.auths?.[key] ?? {}), auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  const entry = config.auths[key]!;
  delete entry.username; delete entry.password;
  writeConfig(path, config);
}

/** Removes the stored credentials of a registry; false when there were none. */
export function removeAuth(server: string, path = dockerConfigPath()): boolean {
  const config = readConfig(path);
  const domain = loginDomain(server);
  let removed = false;
  for (const key of keysFor(domain)) if (config.auths?.[key] !== undefined) { delete config.auths[key]; removed = true; }
  if (removed) writeConfig(path, config);
  return removed;
}

function writeConfig(path: string, config: ConfigFile): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, 0o600);
}

/** Stored credentials for the registries of `images` (by domain), for `up`'s pulls; unparsable names are skipped. */
export function authsForImages(images: readonly string[], path = dockerConfigPath()): Record<string, AuthConfig> {
  const out: Record<string, AuthConfig> = {};
  for (const image of images) {
    let domain: string;
    try { domain = parseReference(image).domain; } catch { continue; }
    if (domain in out) continue;
    const a = storedAuth(domain, path);
    if (a !== undefined) out[domain] = a;
  }
  return out;
}
