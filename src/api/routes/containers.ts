// /containers/... and /exec/... routes: Docker Engine API paths and shapes translated to Engine calls.
import type { ContainerCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import type { ExecConfig } from '../../engine/containers/exec.js';
import { isActive } from '../../engine/containers/record.js';
import type { Engine } from '../../engine/engine.js';
import { dockerFrame } from '../../engine/runtime/attach.js';
import { heldEntry, inspectWithNetwork, listEntryWithNetwork } from '../docker/container-inspect.js';
import { specFromDockerCreate } from '../docker/create-body.js';
import { boolParam, filtersParam, intParam, ttySizeParam, type Router } from '../router.js';

export function containerRoutes(r: Router, engine: Engine): void {
  r.add('POST', '/containers/create', async (ctx) => {
    const rec = await engine.createContainer(specFromDockerCreate({ name: ctx.query.get('name') ?? undefined, body: (ctx.body ?? {}) as ContainerCreateOptions }));
    return { Id: rec.id, Warnings: [] };
  }, { status: 201 });

  r.add('GET', '/containers/json', (ctx) => {
    const all = boolParam(ctx.query, 'all');
    const filters = filtersParam(ctx.query);
    const listed = engine.containers().filter((rec) => {
      if (!all && !isActive(rec.state.status)) return false;
      for (const l of filters['label'] ?? []) {
        const i = l.indexOf('=');
        if (i < 0 ? !(l in rec.config.labels) : rec.config.labels[l.slice(0, i)] !== l.slice(i + 1)) return false;
      }
      if (filters['name'] && !filters['name'].some((n) => rec.name.includes(n.replace(/^\//, '')))) return false;
      if (filters['id'] && !filters['id'].some((n) => rec.id.startsWith(n))) return false;
      if (filters['status'] && !filters['status'].includes(rec.state.status)) return false;
      return true;
    }).map((rec) => listEntryWithNetwork(engine, rec));
    // Held containers (their record was refused) are listed as dead, with the reason, when they could match.
    const held = all && Object.keys(filters).every((k) => k === 'status' || k === 'id')
      ? engine.heldContainers().filter((h) => (filters['status']?.includes('dead') ?? true) && (filters['id']?.some((n) => h.id.startsWith(n)) ?? true))
      : [];
    return [...listed, ...held.map((h) => heldEntry(h.id, h.reason))];
  });

  r.add('GET', '/containers/{id}/json', (ctx) => inspectWithNetwork(engine, engine.getContainer(ctx.params['id']!)));

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

  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const rec = engine.getContainer(ctx.params['id']!);
    if (!ctx.hijack) throw new GantryError('INVALID_ARGUMENT', 'attach needs a hijacked connection', { hint: 'send Connection: Upgrade and Upgrade: tcp' });
    await engine.attach(rec.id, ctx.hijack(), { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr') });
    return undefined;
  });

  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    await engine.resize(ctx.params['id']!, ttySizeParam(ctx.query, 'h', 24), ttySizeParam(ctx.query, 'w', 80));
    return undefined;
  });

  r.add('GET', '/containers/{id}/top', (ctx) => ({
    Titles: ['UID', 'PID', 'PPID', 'TIME', 'CMD'],
    Processes: engine.processes(ctx.params['id']!).map((p) => [p.uid, String(p.pid), p.ppid, p.time, p.cmd]),
  }));

  r.add('GET', '/containers/{id}/stats', (ctx) => {
    const rec = engine.getContainer(ctx.params['id']!);
    const s = engine.usage(rec.id);
    return {
      id: rec.id, name: `/${rec.name}`, read: new Date().toISOString(),
      cpu_stats: { cpu_usage: { total_usage: s.cpuUsageNanos }, system_cpu_usage: s.systemCpuNanos, online_cpus: s.onlineCpus },
      precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: s.onlineCpus },
      memory_stats: { usage: s.memoryUsageBytes, limit: s.memoryLimitBytes }, pids_stats: { current: s.pids },
    };
  });

  r.add('POST', '/containers/{id}/exec', (ctx) => ({ Id: engine.createExec(ctx.params['id']!, (ctx.body ?? {}) as ExecConfig) }), { status: 201 });
  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = (ctx.body ?? {}) as { Detach?: boolean };
    if (body.Detach || !ctx.hijack) {
      await engine.startExec(ctx.params['id']!, undefined);
      return undefined;
    }
    const exec = engine.inspectExec(ctx.params['id']!);
    // Validate before taking over the connection, so errors are plain HTTP errors.
    if (engine.getContainer(exec.ContainerID).state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', 'the container is not running');
    await engine.startExec(ctx.params['id']!, ctx.hijack());
    return undefined;
  });
  r.add('POST', '/exec/{id}/resize', async (ctx) => { await engine.resizeExec(ctx.params['id']!, ttySizeParam(ctx.query, 'h', 24), ttySizeParam(ctx.query, 'w', 80)); return undefined; });
  r.add('GET', '/exec/{id}/json', (ctx) => engine.inspectExec(ctx.params['id']!));
}
