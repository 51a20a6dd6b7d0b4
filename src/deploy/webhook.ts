// The webhook's check: GitHub's `X-Hub-Signature-256: sha256=HEX` (HMAC-SHA256 of the raw body with the shared
// secret) or GitLab's `X-Gitlab-Token: SECRET`. Constant-time comparisons; the payload itself is never used.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type HookVerdict = { readonly ok: true; readonly via: 'github' | 'gitlab' } | { readonly ok: false; readonly reason: string };

function sameDigest(a: Buffer, b: Buffer): boolean {
  // Hashing both sides first makes the comparison length-independent too.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function checkHook(secret: string, headers: Readonly<Record<string, string | string[] | undefined>>, body: Buffer): HookVerdict {
  if (secret === '') return { ok: false, reason: 'the webhook secret is empty' };
  const one = (k: string): string | undefined => { const v = headers[k]; return Array.isArray(v) ? v[0] : v; };
  const sig = one('x-hub-signature-256');
  if (sig !== undefined) {
    if (!/^sha256=[0-9a-fA-F]{64}$/.test(sig)) return { ok: false, reason: 'X-Hub-Signature-256 is not sha256=<64 hex digits>' };
    const want = createHmac('sha256', secret).update(body).digest();
    return sameDigest(Buffer.from(sig.slice(7).toLowerCase(), 'hex'), want) ? { ok: true, via: 'github' } : { ok: false, reason: 'the signature does not match' };
  }
  const token = one('x-gitlab-token');
  if (token !== undefined) return sameDigest(Buffer.from(token), Buffer.from(secret)) ? { ok: true, via: 'gitlab' } : { ok: false, reason: 'the token does not match' };
  return { ok: false, reason: 'neither X-Hub-Signature-256 nor X-Gitlab-Token was sent' };
}
