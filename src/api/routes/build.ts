// POST /build (Docker's classic builder: query parameters t, dockerfile, buildargs, target, nocache, pull,
// labels, q, networkmode; the body is the context as a tar, plain or gzip) and POST /build/prune. Gantry's own
// additions: the `X-Gantry-Build-Secrets` header (the secrets of RUN --mount=type=secret; never in the query, a
// log, the image or a cache key) and `progress=json` (one `{"step": …}` report per step besides the stream,
// which Docker's clients would show as empty lines, so only on request). The context is
// extracted with the layer checks into a temp dir of the daemon and removed afterwards; the build streams
// Docker's JSON messages; a client that goes away aborts the build (its step container is removed).
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import type { BuildCache } from '../../engine/build/cache.js';
import { CacheMounts } from '../../engine/build/cache-mounts.js';
import { extractContext } from '../../engine/build/context-tar.js';
import { DockerfileError, formatDockerfileDiagnostic } from '../../engine/build/diagnostics.js';
import { BuildMemo, MEMO_MAX_CONTEXT_BYTES } from '../../engine/build/build-memo.js';
import { BuildExecutor, type BuildMessage, type BuildNetwork } from '../../engine/build/executor.js';
import { removeDir } from '../../engine/build/files.js';
import type { Engine } from '../../engine/engine.js';
import { parseReference } from '../../engine/images/reference.js';
import { credentialsOf, type AuthConfig } from '../../engine/registry/auth-header.js';
import { loginDomain, referenceDomain } from '../../engine/registry/endpoint.js';
import type { Credentials } from '../../engine/registry/transport.js';
import type { RegistryService } from '../../engine/registry/service.js';
import { boolParam, type Router } from '../router.js';

function jsonMap(raw: string | null, name: string): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === null || raw === '') return out;
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { throw new GantryError('INVALID_ARGUMENT', `${name} is not JSON`, { hint: `${name} is a JSON object of strings, e.g. {"K":"V"}` }); }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new GantryError('INVALID_ARGUMENT', `${name} is not a JSON object`, { hint: `${name} is a JSON object of strings, e.g. {"K":"V"}` });
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === 'string') out.set(k, v);
    else if (v !== null) throw new GantryError('INVALID_ARGUMENT', `${name}: the value of ${k} is not a string`, { hint: `${name} is a JSON object of strings` });
  }
  return out;
}

/** Cap on X-Registry-Config (a map of a few AuthConfigs). */
const MAX_REGISTRY_CONFIG = 64 * 1024;

/**
 * The classic builder's `X-Registry-Config`: base64 JSON `{"<registry>": AuthConfig}` (docker sends every registry it
 * has credentials for); returns a lookup by image reference for FROM's pulls. Credentials are never echoed.
 */
function registryConfig(header: string | string[] | undefined): (ref: string) => Credentials | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw.trim() === '') return () => undefined;
  if (raw.length > MAX_REGISTRY_CONFIG) throw new GantryError('INVALID_ARGUMENT', 'the X-Registry-Config header is too long', { hint: 'it carries a few registries\' credentials' });
  let parsed: unknown;
  try { parsed = JSON.parse(Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')); } catch {
    throw new GantryError('INVALID_ARGUMENT', 'the X-Registry-Config header is not base64-encoded JSON', { hint: 'it carries {"REGISTRY": {"username": …, "password": …}} as base64' });
  }
  const byDomain = new Map<string, AuthConfig>();
  if (parsed !== null && typeof parsed === 'object') {
    for (const [key, value] of Object.entries(parsed)) if (value !== null && typeof value === 'object') byDomain.set(loginDomain(key), value as AuthConfig);
  }
  return (ref) => {
    try { return credentialsOf(byDomain.get(referenceDomain(ref))); } catch { return undefined; }
  };
}

/** Cap on X-Gantry-Build-Secrets (the server takes 128 KiB of headers in all). */
export const MAX_SECRETS_HEADER = 96 * 1024;
export const SECRETS_HEADER = 'x-gantry-build-secrets';

/** `X-Gantry-Build-Secrets`: base64 JSON `{"ID": "<base64 value>"}`. Values are never echoed in an error. */
export function buildSecrets(header: string | string[] | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw.trim() === '') return out;
  if (raw.length > MAX_SECRETS_HEADER) throw new GantryError('TOO_LARGE', `the build's secrets are larger than ${MAX_SECRETS_HEADER} bytes (encoded)`, { hint: 'pass fewer or smaller secrets; put large files in the context instead' });
  const bad = (): GantryError => new GantryError('INVALID_ARGUMENT', 'the X-Gantry-Build-Secrets header is not base64 JSON of {"ID": "<base64 value>"}', { hint: 'gantry build --secret id=ID,src=FILE sends it' });
  let parsed: unknown;
  try { parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')); } catch { throw bad(); }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad();
  for (const [id, value] of Object.entries(parsed)) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(id)) throw bad();
    out.set(id, Buffer.from(value, 'base64'));
  }
  return out;
}

/**
 * Reads a request body into memory while it stays within `max` bytes. `whole`: all of it, when it did; `stream`:
 * the body from its first byte either way (what was read, then the rest).
 */
async function holdSmallBody(body: Readable, max: number): Promise<{ whole: Buffer | undefined; stream: Readable }> {
  const held: Buffer[] = [];
  let size = 0;
  const it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  for (;;) {
    const next = await it.next();
    if (next.done === true) {
      const whole = Buffer.concat(held, size);
      return { whole, stream: Readable.from([whole]) };
    }
    held.push(next.value);
    size += next.value.length;
    if (size > max) {
      return { whole: undefined, stream: Readable.from((async function* () { yield* held; for (;;) { const n = await it.next(); if (n.done === true) return; yield n.value; } })()) };
    }
  }
}

