// The stable configuration hash of a service: decides whether a running container must be recreated.
// Fields that must not cause recreation (replicas, depends_on, profiles, pull_policy) are left out.

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

/** sha256 (hex) of the canonical JSON of the fields of a service that matter to its containers. */
export function serviceConfigHash(service: ServiceModel): string {
  const { depends_on: _d, profiles: _p, pull_policy: _pp, deploy, ...rest } = service;
  const { replicas: _r, ...deployRest } = deploy;
  const text = canonicalJson({ ...rest, deploy: deployRest });
  return createHash('sha256').update(text).digest('hex');
}
