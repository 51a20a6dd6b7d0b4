// Images from containers and files, Docker's paths: history, changes (diff), commit, export.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import { boolParam, type Router } from '../router.js';

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