function networkOf(raw: string | null): BuildNetwork {
  if (raw === null || raw === '' || raw === 'none') return 'none';
  if (raw === 'host') return 'host';
  if (raw === 'default' || raw === 'bridge') return 'default';
  throw new GantryError('INVALID_ARGUMENT', `networkmode ${JSON.stringify(raw)} is not supported for builds`, { hint: 'use none (the default), default (a bridge) or host' });
}

export function buildRoutes(r: Router, engine: Engine, host: { root: string }, registry: RegistryService | undefined, cache: BuildCache): void {
  const tmpDir = join(host.root, 'tmp');
  const cacheMounts = new CacheMounts(cache.dir);
  const memo = new BuildMemo();

  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    // Everything the request says is checked before a byte of the context is read.
    const tags = q.getAll('t').filter((t) => t !== '');
    for (const t of tags) parseReference(t);
    if ((q.get('remote') ?? '') !== '') throw new GantryError('UNSUPPORTED', 'remote build contexts are not supported', { hint: 'send the context as the request body (docker build PATH does)' });
    const buildArgs = jsonMap(q.get('buildargs'), 'buildargs');
    const labels = Object.fromEntries(jsonMap(q.get('labels'), 'labels'));
    const network = networkOf(q.get('networkmode'));
    const quiet = boolParam(q, 'q');
    const credentials = registryConfig(ctx.req.headers['x-registry-config']);
    const secrets = buildSecrets(ctx.req.headers[SECRETS_HEADER]);
    const jsonProgress = q.get('progress') === 'json';
    const res = ctx.res as ServerResponse;
    const aborted = new AbortController();
    res.on('close', () => { if (!res.writableFinished) aborted.abort(new GantryError('INTERNAL', 'the client went away')); });
    const send = (m: object): void => {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' });
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(m)}\n`);
    };
    const emit = (m: BuildMessage): void => {
      if ('step' in m) { if (jsonProgress) send(m); } else if (!quiet || 'aux' in m) send(m);
    };
    const noCache = boolParam(q, 'nocache');
    const pull = boolParam(q, 'pull');
    const params = { dockerfile: q.get('dockerfile') || 'Dockerfile', tags, buildArgs, labels, target: q.get('target') || undefined, network };
    // A small context is held to be hashed first: the same bytes and parameters as a fully cached build before
    // are answered from memory (build-memo.ts), without unpacking anything.
    const body = await holdSmallBody(ctx.req, MEMO_MAX_CONTEXT_BYTES);
    const memoKey = body.whole === undefined || noCache || pull ? undefined : BuildMemo.key(body.whole, params);
    const remembered = memoKey === undefined ? undefined
      : memo.lookup(memoKey, (ref) => engine.images.resolve(ref)?.id, (id) => engine.images.resolve(id) !== undefined);
    if (remembered !== undefined) {
      res.cork(); // the replay leaves in one write
      for (const m of remembered.messages) emit(m);
      for (const t of tags) {
        await engine.images.tag(remembered.imageId, t);
        engine.events.emit('image', 'tag', remembered.imageId, { name: t });
      }
      if (quiet) send({ stream: `${remembered.imageId}\n` });
      if (!res.writableEnded) res.end();
      return undefined;
    }
    const contextDir = await extractContext(body.stream, tmpDir, engine.images.layers.limits);
    const messages: BuildMessage[] = [];
    try {
      const executor = new BuildExecutor({
        contextDir, dockerfile: params.dockerfile, tags, buildArgs, target: params.target,
        noCache, pull, labels, network, signal: aborted.signal, secrets,
      }, {
        engine, cache, cacheMounts, tmpDir, limits: engine.images.layers.limits,
        pull: registry === undefined ? undefined : async (ref, out) => {
          await registry.pull({ reference: ref, credentials: credentials(ref) }, (p) => {
            if (p.status !== undefined && p.status !== 'Downloading' && p.status !== 'Extracting') out({ stream: `${p.id !== undefined ? `${p.id}: ` : ''}${p.status}\n` });
          });
        },
      }, (m) => { if (memoKey !== undefined) messages.push(m); emit(m); });
      const result = await executor.run();
      // remembered only when every step came from the cache (nothing ran, nothing was pulled): its messages are those
      // of a cached rebuild
      const everyStepCached = messages.every((m) => !('step' in m) || m.step.cached);
      if (memoKey !== undefined && everyStepCached) memo.store(memoKey, { imageId: result.imageId, external: result.external, messages });
      if (quiet) send({ stream: `${result.imageId}\n` });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // A Dockerfile error also travels rendered with its caret (gantry build prints that; Docker's clients the message).
      const rendered = e instanceof DockerfileError ? formatDockerfileDiagnostic(e.diagnostic) : undefined;
      send({ errorDetail: { message }, error: message, ...(e instanceof GantryError ? { code: e.code, hint: e.hint } : {}), ...(rendered === undefined ? {} : { rendered }) });
    }
    // the answer is complete: the unpacked context goes after it
    if (!res.writableEnded) res.end();
    await removeDir(contextDir);
    return undefined;
  }, { rawBody: true });

  r.add('POST', '/build/prune', () => {
    // The entries only: the intermediate images they name stay (untagged; image prune removes them), so 0 bytes.
    // Cache mounts not in use go too (docker builder prune removes them); their bytes are not counted.
    cacheMounts.prune();
    memo.clear();
    return { CachesDeleted: cache.prune(), SpaceReclaimed: 0 };
  });
}
