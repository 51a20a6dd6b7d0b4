// Registry routes in Docker's shapes: POST /images/create?fromImage= (pull), POST /images/{name}/push, POST /auth.
// Pull and push stream Docker's JSON progress messages; an error after the first message is a message too.
import type { ServerResponse } from 'node:http';
import { GantryError } from '../../common/errors.js';
import { parsePlatform } from '../../engine/registry/manifest.js';
import { credentialsOf, decodeRegistryAuth, type AuthConfig } from '../../engine/registry/auth-header.js';
import type { ProgressMessage } from '../../engine/registry/progress.js';
import type { RegistryService } from '../../engine/registry/service.js';
import type { Engine } from '../../engine/engine.js';
import { formatReference, parseReference } from '../../engine/images/reference.js';
import type { RequestContext, Router } from '../router.js';

function authOf(ctx: RequestContext): ReturnType<typeof credentialsOf> {
  const h = ctx.req.headers['x-registry-auth'];
  return credentialsOf(decodeRegistryAuth(Array.isArray(h) ? h[0] : h));
}

/** Streams progress as JSON lines (headers with the first message, so an early error is a plain HTTP error). */
async function progressStream(ctx: RequestContext, fn: (emit: (m: ProgressMessage) => void) => Promise<void>): Promise<undefined> {
  const res = ctx.res as ServerResponse;
  const emit = (m: ProgressMessage): void => {
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/json' });
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(m)}\n`);
  };
  try {
    await fn(emit);
  } catch (e) {
    if (!res.headersSent) throw e;
    const message = e instanceof Error ? e.message : String(e);
    emit({ errorDetail: { message }, error: message, ...(e instanceof GantryError ? { code: e.code, hint: e.hint } : {}) } as ProgressMessage);
  }
  if (!res.writableEnded) res.end();
  return undefined;
}

/** `fromImage` + `tag` as Docker combines them (a tag may be a digest). */
export function pullReference(fromImage: string, tag: string | null): string {
  if (tag === null || tag === '') return fromImage;
  return tag.startsWith('sha256:') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`;
}

export function registryRoutes(r: Router, engine: Engine, registry: RegistryService): void {
  // Docker's /images/search asks Docker Hub's own v1 search API; a v2 registry has nothing to answer it with.
  r.add('GET', '/images/search', () => {
    throw new GantryError('UNSUPPORTED', 'search is not supported: registries speak the distribution API, which has no search',
      { hint: 'list a repository\'s tags with skopeo list-tags docker://HOST/REPO, or browse the registry\'s web page' });
  });
  r.add('POST', '/auth', async (ctx) => {
    const body = (ctx.body ?? {}) as AuthConfig;
    await registry.login(body.serveraddress, credentialsOf(body));
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });

  r.add('POST', '/images/{name}/push', async (ctx) => {
    const name = ctx.params['name']!;
    const tag = ctx.query.get('tag');
    const credentials = authOf(ctx);
    let refs: string[];
    // A tag in the query wins over one in the name (Docker's WithTag: dockerode sends `NAME:TAG/push?tag=TAG`);
    // a name with its own tag pushes that tag only.
    const tagged = name.slice(name.lastIndexOf('/') + 1).includes(':');
    if (tag) refs = [formatReference({ ...parseReference(name), tag, digest: undefined })];
    else if (tagged) refs = [name];
    else {
      // No tag: every local tag of the repository, as docker does.
      const repo = formatReference({ ...parseReference(name), tag: undefined, digest: undefined }, false);
      refs = engine.images.list().flatMap((i) => i.RepoTags ?? []).filter((t) => formatReference({ ...parseReference(t), tag: undefined, digest: undefined }, false) === repo);
      if (refs.length === 0) throw new GantryError('IMAGE_NOT_FOUND', `an image does not exist locally with the name: ${name}`, { hint: `tag one first: gantry tag IMAGE ${name}:TAG` });
    }
    return progressStream(ctx, async (emit) => {
      for (const ref of refs) await registry.push({ reference: ref, credentials }, emit);
    });
  });
}

/** The pull half of POST /images/create (import keeps its own branch in images.ts). */
export async function pullRoute(ctx: RequestContext, registry: RegistryService): Promise<undefined> {
  const fromImage = ctx.query.get('fromImage') ?? '';
  if (fromImage === '') throw new GantryError('INVALID_ARGUMENT', 'pull needs fromImage', { hint: 'POST /images/create?fromImage=NAME&tag=TAG' });
  const tag = ctx.query.get('tag');
  const p = ctx.query.get('platform');
  const platform = p ? parsePlatform(p) : undefined;
  const credentials = authOf(ctx);
  // Docker reads no tag at all as "every tag" (the CLI's `pull --all-tags`): each tag the registry lists, in turn.
  const everyTag = (tag === null || tag === '') && !/[:@]/.test(fromImage.slice(fromImage.lastIndexOf('/') + 1));
  parseReference(pullReference(fromImage, everyTag ? 'latest' : tag)); // a bad name is a 400, before the stream starts
  const references = everyTag
    ? (await denied(() => registry.tags(fromImage, credentials))).map((t) => pullReference(fromImage, t))
    : [pullReference(fromImage, tag)];
  if (references.length === 0) throw new GantryError('IMAGE_NOT_FOUND', `the repository ${fromImage} has no tags`, { hint: 'push a tag first' });
  return progressStream(ctx, async (emit) => {
    for (const reference of references) await denied(() => registry.pull({ reference, platform, credentials }, emit));
  });
}

/** A 401 answer makes the docker CLI prompt for a login on stdin (and hang without a terminal); Docker itself never
 * answers a pull with 401: a refused pull is a 403. */
async function denied<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof GantryError && e.code === 'UNAUTHORIZED') throw new GantryError('REGISTRY_DENIED', e.message, { hint: e.hint, cause: e });
    throw e;
  }
}
