// /stacks/... routes: up and down stream progress as JSON lines; ls lists stored stacks and their containers.
import type { ServerResponse } from 'node:http';
import { GantryError } from '../../common/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { DownRequest, OneOffRequest, StackEvent, StackService, UpRequest } from '../../daemon/stack-service.js';
import { projectContainers } from '../../reconcile/engine-ops.js';
import { LABEL } from '../../reconcile/labels.js';
import { boolParam, type RequestContext, type Router } from '../router.js';

/** Streams events as JSON lines; headers go out with the first event, so early errors are plain HTTP errors. */
function streamer(ctx: RequestContext): { emit: (e: StackEvent) => void; signal: AbortSignal; end: () => void } {
  const res = ctx.res as ServerResponse;
  const abort = new AbortController();
  res.on('close', () => { if (!res.writableFinished) abort.abort(); });
  const emit = (e: StackEvent): void => {
    if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(e)}\n`);
  };
  return { emit, signal: abort.signal, end: () => { if (!res.writableEnded) res.end(); } };
}

async function streamed(ctx: RequestContext, fn: (emit: (e: StackEvent) => void, signal: AbortSignal) => Promise<unknown>): Promise<undefined> {
  const s = streamer(ctx);
  try {
    await fn(s.emit, s.signal);
  } catch (e) {
    if (!ctx.res!.headersSent) throw e;
    const failure = e instanceof GantryError ? { message: e.message, hint: e.hint } : { message: e instanceof Error ? e.message : String(e) };
    s.emit({ kind: 'result', ok: false, failures: [{ service: undefined, resource: 'stack', ...failure }] });
  }
  s.end();
  return undefined;
}

export function stackRoutes(r: Router, engine: Engine, stacks: StackService): void {
  r.add('POST', '/stacks/{project}/run', async (ctx) => {
    const body = ctx.body as OneOffRequest | undefined;
    if (body === undefined || body.model?.name !== ctx.params['project']) throw new GantryError('INVALID_ARGUMENT', 'the body must carry the stack model of this project');
    return { Id: await stacks.createOneOff(body) };
  }, { status: 201 });

  r.add('POST', '/stacks/{project}/up', (ctx) => {
    const body = ctx.body as UpRequest | undefined;
    if (body === undefined || body.model?.name !== ctx.params['project']) throw new GantryError('INVALID_ARGUMENT', 'the body must carry the stack model of this project');
    return streamed(ctx, (emit, signal) => stacks.up(body, emit, signal));
  });

  r.add('POST', '/stacks/{project}/down', (ctx) => {
    const body = (ctx.body ?? { options: {} }) as DownRequest;
    return streamed(ctx, (emit, signal) => stacks.down(ctx.params['project']!, body, emit, signal));
  });

  /** Holds (held=1) or resumes the daemon's repair of a stack (stack stop/kill/rm hold it; up resumes). */
  r.add('POST', '/stacks/{project}/hold', (ctx) => { stacks.setHeld(ctx.params['project']!, boolParam(ctx.query, 'held', true)); return undefined; }, { status: 204 });

  r.add('GET', '/stacks/{project}', (ctx) => {
    const rec = stacks.get(ctx.params['project']!);
    if (rec === undefined) throw new GantryError('STACK_NOT_FOUND', `no stack named ${ctx.params['project']} is stored in the daemon`, { hint: 'gantry ls lists stacks' });
    return { ...rec, files: stacks.stackFiles(rec.model) };
  });

  r.add('GET', '/stacks', () => {
    const projects = new Map<string, { files: readonly string[]; held: boolean; stored: boolean }>();
    for (const rec of stacks.list()) projects.set(rec.project, { files: rec.model.files, held: rec.held, stored: true });
    for (const c of engine.containers()) {
      const p = c.config.labels[LABEL.PROJECT];
      if (p !== undefined && !projects.has(p)) projects.set(p, { files: [], held: false, stored: false });
    }
    return [...projects].sort(([a], [b]) => a.localeCompare(b)).map(([name, p]) => {
      const counts = new Map<string, number>();
      for (const c of projectContainers(engine, name)) counts.set(c.state.status, (counts.get(c.state.status) ?? 0) + 1);
      const status = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}(${n})`).join(', ');
      return { Name: name, Status: status, ConfigFiles: p.files.join(','), Held: p.held, Stored: p.stored };
    });
  });
}
