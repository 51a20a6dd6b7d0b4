// Images from containers and files, Docker's paths: history, changes (diff), commit, export.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import { GantryError } from '../../common/errors.js';
import { pathStatHeader } from '../../engine/cp/path-stat.js';
import { UploadBudget } from '../../engine/images/limits.js';
import { boolParam, filtersParam, type Router } from '../router.js';

/**
 * Sends a tar stream. Headers wait for the first bytes, so a stream that fails at once (nothing to read, a mount
 * refused) is still a plain HTTP error; a failure later cuts the connection (the client sees a short tar).
 */
export async function sendTar(res: ServerResponse, stream: Readable, headers: Record<string, string> = {}): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => { stream.off('readable', onReadable); reject(e); };
    const onReadable = (): void => { stream.off('error', onError); resolve(); };
    stream.once('error', onError);
    stream.once('readable', onReadable);
  });
  res.writeHead(200, { 'Content-Type': 'application/x-tar', ...headers });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
  await new Promise<void>((resolve) => res.on('close', resolve));
}

export function snapshotRoutes(r: Router, engine: Engine): void {
  r.add('GET', '/images/{name}/history', (ctx) => engine.imageHistory(ctx.params['name']!));
  r.add('GET', '/containers/{id}/changes', (ctx) => engine.containerChanges(ctx.params['id']!));
  r.add('GET', '/containers/{id}/export', async (ctx) => {
    await sendTar(ctx.res!, engine.exportContainer(ctx.params['id']!));
    return undefined;
  });
  r.add('GET', '/images/get', async (ctx) => {
    const names = ctx.query.getAll('names');
    if (names.length === 0) throw new GantryError('INVALID_ARGUMENT', 'save needs at least one image', { hint: 'GET /images/get?names=IMAGE&names=…' });
    await sendTar(ctx.res!, engine.saveImages(names));
    return undefined;
  });
  r.add('GET', '/images/{name}/get', async (ctx) => {
    await sendTar(ctx.res!, engine.saveImages([ctx.params['name']!]));
    return undefined;
  });
  // The archive is the raw body, capped at the layer byte cap; Docker's answer: JSON messages, one per image.
  r.add('POST', '/images/load', async (ctx) => {
    const budget = new UploadBudget(engine.images.layers.limits);
    ctx.req.on('error', (e) => budget.destroy(e));
    const loaded = await engine.loadImages(ctx.req.pipe(budget));
    const lines = loaded.flatMap((img) => (img.tags.length > 0 ? img.tags.map((t) => `Loaded image: ${t}\n`) : [`Loaded image ID: ${img.id}\n`]));
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(lines.map((l) => `${JSON.stringify({ stream: l })}\n`).join(''));
    return undefined;
  }, { rawBody: true });
  // docker cp: HEAD (stat), GET (a tar of the path), PUT (a tar extracted into the directory `path`)
  const pathOf = (q: URLSearchParams): string => {
    const path = q.get('path');
    if (!path) throw new GantryError('INVALID_ARGUMENT', 'the archive request needs a path', { hint: '?path=/absolute/path/in/the/container' });
    return path;
  };
  r.add('HEAD', '/containers/{id}/archive', async (ctx) => {
    const stat = await engine.containerPathStat(ctx.params['id']!, pathOf(ctx.query));
    ctx.res!.writeHead(200, { 'X-Docker-Container-Path-Stat': pathStatHeader(stat), 'Content-Type': 'application/x-tar' });
    ctx.res!.end();
    return undefined;
  });
  r.add('GET', '/containers/{id}/archive', async (ctx) => {
    const { stat, stream } = await engine.readContainerPath(ctx.params['id']!, pathOf(ctx.query));
    await sendTar(ctx.res!, stream, { 'X-Docker-Container-Path-Stat': pathStatHeader(stat) });
    return undefined;
  });
  r.add('PUT', '/containers/{id}/archive', async (ctx) => {
    const budget = new UploadBudget(engine.images.layers.limits);
    ctx.req.on('error', (e) => budget.destroy(e));
    await engine.writeContainerPath(ctx.params['id']!, pathOf(ctx.query), ctx.req.pipe(budget), {
      copyUidGid: boolParam(ctx.query, 'copyUIDGID'), noOverwriteDirNonDir: boolParam(ctx.query, 'noOverwriteDirNonDir'),
      // Gantry's extension (gantry watch): the entries get the owner the container's user would give them
      asContainerUser: boolParam(ctx.query, 'asContainerUser'),
    });
    // Docker answers 200 with an empty body; docker-py's put_archive returns `status == 200`.
    ctx.res!.writeHead(200, { 'Content-Length': 0 });
    ctx.res!.end();
    return undefined;
  }, { rawBody: true });
  // Gantry's own (gantry watch): body {"Paths": ["/abs", …]}, each removed from the container (rm -rf, inside its root)
  r.add('POST', '/containers/{id}/archive/remove', async (ctx) => {
    const paths = (ctx.body as { Paths?: unknown } | undefined)?.Paths;
    if (!Array.isArray(paths) || !paths.every((p): p is string => typeof p === 'string' && p.startsWith('/'))) {
      throw new GantryError('INVALID_ARGUMENT', 'Paths must be a list of absolute container paths', { hint: 'send {"Paths": ["/app/old.py"]}' });
    }
    await engine.removeContainerPaths(ctx.params['id']!, paths);
    return undefined;
  }, { status: 204 });
  r.add('POST', '/containers/prune', (ctx) => engine.pruneContainers(filtersParam(ctx.query)));
  r.add('POST', '/images/prune', (ctx) => engine.pruneImages(filtersParam(ctx.query)));
  r.add('POST', '/volumes/prune', (ctx) => engine.pruneVolumes(filtersParam(ctx.query)));
  r.add('GET', '/system/df', () => engine.systemDf());
  // POST /build/prune (`docker system prune` ends with it, `gantry builder prune`): api/routes/build.ts.
  // POST /commit?container=ID&repo=R&tag=T&comment=&author=&pause=&changes=… (Docker's query; the body config is not read)
  r.add('POST', '/commit', async (ctx) => {
    const repo = ctx.query.get('repo');
    const tag = ctx.query.get('tag');
    const image = await engine.commitContainer(ctx.query.get('container') ?? '', {
      ref: repo ? (tag ? `${repo}:${tag}` : repo) : undefined,
      changes: ctx.query.getAll('changes'),
      comment: ctx.query.get('comment') || undefined,
      author: ctx.query.get('author') || undefined,
      pause: boolParam(ctx.query, 'pause', true),
    });
    return { Id: image.id };
  }, { status: 201 });
}
