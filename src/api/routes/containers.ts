// /containers/... routes (Docker Engine API paths and shapes).
import { readFileSync, readdirSync } from 'node:fs';
import type { ContainerCreateOptions } from 'dockerode';
import { GantryError } from '../../common/errors.js';
import { attachToShim, dockerFrame } from '../../engine/runtime/attach.js';
import { connectShim, resizeFrame } from '../../engine/runtime/shim-socket.js';
import { assertLogsReadable } from '../../engine/logs/config.js';
import { readLogs } from '../../engine/logs/reader.js';
import { inspectContainer, listEntry } from '../../engine/containers/inspect.js';
import { isActive } from '../../engine/containers/record.js';
import type { Engine } from '../../daemon/engine.js';
import { boolParam, filtersParam, intParam, type Router } from '../router.js';

export function containerRoutes(r: Router, engine: Engine): void {
  const { containers, store, execs } = engine;
  const paths = (id: string) => ({ dir: containers.dir(id), logPath: containers.logPath(id), volumeDir: (n: string) => engine.volumes.dataDir(n) });

  r.add('POST', '/containers/create', async (ctx) => {
    const rec = await containers.create({ name: ctx.query.get('name') ?? undefined, body: (ctx.body ?? {}) as ContainerCreateOptions });
    return { Id: rec.id, Warnings: [] };
  }, { status: 201 });

  r.add('GET', '/containers/json', (ctx) => {
    const all = boolParam(ctx.query, 'all');
    const filters = filtersParam(ctx.query);
    return store.all().filter((rec) => {
      if (!all && !isActive(rec.state.status)) return false;
      for (const l of filters['label'] ?? []) {
        const i = l.indexOf('=');
        if (i < 0 ? !(l in rec.config.labels) : rec.config.labels[l.slice(0, i)] !== l.slice(i + 1)) return false;
      }
      if (filters['name'] && !filters['name'].some((n) => rec.name.includes(n.replace(/^\//, '')))) return false;
      if (filters['id'] && !filters['id'].some((n) => rec.id.startsWith(n))) return false;
      if (filters['status'] && !filters['status'].includes(rec.state.status)) return false;
      return true;
    }).map((rec) => engine.decorateList(listEntry(rec, paths(rec.id)), rec));
  });

  r.add('GET', '/containers/{id}/json', (ctx) => {
    const rec = store.get(ctx.params['id']!);
    return engine.decorateInspect(inspectContainer(rec, paths(rec.id)), rec);
  });

  r.add('POST', '/containers/{id}/start', async (ctx) => { await containers.start(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/stop', async (ctx) => {
    await containers.stop(ctx.params['id']!, intParam(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
    return undefined;
  }, { status: 204 });
  r.add('POST', '/containers/{id}/restart', async (ctx) => { await containers.restart(ctx.params['id']!, intParam(ctx.query, 't')); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/kill', async (ctx) => { await containers.kill(ctx.params['id']!, ctx.query.get('signal') ?? 'SIGKILL'); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/pause', async (ctx) => { await containers.pause(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/unpause', async (ctx) => { await containers.unpause(ctx.params['id']!); return undefined; }, { status: 204 });
  r.add('POST', '/containers/{id}/wait', async (ctx) => {
    const cond = (ctx.query.get('condition') ?? 'not-running') as 'not-running' | 'next-exit' | 'removed';
    const rec = store.get(ctx.params['id']!);
    // Headers go out at once (docker does the same) so clients know the wait is registered.
    ctx.res?.writeHead(200, { 'Content-Type': 'application/json' });
    ctx.res?.flushHeaders();
    const code = await containers.wait(rec.id, cond);
    const after = store.find(rec.id);
    ctx.res?.end(JSON.stringify({ StatusCode: code, ...(after?.state.error ? { Error: { Message: after.state.error } } : {}) }));
    return undefined;
  });
  r.add('DELETE', '/containers/{id}', async (ctx) => {
    await containers.remove(ctx.params['id']!, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v') });
    return undefined;
  }, { status: 204 });

  r.add('GET', '/containers/{id}/logs', async (ctx) => {
    const rec = store.get(ctx.params['id']!);
    assertLogsReadable(rec);
    const res = ctx.res!;
    const tailRaw = ctx.query.get('tail');
    const tail = tailRaw === null || tailRaw === 'all' ? undefined : Number(tailRaw);
    const since = intParam(ctx.query, 'since');
    const timestamps = boolParam(ctx.query, 'timestamps');
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.writeHead(200, { 'Content-Type': rec.config.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    const entries = readLogs(containers.logPath(rec.id), {
      stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr'), tail: Number.isFinite(tail) ? tail : undefined,
      sinceMs: since ? since * 1000 : undefined, follow: boolParam(ctx.query, 'follow'),
    }, () => { const cur = store.find(rec.id); return cur !== undefined && isActive(cur.state.status); }, abort.signal);
    for await (const e of entries) {
      const text = Buffer.from(timestamps ? `${e.time} ${e.text}` : e.text);
      if (!res.write(rec.config.tty ? text : dockerFrame(e.stream === 'stdout' ? 1 : 2, text))) await new Promise((r2) => res.once('drain', r2));
    }
    res.end();
    return undefined;
  });

  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const rec = store.get(ctx.params['id']!);
    if (!ctx.hijack) throw new GantryError('INVALID_ARGUMENT', 'attach needs a hijacked connection', { hint: 'send Connection: Upgrade and Upgrade: tcp' });
    const opts = { stdin: boolParam(ctx.query, 'stdin'), stdout: boolParam(ctx.query, 'stdout'), stderr: boolParam(ctx.query, 'stderr'), tty: rec.config.tty };
    const client = ctx.hijack();
    if (rec.state.status === 'running' || rec.state.status === 'paused') {
      await attachToShim(containers.socketPath(rec.id), client, opts);
    } else {
      // Attached before start (docker run): connected between the shim's `ready` and `go`, so nothing is missed.
      const cancel = containers.onNextStart(rec.id, async (_r, socketPath) => { await attachToShim(socketPath, client, opts); });
      client.on('close', cancel);
    }
    return undefined;
  });

  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    const rec = store.get(ctx.params['id']!);
    if (rec.state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`);
    const s = await connectShim(containers.socketPath(rec.id));
    await new Promise<void>((resolve) => s.end(resizeFrame(intParam(ctx.query, 'h') ?? 24, intParam(ctx.query, 'w') ?? 80), () => resolve()));
    return undefined;
  });

  r.add('GET', '/containers/{id}/top', (ctx) => {
    const rec = store.get(ctx.params['id']!);
    if (rec.state.status !== 'running' && rec.state.status !== 'paused') throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} is not running`);
    const pids = engine.cgroups.pids(containers.cgroupPath(rec.id)).sort((a, b) => a - b);
    const ticks = 100;
    const processes = pids.flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1] ?? '?';
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]`;
        const cpuSecs = Math.floor((Number(after[11]) + Number(after[12])) / ticks);
        const time = `${String(Math.floor(cpuSecs / 3600)).padStart(2, '0')}:${String(Math.floor(cpuSecs / 60) % 60).padStart(2, '0')}:${String(cpuSecs % 60).padStart(2, '0')}`;
        return [[uid, String(pid), after[1] ?? '?', time, cmd]];
      } catch {
        return [];
      }
    });
    return { Titles: ['UID', 'PID', 'PPID', 'TIME', 'CMD'], Processes: processes };
  });

  r.add('GET', '/containers/{id}/stats', (ctx) => {
    const rec = store.get(ctx.params['id']!);
    const running = rec.state.status === 'running' || rec.state.status === 'paused';
    const s = running ? engine.cgroups.stats(containers.cgroupPath(rec.id)) : { memoryUsageBytes: 0, memoryLimitBytes: 0, cpuUsageNanos: 0, pids: 0 };
    const systemNanos = readSystemCpuNanos();
    return {
      id: rec.id, name: `/${rec.name}`, read: new Date().toISOString(),
      cpu_stats: { cpu_usage: { total_usage: s.cpuUsageNanos }, system_cpu_usage: systemNanos, online_cpus: onlineCpus() },
      precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: onlineCpus() },
      memory_stats: { usage: s.memoryUsageBytes, limit: s.memoryLimitBytes }, pids_stats: { current: s.pids },
    };
  });

  r.add('POST', '/containers/{id}/exec', (ctx) => {
    const id = execs.create(ctx.params['id']!, (ctx.body ?? {}) as Parameters<typeof execs.create>[1]);
    return { Id: id };
  }, { status: 201 });
  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const body = (ctx.body ?? {}) as { Detach?: boolean };
    if (body.Detach || !ctx.hijack) {
      await execs.start(ctx.params['id']!, undefined);
      return undefined;
    }
    const exec = execs.get(ctx.params['id']!);
    // Validate before taking over the connection, so errors are plain HTTP errors.
    if (store.get(exec.containerId).state.status !== 'running') throw new GantryError('CONTAINER_NOT_RUNNING', 'the container is not running');
    await execs.start(ctx.params['id']!, ctx.hijack());
    return undefined;
  });
  r.add('POST', '/exec/{id}/resize', async (ctx) => { await execs.resize(ctx.params['id']!, intParam(ctx.query, 'h') ?? 24, intParam(ctx.query, 'w') ?? 80); return undefined; });
  r.add('GET', '/exec/{id}/json', (ctx) => execs.inspect(ctx.params['id']!));
}

function readSystemCpuNanos(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const ticks = line.split(/\s+/).slice(1).map(Number).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return ticks * 1e7; // USER_HZ = 100
}

function onlineCpus(): number {
  try { return readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d)).length; } catch { return 1; }
}
