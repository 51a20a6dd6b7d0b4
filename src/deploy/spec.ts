// Checks a deployment source as `deploy add` sends it: a name, a repository URL without credentials, a ref,
// paths inside the repository, and absolute host paths for the files the daemon reads (token, key, env file).
import { isAbsolute, normalize } from 'node:path';
import { GantryError } from '../common/errors.js';
import type { DeploySpec, GitAuth } from './types.js';

export const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const SHA_RE = /^[0-9a-f]{40}$/;
const REF_RE = /^[A-Za-z0-9._/-]{1,200}$/;
export const MIN_INTERVAL_MS = 1000;

export function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new GantryError('INVALID_ARGUMENT', `invalid deployment name "${name.slice(0, 64)}"`, { hint: 'names use lowercase letters, digits, "-" and "_" (at most 63)' });
}

/** file://, https:// (http:// to loopback only) and ssh:// URLs; a password or token in the URL is refused. */
export function checkRepoUrl(repo: string): void {
  let u: URL;
  try { u = new URL(repo); } catch {
    throw new GantryError('INVALID_ARGUMENT', 'the --repo value is not a URL', { hint: 'give file:///srv/repo.git, https://host/org/repo.git or ssh://git@host/org/repo.git' });
  }
  if (u.password !== '' || (u.username !== '' && u.protocol !== 'ssh:')) {
    throw new GantryError('INVALID_ARGUMENT', 'the --repo URL carries credentials', { hint: 'credentials never go in the URL: use --token-file F (https) or --ssh-key F --known-hosts F (ssh)' });
  }
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  const ok = u.protocol === 'file:' ? u.host === '' : u.protocol === 'https:' || u.protocol === 'ssh:' || (u.protocol === 'http:' && loopback);
  if (!ok || repo.startsWith('-') || /[\s\0]/.test(repo)) {
    throw new GantryError('INVALID_ARGUMENT', `the --repo scheme ${u.protocol} is not supported`, { hint: 'use file:///PATH, https://, or ssh:// (http:// only to 127.0.0.1)' });
  }
}

export function checkRef(ref: string): void {
  if (!REF_RE.test(ref) || ref.startsWith('-') || ref.includes('..') || ref.endsWith('/') || ref.endsWith('.lock')) {
    throw new GantryError('INVALID_ARGUMENT', 'invalid --ref', { hint: 'give a branch (main), a tag (v1.2) or a full 40-character commit SHA' });
  }
}

/** A path in the repository: relative, normalised, never leaving it. */
export function checkRepoPath(p: string): string {
  const n = normalize(p).replace(/\/+$/, '');
  if (p === '' || isAbsolute(p) || n === '..' || n.startsWith('../') || p.includes('\0')) {
    throw new GantryError('INVALID_ARGUMENT', `--path ${JSON.stringify(p.slice(0, 200))} is not a path inside the repository`, { hint: 'give a file or directory relative to the repository root, e.g. deploy/compose.yaml' });
  }
  return n === '' ? '.' : n;
}

function hostFile(p: unknown, flag: string): string {
  if (typeof p !== 'string' || !isAbsolute(p) || p.includes('\0')) throw new GantryError('INVALID_ARGUMENT', `${flag} needs an absolute path on the daemon's host`, { hint: `the CLI makes relative paths absolute; give ${flag} /path/to/file` });
  return p;
}

function checkAuth(a: unknown, repo: string): GitAuth {
  const auth = (a ?? { kind: 'none' }) as Record<string, unknown>;
  const scheme = repo.slice(0, repo.indexOf(':'));
  if (auth['kind'] === 'none') return { kind: 'none' };
  if (auth['kind'] === 'token') {
    if (scheme !== 'https' && scheme !== 'http') throw new GantryError('INVALID_ARGUMENT', '--token-file is for https:// repositories', { hint: 'ssh:// repositories take --ssh-key and --known-hosts' });
    return { kind: 'token', tokenFile: hostFile(auth['tokenFile'], '--token-file') };
  }
  if (auth['kind'] === 'ssh') {
    if (scheme !== 'ssh') throw new GantryError('INVALID_ARGUMENT', '--ssh-key is for ssh:// repositories', { hint: 'https:// repositories take --token-file' });
    return { kind: 'ssh', keyFile: hostFile(auth['keyFile'], '--ssh-key'), knownHostsFile: hostFile(auth['knownHostsFile'], '--known-hosts') };
  }
  throw new GantryError('INVALID_ARGUMENT', 'unknown authentication kind', { hint: 'use --token-file, or --ssh-key with --known-hosts' });
}

/** Validates and normalises the body of POST /deploy (throws INVALID_ARGUMENT naming the field). */
export function parseSpec(body: unknown): DeploySpec {
  if (body === null || typeof body !== 'object') throw new GantryError('INVALID_ARGUMENT', 'the body must be a deployment source');
  const b = body as Record<string, unknown>;
  const str = (k: string): string => { const v = b[k]; if (typeof v !== 'string') throw new GantryError('INVALID_ARGUMENT', `the deployment source has no "${k}"`); return v; };
  const num = (k: string, min: number, max: number): number => {
    const v = b[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new GantryError('INVALID_ARGUMENT', `"${k}" must be between ${min / 1000}s and ${max / 1000}s`);
    return Math.round(v);
  };
  const name = str('name'); checkName(name);
  const repo = str('repo'); checkRepoUrl(repo);
  const ref = typeof b['ref'] === 'string' ? b['ref'] : 'main'; checkRef(ref);
  const paths = Array.isArray(b['paths']) ? b['paths'].map((p) => { if (typeof p !== 'string') throw new GantryError('INVALID_ARGUMENT', '"paths" must be strings'); return checkRepoPath(p); }) : [];
  if (paths.length > 16) throw new GantryError('INVALID_ARGUMENT', 'at most 16 --path values');
  return {
    name, repo, ref, paths,
    envFile: b['envFile'] === undefined ? undefined : hostFile(b['envFile'], '--env-file'),
    intervalMs: b['intervalMs'] === undefined ? 60_000 : num('intervalMs', MIN_INTERVAL_MS, 24 * 3600_000),
    timeoutMs: b['timeoutMs'] === undefined ? 60_000 : num('timeoutMs', 1000, 3600_000),
    prune: b['prune'] === true, selfHeal: b['selfHeal'] === true,
    auth: checkAuth(b['auth'], repo),
    webhookSecretFile: b['webhookSecretFile'] === undefined ? undefined : hostFile(b['webhookSecretFile'], '--webhook-secret-file'),
  };
}
