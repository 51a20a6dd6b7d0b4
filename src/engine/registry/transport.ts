// HTTP(S) to one registry, per the distribution spec: scheme (HTTPS; plain HTTP only for loopback or insecure
// registries), TLS with the registry's own CA, auth (anonymous, basic, bearer tokens from WWW-Authenticate,
// cached per scope until they expire), redirects (another origin never gets the Authorization header), retries
// of requests without a body stream. Credentials and tokens never appear in an error or a log line.
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { GantryError, errnoCode } from '../../common/errors.js';
import { isLoopbackHost } from './endpoint.js';
import { isInsecure, registryCAs, type RegistrySettings } from './settings.js';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';

export interface Credentials {
  username?: string | undefined;
  password?: string | undefined;
  /** An OAuth refresh token (Docker's `identitytoken`). */
  identityToken?: string | undefined;
  /** A bearer token to send as it is (Docker's `registrytoken`). */
  registryToken?: string | undefined;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A body: bytes (retried when the connection drops), or a stream factory (sent once). */
  body?: Buffer | (() => Readable);
  /** Token scopes the request needs, e.g. `repository:library/busybox:pull`. */
  scopes: readonly string[];
}

const MAX_REDIRECTS = 5;
const MAX_TOKEN_BYTES = 1024 * 1024;
const MAX_ERROR_BYTES = 64 * 1024;
const RETRIES = 3;
const DEFAULT_TOKEN_SECONDS = 60;
const CONNECT_TIMEOUT_MS = 30_000;

interface CachedToken { token: string; expires: number }

/** Tokens per registry, scope set and user; shared by every client of one daemon. */
export class TokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  /** Challenges seen per registry host, so later requests authenticate up front. */
  readonly challenges = new Map<string, Challenge>();
  /** The scheme found for hosts where plain HTTP is allowed (decided once per daemon). */
  readonly schemes = new Map<string, 'https' | 'http'>();

  get(key: string, now = Date.now()): string | undefined {
    const t = this.#tokens.get(key);
    if (t === undefined) return undefined;
    if (t.expires <= now) { this.#tokens.delete(key); return undefined; }
    return t.token;
  }

  set(key: string, token: string, seconds: number, now = Date.now()): void {
    // Renewed a little early, so a token never expires between the check and the request.
    this.#tokens.set(key, { token, expires: now + Math.max(1, seconds - 5) * 1000 });
  }
}

export const RETRYABLE_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE']);

