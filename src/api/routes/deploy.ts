// /deploy/... routes: deployments from git (src/deploy). Routes translate HTTP and nothing else.
import type { IncomingMessage } from 'node:http';
import { GantryError } from '../../common/errors.js';
import type { DeployService } from '../../deploy/service.js';
import { parseSpec } from '../../deploy/spec.js';
import { boolParam, intParam, type Router } from '../router.js';

/** Webhook bodies are small JSON documents; anything bigger is refused before it is read whole. */
export const MAX_HOOK_BODY = 1024 * 1024;

async function readCapped(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new GantryError('TOO_LARGE', `webhook body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new GantryError('TOO_LARGE', `webhook body over ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export function deployRoutes(r: Router, deploy: DeployService): void {
  r.add('POST', '/deploy', (ctx) => deploy.add(parseSpec(ctx.body)), { status: 201 });
  r.add('GET', '/deploy', () => deploy.list());
  r.add('GET', '/deploy/{source}', (ctx) => deploy.status(ctx.params['source']!));
  r.add('GET', '/deploy/{source}/history', (ctx) => deploy.history(ctx.params['source']!));
  r.add('POST', '/deploy/{source}/rollback', (ctx) => deploy.rollback(ctx.params['source']!, intParam(ctx.query, 'rev')));
  r.add('POST', '/deploy/{source}/suspend', (ctx) => deploy.suspend(ctx.params['source']!));
  r.add('POST', '/deploy/{source}/resume', (ctx) => deploy.resume(ctx.params['source']!));
  r.add('POST', '/deploy/{source}/sync', (ctx) => deploy.sync(ctx.params['source']!));
  r.add('DELETE', '/deploy/{source}', async (ctx) => { await deploy.remove(ctx.params['source']!, boolParam(ctx.query, 'down')); return undefined; }, { status: 204 });
  r.add('POST', '/deploy/{source}/hook', async (ctx) => deploy.hook(ctx.params['source']!, ctx.req.headers, await readCapped(ctx.req, MAX_HOOK_BODY)), { status: 202, rawBody: true });
}
