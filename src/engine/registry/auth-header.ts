// Docker's `X-Registry-Auth` header (base64url of a JSON AuthConfig) and `POST /auth` body, as credentials.
import { GantryError } from '../../common/errors.js';
import type { Credentials } from './transport.js';

export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64 of `user:password` (what config.json stores). */
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
}

const MAX_HEADER = 64 * 1024;

/** Credentials from an AuthConfig; undefined when it carries none. */
export function credentialsOf(a: AuthConfig | undefined): Credentials | undefined {
  if (a === undefined || typeof a !== 'object') return undefined;
  let { username, password } = a;
  if ((username === undefined || username === '') && typeof a.auth === 'string' && a.auth !== '') {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) { username = plain.slice(0, colon); password = plain.slice(colon + 1); }
  }
  const c: Credentials = {
    ...(typeof username === 'string' && username !== '' ? { username } : {}),
    ...(typeof password === 'string' && password !== '' ? { password } : {}),
    ...(typeof a.identitytoken === 'string' && a.identitytoken !== '' ? { identityToken: a.identitytoken } : {}),
    ...(typeof a.registrytoken === 'string' && a.registrytoken !== '' ? { registryToken: a.registrytoken } : {}),
  };
  return Object.keys(c).length === 0 ? undefined : c;
}

/** Decodes `X-Registry-Auth` (base64url or base64 JSON); an empty or `{}` header is anonymous. */
export function decodeRegistryAuth(header: string | undefined): AuthConfig | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  if (header.length > MAX_HEADER) throw new GantryError('INVALID_ARGUMENT', 'the X-Registry-Auth header is too long');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new GantryError('INVALID_ARGUMENT', 'the X-Registry-Auth header is not base64-encoded JSON', { hint: 'it carries {"username":…,"password":…,"serveraddress":…} as base64url' });
  }
  return typeof parsed === 'object' && parsed !== null ? parsed as AuthConfig : undefined;
}

/** Encodes an AuthConfig as Docker's header value. */
export function encodeRegistryAuth(a: AuthConfig): string {
  return Buffer.from(JSON.stringify(a)).toString('base64url');
}