export function isRetryable(e: unknown): boolean {
  if (e instanceof GantryError) return e.code === 'REGISTRY_ERROR' && e.detail?.['retryable'] === true;
  const code = errnoCode(e);
  return (code !== undefined && RETRYABLE_ERRNOS.has(code)) || (e instanceof Error && /socket hang up|premature close|aborted/i.test(e.message));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const backoffMs = (attempt: number): number => 200 * 2 ** attempt;

function userKey(c: Credentials | undefined): string {
  if (c === undefined) return 'anonymous';
  return createHash('sha256').update(JSON.stringify([c.username ?? '', c.password ?? '', c.identityToken ?? '', c.registryToken ?? ''])).digest('hex').slice(0, 16);
}

export class RegistryTransport {
  readonly host: string;
  #scheme: 'https' | 'http' | undefined;
  readonly #httpsAgent: https.Agent;
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  readonly #settings: RegistrySettings;
  readonly #creds: Credentials | undefined;
  readonly #tokens: TokenCache;

  constructor(host: string, settings: RegistrySettings, creds: Credentials | undefined, tokens: TokenCache) {
    this.host = host;
    this.#settings = settings;
    this.#creds = creds;
    this.#tokens = tokens;
    const ca = registryCAs(settings, host);
    const insecure = isInsecure(settings, host);
    // A registry's own CA is trusted besides Node's bundled roots, not instead of them.
    this.#httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, ...(ca === undefined ? {} : { ca: [...tls.rootCertificates, ...ca] }), rejectUnauthorized: !insecure });
  }

  close(): void {
    this.#httpsAgent.destroy();
    this.#httpAgent.destroy();
  }

  /** The registry base URL (`https://host`), deciding the scheme once: HTTPS, or HTTP where it is allowed. */
  async base(): Promise<string> {
    this.#scheme ??= this.#tokens.schemes.get(this.host);
    if (this.#scheme === undefined) {
      const plainAllowed = isLoopbackHost(this.host) || isInsecure(this.#settings, this.host);
      if (!plainAllowed) this.#scheme = 'https';
      else {
        try {
          await this.#once('GET', new URL(`https://${this.host}/v2/`), {}, undefined).then((r) => r.resume());
          this.#scheme = 'https';
        } catch (e) {
          if (!isTlsFailure(e)) throw this.#connectError(e);
          this.#scheme = 'http';
        }
        this.#tokens.schemes.set(this.host, this.#scheme);
      }
    }
    return `${this.#scheme}://${this.host}`;
  }

  /**
   * Sends a request to `pathOrUrl` (a path under the registry, or an absolute URL such as an upload location),
   * authenticating and following redirects. Resolves with the final response, whatever its status.
   */
  async request(method: string, pathOrUrl: string, opts: RequestOptions): Promise<IncomingMessage> {
    const url = new URL(pathOrUrl, await this.base());
    const retryable = !(typeof opts.body === 'function');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#authenticated(method, url, opts);
      } catch (e) {
        if (!retryable || attempt >= RETRIES || !isRetryable(e)) throw e instanceof GantryError ? e : this.#connectError(e);
        await sleep(backoffMs(attempt));
      }
    }
  }

  /** Checks that the credentials are accepted (login): GET /v2/ with the auth flow. */
  async ping(): Promise<void> {
    let res: IncomingMessage;
    try {
      res = await this.request('GET', '/v2/', { scopes: [] });
    } catch (e) {
      if (e instanceof GantryError && e.code === 'UNAUTHORIZED') throw unauthorized(this.host, this.#creds !== undefined, 'login');
      throw e;
    }
    await drain(res);
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(this.host, this.#creds !== undefined, 'login');
    if ((res.statusCode ?? 500) >= 300) throw new GantryError('REGISTRY_ERROR', `${this.host} answered ${res.statusCode} to /v2/`, { hint: 'is this a container registry (OCI distribution API v2)?' });
  }

  async #authenticated(method: string, url: URL, opts: RequestOptions): Promise<IncomingMessage> {
    const sameRegistry = url.host === this.host;
    let auth = sameRegistry ? this.#knownAuth(opts.scopes) : undefined;
    let res = await this.#follow(method, url, opts, auth);
    if (res.statusCode !== 401 || !sameRegistry) return res;
    const header = res.headers['www-authenticate'];
    await drain(res);
    const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : header ?? '');
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (challenge === undefined) throw unauthorized(this.host, this.#creds !== undefined, 'request');
    this.#tokens.challenges.set(this.host, challenge);
    auth = challenge.scheme === 'basic' ? this.#basic() : await this.#bearer(challenge, opts.scopes);
    if (auth === undefined) throw unauthorized(this.host, false, 'request');
    if (typeof opts.body === 'function') {
      // Uploads follow an authenticated POST, so this is a token the registry stopped accepting mid-push.
      throw new GantryError('UNAUTHORIZED', `${this.host} refused the authorization of an upload`, { hint: 'run the push again' });
    }
    res = await this.#follow(method, url, opts, auth);
    return res;
  }

  #knownAuth(scopes: readonly string[]): string | undefined {
    const c = this.#tokens.challenges.get(this.host);
    if (c === undefined) return undefined;
    if (c.scheme === 'basic') return this.#basic();
    const token = this.#tokens.get(this.#tokenKey(c, scopes));
    return token === undefined ? undefined : `Bearer ${token}`;
  }

  #basic(): string | undefined {
    const c = this.#creds;
    if (c?.username === undefined || c.password === undefined) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  #tokenKey(c: Challenge, scopes: readonly string[]): string {
    return `${this.host}|${c.params['realm'] ?? ''}|${c.params['service'] ?? ''}|${[...scopes].sort().join(' ')}|${userKey(this.#creds)}`;
  }

  /** The bearer token flow: GET realm?service=…&scope=… (with basic credentials when we have them). */
  async #bearer(c: Challenge, scopes: readonly string[]): Promise<string> {
    if (this.#creds?.registryToken !== undefined) return `Bearer ${this.#creds.registryToken}`;
    const key = this.#tokenKey(c, scopes);
    const cached = this.#tokens.get(key);
    if (cached !== undefined) return `Bearer ${cached}`;
    const realm = c.params['realm'];
    if (realm === undefined) throw new GantryError('REGISTRY_ERROR', `${this.host} asked for a bearer token but named no token server (realm)`, { hint: 'the registry is misconfigured' });
    let realmUrl: URL;
    try { realmUrl = new URL(realm); } catch { throw new GantryError('REGISTRY_ERROR', `${this.host} named an invalid token server URL`, { hint: 'the registry is misconfigured' }); }
    if (realmUrl.protocol !== 'https:' && !(realmUrl.protocol === 'http:' && (isLoopbackHost(realmUrl.host) || isInsecure(this.#settings, realmUrl.host)))) {
      throw new GantryError('REGISTRY_ERROR', `${this.host} named a token server that is not HTTPS (${realmUrl.host})`, { hint: 'list it in GANTRY_INSECURE_REGISTRIES if that is intended' });
    }
    if (c.params['service'] !== undefined) realmUrl.searchParams.set('service', c.params['service']);
    const wanted = new Set(scopes);
    if (c.params['scope'] !== undefined) for (const s of c.params['scope'].split(' ')) if (s) wanted.add(s);
    for (const s of wanted) realmUrl.searchParams.append('scope', s);
    const basic = this.#basic();
    const refresh = basic === undefined ? this.#creds?.identityToken : undefined;
    // An identity token (OAuth refresh token, what `docker login` keeps for some registries) is exchanged by POST.
    const res = refresh === undefined
      ? await this.#send('GET', realmUrl, { scopes: [] }, basic)
      : await this.#send('POST', new URL(realmUrl.origin + realmUrl.pathname), {
        scopes: [], headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(new URLSearchParams([['grant_type', 'refresh_token'], ['refresh_token', refresh], ['client_id', 'gantry'],
          ...(c.params['service'] === undefined ? [] : [['service', c.params['service']] as [string, string]]), ...[...wanted].map((w) => ['scope', w] as [string, string])]).toString()),
      }, undefined);
    const body = await readCapped(res, MAX_TOKEN_BYTES, 'token response');
    if (res.statusCode === 401 || res.statusCode === 403) throw unauthorized(this.host, basic !== undefined || refresh !== undefined, 'token');
    if ((res.statusCode ?? 500) >= 300) {
      throw new GantryError('REGISTRY_ERROR', `the token server of ${this.host} answered ${res.statusCode}`, { hint: 'try again later; check the registry\'s status' });
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try { parsed = JSON.parse(body.toString('utf8')) as typeof parsed; } catch { throw new GantryError('REGISTRY_ERROR', `the token server of ${this.host} did not answer JSON`); }
    const token = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
    if (token === undefined || token === '') throw new GantryError('REGISTRY_ERROR', `the token server of ${this.host} answered without a token`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    this.#tokens.set(key, token, seconds);
    return `Bearer ${token}`;
  }

  /** Sends and follows redirects; another origin gets no Authorization header. */
  async #follow(method: string, url: URL, opts: RequestOptions, auth: string | undefined): Promise<IncomingMessage> {
    let current = url;
    let currentAuth = auth;
    let currentMethod = method;
    for (let hop = 0; ; hop++) {
      const res = await this.#send(currentMethod, current, opts, currentAuth);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (![301, 302, 303, 307, 308].includes(status) || location === undefined) return res;
      await drain(res);
      if (hop >= MAX_REDIRECTS) throw new GantryError('REGISTRY_ERROR', `${this.host} redirected more than ${MAX_REDIRECTS} times`);
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && (isLoopbackHost(next.host) || isInsecure(this.#settings, next.host) || next.host === this.host))) {
        throw new GantryError('REGISTRY_ERROR', `${this.host} redirected to a plain-HTTP URL on ${next.host}, which gantry does not follow`, { hint: 'list that host in GANTRY_INSECURE_REGISTRIES if it is intended' });
      }
      if (next.origin !== current.origin) currentAuth = undefined;
      if (status === 303) currentMethod = 'GET';
      current = next;
    }
  }

  #send(method: string, url: URL, opts: RequestOptions, auth: string | undefined): Promise<IncomingMessage> {
    const headers: OutgoingHttpHeaders = { 'User-Agent': 'gantry/0.1', ...opts.headers };
    if (auth !== undefined) headers['Authorization'] = auth;
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = opts.body.length;
    return this.#once(method, url, headers, opts.body);
  }

  #once(method: string, url: URL, headers: OutgoingHttpHeaders, body: RequestOptions['body']): Promise<IncomingMessage> {
    const mod = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? (url.host === this.host ? this.#httpsAgent : undefined) : (url.host === this.host ? this.#httpAgent : undefined);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = mod.request(url, { method, headers, ...(agent === undefined ? {} : { agent }) }, resolve);
      req.setTimeout(CONNECT_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('the registry did not answer in time'), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        const stream = body();
        stream.on('error', (e) => req.destroy(e));
        stream.pipe(req);
      }
    });
  }

  #connectError(e: unknown): GantryError {
    if (e instanceof GantryError) return e;
    const code = errnoCode(e);
    if (isTlsFailure(e) || (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code))) {
      return new GantryError('REGISTRY_ERROR', `TLS with ${this.host} failed: ${code ?? (e instanceof Error ? e.message : String(e))}`, {
        hint: `put the registry's CA certificate in ${this.#settings.certsDir}/${this.host}/ca.crt (or list the host in GANTRY_INSECURE_REGISTRIES)`,
      });
    }
    return new GantryError('REGISTRY_ERROR', `cannot reach the registry ${this.host}: ${code ?? (e instanceof Error ? e.message : String(e))}`, {
      hint: 'check the registry address and that it is up', detail: { retryable: isRetryable(e) },
    });
  }
}

