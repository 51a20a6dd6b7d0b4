// /containers/... and /exec/... routes: Docker Engine API paths and shapes translated to Engine calls.
import type { ContainerCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import type { ExecConfig } from '../../engine/containers/exec.js';
import { isActive, logConfigOf } from '../../engine/containers/record.js';
import type { Engine } from '../../engine/engine.js';
import { dockerFrame } from '../../engine/runtime/attach.js';
import { PS_VIEW, PS_VIEW_PARAM, psEntryOf } from '../../common/ps-view.js';
import { heldEntry, inspectWithNetwork, listEntryWithNetwork, psEntryWithPorts } from '../docker/container-inspect.js';
import { resourceUpdateFromDocker, specFromDockerCreate } from '../docker/create-body.js';
import { containerFilter } from '../docker/list-filters.js';
import { responseStream } from '../docker/response-stream.js';
import { dockerStats, type StatsSample } from '../docker/stats.js';
import { boolParam, filtersParam, intParam, ttySizeParam, type Router } from '../router.js';

/** Held containers (their record was refused) are listed as dead, with the reason, when they could match. */
function heldListed(engine: Engine, filters: Record<string, string[]>): Array<{ id: string; reason: string }> {
  if (!Object.keys(filters).every((k) => k === 'status' || k === 'id')) return [];
  return engine.heldContainers().filter((h) => (filters['status']?.includes('dead') ?? true) && (filters['id']?.some((n) => h.id.startsWith(n)) ?? true));
}

export function containerRoutes(r: Router, engine: Engine): void {
  r.add('POST', '/containers/create', async (ctx) => {
    const rec = await engine.createContainer(specFromDockerCreate({ name: ctx.query.get('name') ?? undefined, body: (ctx.body ?? {}) as ContainerCreateOptions }));
    return { Id: rec.id, Warnings: [] };
  }, { status: 201 });

  r.add('GET', '/containers/json', async (ctx) => {
    const limit = intParam(ctx.query, 'limit');
    const all = boolParam(ctx.query, 'all') || (limit !== undefined && limit > 0);
    const filters = filtersParam(ctx.query);
    const matches = containerFilter(filters, (ref) => engine.findContainer(ref));
    // Newest first, as Docker lists them; `limit` keeps the N most recently created.
    // (each creation time parsed once, not twice per comparison: 10,000 containers made 280,000 Date.parse calls)
    const listed = engine.containers().filter((rec) => (all || isActive(rec.state.status)) && matches(rec))
      .map((rec) => ({ rec, t: Date.parse(rec.created) })).sort((a, b) => b.t - a.t).map(({ rec }) => rec)
      .slice(0, limit !== undefined && limit > 0 ? limit : undefined);
    const held = (all && limit === undefined ? heldListed(engine, filters) : []).map((h) => heldEntry(h.id, h.reason));
    // `gantry ps` (common/ps-view.ts): only what its table shows, no network settings built
    if (ctx.query.get(PS_VIEW_PARAM) === PS_VIEW && !boolParam(ctx.query, 'size')) {
      return [...listed.map((rec) => psEntryWithPorts(engine, rec)), ...held.map(psEntryOf)];
    }
    const entries = listed.map((rec) => listEntryWithNetwork(engine, rec));
    // `size=1` (ps -s): measured per container, as Docker does (du of each upper dir).
    const sized = boolParam(ctx.query, 'size') ? await Promise.all(entries.map(async (e) => ({ ...e, ...await engine.containerSize(e.Id) }))) : entries;
    return [...sized, ...held];
  });

  r.add('GET', '/containers/{id}/json', async (ctx) => {
    const info = inspectWithNetwork(engine, engine.getContainer(ctx.params['id']!));
    return boolParam(ctx.query, 'size') ? { ...info, ...await engine.containerSize(info.Id) } : info;
  });

  r.add('POST', '/containers/{id}/start', async (ctx) => { await engine.startContainer(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/stop', async (ctx) => {
    await engine.stopContainer(ctx.params['id']!, { timeoutSeconds: intParam(ctx.query, 't'), signal: ctx.query.get('signal') ?? undefined });
    return undefined;
  }, { status: 204 });
  r.add('POST', '/containers/{id}/restart', async (ctx) => { await engine.restartContainer(ctx.params['id']!, intParam(ctx.query, 't')); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/kill', async (ctx) => { await engine.killContainer(ctx.params['id']!, ctx.query.get('signal') ?? 'SIGKILL'); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/pause', async (ctx) => { await engine.pauseContainer(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/unpause', async (ctx) => { await engine.unpauseContainer(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/wait', async (ctx) => {
    const cond = (ctx.query.get('condition') ?? 'not-running') as 'not-running' | 'next-exit' | 'removed';
    const rec = engine.getContainer(ctx.params['id']!);
    // Headers go out at once (docker does the same) so clients know the wait is registered.
    ctx.res?.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res?.flushHeaders();
    const code = await engine.waitContainer(rec.id, cond);
    const after = engine.findContainer(rec.id);
    ctx.res?.end(JSON.stringify({ StatusCode: code, ...(after?.state.error ? { Error: { Message: after.state.error } } : {}) }));
    return undefined;
  });
  r.add('DELETE', '/containers/{id}', async (ctx) => {
    await engine.removeContainer(ctx.params['id']!, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v') });
    return undefined;
  }, { status: 204 });

  r.add('GET', '/containers/{id}/logs', async (ctx) => {
    const rec = engine.getContainer(ctx.params['id']!);
    const res = ctx.res!;
    const tailRaw = ctx.query.get('tail');
    const tail = tailRaw === null || tailRaw === 'all' ? undefined : Number(tailRaw);
    const since = intParam(ctx.query, 'since');
    const timestamps = boolParam(ctx.query, 'timestamps');
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const entries = engine.logs(rec.id, {
      stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr'), tail: Number.isFinite(tail) ? tail : undefined,
      sinceMs: since ? since * 1000 : undefined, follow: boolParam(ctx.query, 'follow'),
    }, abort.signal);
    res.writeHead(200, { 'Content-Type': rec.config.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    for await (const e of entries) {
      const text = Buffer.from(timestamps ? `${e.time} ${e.text}` : e.text);
      if (!res.write(rec.config.tty ? text : dockerFrame(e.stream === 'stdout' ? 1 : 2, text))) await new Promise((r2) => res.once('drain', r2));
    }
    res.end();
    return undefined;
  });

  // Upgraded (docker CLI, docker-py): a raw stream both ways. Plain (dockerode's run): the output on the response.
  // `logs=1` replays what the container wrote so far first (dockerpty, docker-py's attach(logs=True)); without
  // `stream=1` the answer ends there.
  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const rec = engine.getContainer(ctx.params['id']!);
    const opts = { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr') };
    const client = ctx.hijack ? await ctx.hijack({ tty: rec.config.tty }) : responseStream(ctx.res!, rec.config.tty);
    if (boolParam(ctx.query, 'logs') && logConfigOf(rec.host).type !== 'none') {
      const abort = new AbortController();
      client.once('close', () => abort.abort());
      for await (const e of engine.logs(rec.id, { stdout: opts.stdout, stderr: opts.stderr, follow: false }, abort.signal)) {
        const text = Buffer.from(e.text);
        client.write(rec.config.tty ? text : dockerFrame(e.stream === 'stdout' ? 1 : 2, text));
      }
    }
    if (!boolParam(ctx.query, 'stream')) { client.end(); return undefined; }
    await engine.attach(rec.id, client, ctx.hijack ? opts : { ...opts, stdin: false });
    return undefined;
  });

  r.add('POST', '/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw new GantryError('INVALID_ARGUMENT', 'rename needs a new name', { hint: 'gantry rename CONTAINER NEW_NAME' });
    await engine.renameContainer(ctx.params['id']!, name);
    return undefined;
  }, { status: 204 });

  r.add('POST', '/containers/{id}/update', async (ctx) => {
    await engine.updateContainer(ctx.params['id']!, resourceUpdateFromDocker(ctx.body ?? {}));
    return { Warnings: [] };
  });

  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    await engine.resize(ctx.params['id']!, ttySizeParam(ctx.query, 'h', 24), ttySizeParam(ctx.query, 'w', 80));
    return undefined;
  });

  r.add('GET', '/containers/{id}/top', (ctx) => ({
    Titles: ['UID', 'PID', 'PPID', 'TIME', 'CMD'],
    Processes: engine.processes(ctx.params['id']!).map((p) => [p.uid, String(p.pid), p.ppid, p.time, p.cmd]),
  }));

  // One object per second until the client leaves or the container stops; `stream=false` answers one sample
  // whose precpu_stats is a sample taken a second before (as Docker), `one-shot=true` one sample at once.
  r.add('GET', '/containers/{id}/stats', async (ctx) => {
    const rec = engine.getContainer(ctx.params['id']!);
    const res = ctx.res!;
    const sample = (): StatsSample => ({ usage: engine.usage(rec.id), read: new Date().toISOString() });
    const running = (): boolean => { const cur = engine.findContainer(rec.id); return cur !== undefined && isActive(cur.state.status); };
    let gone = false;
    res.on('close', () => { gone = true; });
    const second = (): Promise<void> => new Promise((r2) => { const t = setTimeout(r2, 1000); res.once('close', () => { clearTimeout(t); r2(); }); });
    if (!boolParam(ctx.query, 'stream', true)) {
      let before: StatsSample | undefined;
      if (!boolParam(ctx.query, 'one-shot') && running()) { before = sample(); await second(); }
      return dockerStats(rec, sample(), before);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let before: StatsSample | undefined;
    for (;;) {
      const now = sample();
      res.write(`${JSON.stringify(dockerStats(rec, now, before))}\n`);
      before = now;
      if (!running()) break;
      await second();
      if (gone) break;
    }
    res.end();
    return undefined;
  });

  r.add('POST', '/containers/{id}/exec', (ctx) => ({ Id: engine.createExec(ctx.params['id']!, (ctx.body ?? {}) as ExecConfig) }), { status: 201 });
  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = (ctx.body ?? {}) as { Detach?: boolean; Tty?: boolean };
    if (body.Detach) {
      await engine.startExec(ctx.params['id']!, undefined);
      return undefined;
    }
    const exec = engine.inspectExec(ctx.params['id']!);
    // Validate before taking over the connection, so errors are plain HTTP errors.
    if (engine.getContainer(exec.ContainerID).state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', 'the container is not running');
    // Plain (not upgraded): the output streams on the response, which ends when the exec does.
    await engine.startExec(ctx.params['id']!, ctx.hijack ? await ctx.hijack({ tty: exec.ProcessConfig.tty }) : responseStream(ctx.res!, exec.ProcessConfig.tty));
    return undefined;
  });
  r.add('POST', '/exec/{id}/resize', async (ctx) => { await engine.resizeExec(ctx.params['id']!, ttySizeParam(ctx.query, 'h', 24), ttySizeParam(ctx.query, 'w', 80)); return undefined; });
  r.add('GET', '/exec/{id}/json', (ctx) => engine.inspectExec(ctx.params['id']!));
}