function isTlsFailure(e: unknown): boolean {
  const code = errnoCode(e) ?? '';
  return code === 'EPROTO' || code.startsWith('ERR_SSL') || (e instanceof Error && /wrong version number|ssl3_get_record|packet length too long/i.test(e.message));
}

export function unauthorized(host: string, hadCredentials: boolean, what: 'login' | 'request' | 'token'): GantryError {
  return new GantryError('UNAUTHORIZED', what === 'login'
    ? `login to ${host} failed: unauthorized: incorrect username or password`
    : `${host}: unauthorized${hadCredentials ? ': the registry refused the credentials' : ': authentication required'}`, {
    hint: what === 'login' ? 'check the user name and password (they are not shown)' : `run \`gantry login ${host}\` (or docker login) with an account that may access it`,
  });
}

export async function drain(res: IncomingMessage): Promise<void> {
  if (res.complete || res.destroyed) return;
  res.resume();
  await new Promise<void>((resolve) => { res.once('end', resolve); res.once('error', () => resolve()); res.once('close', resolve); });
}

/** Reads a response body up to `cap` bytes (Content-Length checked first); TOO_LARGE beyond it. */
export async function readCapped(res: IncomingMessage, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) {
    res.destroy();
    throw new GantryError('TOO_LARGE', `the registry sent a ${what} of ${declared} bytes; more than ${cap} are refused`, { hint: 'this registry or image is not trustworthy' });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > cap) {
      res.destroy();
      throw new GantryError('TOO_LARGE', `the registry sent a ${what} of more than ${cap} bytes; refused`, { hint: 'this registry or image is not trustworthy' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A registry error answer as a GantryError: the distribution spec's `{"errors":[{code,message}]}` when present. */
export async function registryError(res: IncomingMessage, host: string, what: string): Promise<GantryError> {
  let detail = '';
  try {
    const body = await readCapped(res, MAX_ERROR_BYTES, 'error');
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = parsed.errors?.[0];
    if (first !== undefined) detail = [first.code, first.message].filter((x) => typeof x === 'string').join(': ').toLowerCase().slice(0, 300);
  } catch { /* not JSON, or too long: the status says enough */ }
  const status = res.statusCode ?? 0;
  const tail = detail ? `: ${detail}` : '';
  if (status === 404) return new GantryError('NOT_FOUND', `${what} not found on ${host}${tail}`, { hint: 'check the name and tag (the registry does not know it)' });
  if (status === 401 || status === 403) return new GantryError('UNAUTHORIZED', `${what}: access to ${host} denied${tail}`, { hint: `the repository does not exist or needs \`gantry login ${host}\`` });
  return new GantryError('REGISTRY_ERROR', `${what}: ${host} answered ${status}${tail}`, { hint: 'try again; if it persists, check the registry', detail: { retryable: status >= 500 || status === 429 } });
}
