// What Docker's clients rely on, without root: version negotiation headers, the legacy event fields, filters
// (applied, or refused when unknown), since/until, update and rename, stats samples, the counters' parsers, and
// a shutdown that never waits on a client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:http';
import { dockerEvent, eventFilter, eventTimeNano } from '../../../src/api/docker/events.js';
import { resourceUpdateFromDocker } from '../../../src/api/docker/create-body.js';
import { referencePatternMatches } from '../../../src/api/docker/list-filters.js';
import { dockerStats } from '../../../src/api/docker/stats.js';
import { containerRoutes } from '../../../src/api/routes/containers.js';
import { imageRoutes } from '../../../src/api/routes/images.js';
import { systemRoutes } from '../../../src/api/routes/system.js';
import { volumeRoutes } from '../../../src/api/routes/volumes.js';
import { Router } from '../../../src/api/router.js';
import { ApiServer } from '../../../src/api/server.js';
import { GantryError } from '../../../src/common/errors.js';
import { parseBlkioServiceBytes, parseIoStat } from '../../../src/engine/cgroups/block-io.js';
import { parseNetDev } from '../../../src/engine/containers/net-dev.js';
import type { EngineCore } from '../../../src/engine/core.js';
import type { EngineEvent } from '../../../src/engine/events/bus.js';
import { addFakeImage, disposeWorld, fakeWorld, openFakeEngine, type FakeEngineWorld } from '../../fakes/fake-engine.js';

const event = (over: Partial<EngineEvent> & { attrs?: Record<string, string> } = {}): EngineEvent => ({
  Type: 'container', Action: 'start', Actor: { ID: 'c'.repeat(64), Attributes: { name: 'web', image: 'busybox', app: 'shop', ...over.attrs } },
  scope: 'local', time: 1, timeNano: 1e9, ...over,
});

describe('events in Docker\'s shape', () => {
  test('container events carry status/id/from beside Type/Action/Actor; images status/id; others neither', () => {
    const e = dockerEvent(event({ Action: 'die' }));
    assert.deepEqual([e.status, e.id, e.from, e.Action, e.Type], ['die', 'c'.repeat(64), 'busybox', 'die', 'container']);
    const i = dockerEvent(event({ Type: 'image', Action: 'tag', Actor: { ID: 'sha256:ab', Attributes: { name: 'x:1' } } }));
    assert.deepEqual([i.status, i.id, i.from], ['tag', 'sha256:ab', undefined]);
    assert.equal(dockerEvent(event({ Type: 'network', Action: 'create' })).status, undefined);
  });

  test('filters: keys must all hold, values of one key are alternatives; prefixes of actions with details match', () => {
    const f = eventFilter({ type: ['container'], event: ['die', 'health_status', 'exec_start'], container: ['web', 'other'], label: ['app=shop'] });
    assert.equal(f(event({ Action: 'die' })), true);
    assert.equal(f(event({ Action: 'health_status: healthy' })), true);
    assert.equal(f(event({ Action: 'exec_start: sh -c true' })), true);
    assert.equal(f(event({ Action: 'start' })), false);
    assert.equal(f(event({ Action: 'die', attrs: { name: 'db' } })), false);
    assert.equal(f(event({ Action: 'die', attrs: { app: 'blog' } })), false);
    assert.equal(eventFilter({ container: ['cccc'] })(event()), true, 'an id prefix names the container');
    assert.equal(eventFilter({ image: ['busybox'] })(event()), true);
    assert.equal(eventFilter({ network: ['front'] })(event({ Type: 'network', Actor: { ID: 'n1', Attributes: { name: 'front' } } })), true);
    assert.equal(eventFilter({ volume: ['data'] })(event({ Type: 'volume', Actor: { ID: 'data', Attributes: {} } })), true);
    assert.equal(eventFilter({ daemon: ['x'] })(event()), false);
  });

  test('an unknown filter key is a 400 naming it', () => {
    assert.throws(() => eventFilter({ colour: ['red'] }), (e) => e instanceof GantryError && e.httpStatus === 400 && /invalid filter 'colour'/.test(e.message));
  });

  test('since/until: Unix seconds with a fraction, a duration back from now, a date', () => {
    assert.equal(eventTimeNano('1700000000', 'since'), 1700000000e9);
    assert.equal(eventTimeNano('1700000000.5', 'since'), 1700000000e9 + 5e8);
    assert.equal(eventTimeNano('10m', 'since', 1_000_000_000), 1_000_000_000 * 1e6 - 600e9);
    assert.equal(eventTimeNano('2024-01-02T15:04:05Z', 'until'), Date.parse('2024-01-02T15:04:05Z') * 1e6);
    assert.throws(() => eventTimeNano('yesterday-ish', 'until'), /invalid until "yesterday-ish"/);
  });
});

describe('list filters and update bodies', () => {
  test('reference patterns match like Docker\'s path.Match: repo alone, repo:tag, * within one part', () => {
    assert.equal(referencePatternMatches('busybox', 'busybox:latest'), true);
    assert.equal(referencePatternMatches('busy*', 'busybox:latest'), true);
    assert.equal(referencePatternMatches('busybox:1.36', 'busybox:latest'), false);
    assert.equal(referencePatternMatches('*', 'library/busybox:latest'), false, '* does not cross a /');
    assert.equal(referencePatternMatches('*/busybox', 'library/busybox:latest'), true);
  });

  test('update: zero means unchanged, CpuQuota becomes NanoCpus, a field gantry cannot apply is refused', () => {
    assert.deepEqual(resourceUpdateFromDocker({ Memory: 0, CpuShares: 0, NanoCpus: 5e8, RestartPolicy: { Name: 'always' }, BlkioWeight: 0 }),
      { nanoCpus: 5e8, restartPolicy: { name: 'always', maximumRetryCount: 0 } });
    assert.deepEqual(resourceUpdateFromDocker({ CpuQuota: 50_000, CpuPeriod: 100_000 }), { nanoCpus: 5e8 });
    assert.throws(() => resourceUpdateFromDocker({ CpusetCpus: '0-1' }), /updating CpusetCpus is not supported/);
  });
});

describe('usage counters', () => {
  test('/proc/PID/net/dev: every interface but lo', () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1234      10    1    2    0     0          0         0     5678      20    3    4    0     0       0          0
`;
    assert.deepEqual(parseNetDev(text), { eth0: { rx_bytes: 1234, rx_packets: 10, rx_errors: 1, rx_dropped: 2, tx_bytes: 5678, tx_packets: 20, tx_errors: 3, tx_dropped: 4 } });
  });

  test('block I/O from v1 blkio and v2 io.stat', () => {
    assert.deepEqual(parseBlkioServiceBytes('8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n'),
      [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 512 }]);
    assert.deepEqual(parseIoStat('253:1 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n'),
      [{ major: 253, minor: 1, op: 'read', value: 100 }, { major: 253, minor: 1, op: 'write', value: 200 }]);
  });

  test('a stats object carries the sample before it as precpu_stats, networks and block I/O', () => {
    const usage = { memoryUsageBytes: 1, memoryLimitBytes: 2, cpuUsageNanos: 30, pids: 1, systemCpuNanos: 300, onlineCpus: 2,
      networks: { eth0: parseNetDev('a\nb\n eth0: 1 2 3 4 0 0 0 0 5 6 7 8 0 0 0 0\n')['eth0']! }, blockIo: [{ major: 8, minor: 0, op: 'read', value: 9 }] };
    const s = dockerStats({ id: 'x', name: 'web' }, { usage, read: 'now' }, { usage: { ...usage, cpuUsageNanos: 10, systemCpuNanos: 100 }, read: 'then' });
    assert.deepEqual((s['precpu_stats'] as { cpu_usage: { total_usage: number } }).cpu_usage.total_usage, 10);
    assert.equal(s['preread'], 'then');
    assert.deepEqual((s['networks'] as Record<string, { rx_bytes: number }>)['eth0']?.rx_bytes, 1);
    assert.deepEqual((s['blkio_stats'] as { io_service_bytes_recursive: unknown[] }).io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'read', value: 9 }]);
  });
});

/** One HTTP request on the unix socket: status, headers, body. */
function call(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('the Docker API over the fake engine', () => {
  let w: FakeEngineWorld;
  let engine: EngineCore;
  let server: ApiServer;
  let socket: string;
  before(async () => {
    w = fakeWorld();
    engine = await openFakeEngine(w);
    await addFakeImage(engine);
    const r = new Router();
    const host = { prefix: 'gantry-unit', root: w.dir, cgroupVersion: 1 as const, warnings: () => [] };
    systemRoutes(r, engine, host);
    containerRoutes(r, engine);
    imageRoutes(r, engine, host);
    volumeRoutes(r, engine);
    server = new ApiServer(r, () => undefined);
    socket = join(w.dir, 'api.sock');
    await server.listen(socket);
  });
  after(async () => {
    await server.close();
    engine.close();
    disposeWorld(w);
  });

  const create = async (name: string, cmd: string[], host: Record<string, unknown> = {}): Promise<string> => {
    const r = await call(socket, 'POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: cmd, HostConfig: { NetworkMode: 'none', ...host } });
    assert.equal(r.status, 201, r.body);
    return (JSON.parse(r.body) as { Id: string }).Id;
  };

  test('/_ping (GET and HEAD, any /v1.NN/ prefix) tells the client which API version to use, uncached', async () => {
    for (const [method, path] of [['GET', '/_ping'], ['HEAD', '/_ping'], ['HEAD', '/v1.24/_ping'], ['GET', '/v1.50/_ping']] as const) {
      const r = await call(socket, method, path);
      assert.equal(r.status, 200, `${method} ${path}`);
      assert.equal(r.headers['api-version'], '1.43');
      assert.equal(r.headers['docker-experimental'], 'false');
      assert.equal(r.headers['ostype'], 'linux');
      assert.equal(r.headers['builder-version'], '1');
      assert.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
      assert.equal(r.headers['pragma'], 'no-cache');
      assert.equal(r.body, method === 'GET' ? 'OK' : '');
    }
    const v = JSON.parse((await call(socket, 'GET', '/v1.43/version')).body) as Record<string, unknown>;
    assert.deepEqual([v['ApiVersion'], v['MinAPIVersion'], v['Os']], ['1.43', '1.24', 'linux']);
  });

  test('containers/json: limit keeps the newest, filters ancestor/exited/before/since apply, an unknown one is a 400', async () => {
    const a = await create('fa', ['true']);
    await w.clock.advance(1000); // created a second apart, as the list orders them
    const b = await create('fb', ['sh', '-c', 'exit 3']);
    await engine.startContainer(a);
    await engine.startContainer(b);
    await engine.waitContainer(a);
    await engine.waitContainer(b);
    const names = async (q: string): Promise<string[]> => {
      const r = await call(socket, 'GET', `/containers/json?${q}`);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as Array<{ Names: string[] }>).map((c) => c.Names[0]!).filter((n) => /^\/f[ab]$/.test(n));
    };
    const f = (o: Record<string, string[]>): string => `all=1&filters=${encodeURIComponent(JSON.stringify(o))}`;
    assert.deepEqual(await names('limit=1'), ['/fb']);
    assert.deepEqual(await names(f({ exited: ['3'] })), ['/fb']);
    assert.deepEqual(await names(f({ ancestor: ['busybox'] })), ['/fb', '/fa']);
    assert.deepEqual(await names(f({ ancestor: ['alpine'] })), []);
    assert.deepEqual(await names(f({ before: ['fb'] })), ['/fa']);
    assert.deepEqual(await names(f({ since: ['fa'] })), ['/fb']);
    const bad = await call(socket, 'GET', `/containers/json?${f({ flavour: ['x'] })}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /invalid filter 'flavour'/);
    assert.equal((await call(socket, 'GET', `/containers/json?${f({ status: ['sleeping'] })}`)).status, 400);
  });

  test('containers/json?gantry-view=ps (gantry ps): the same containers, each with only the fields its table shows; Docker\'s full entries without it', async () => {
    await create('fv', ['sleep', '60'], { PortBindings: { '80/tcp': [{ HostPort: '18080' }] } });
    const full = JSON.parse((await call(socket, 'GET', '/containers/json?all=1')).body) as Array<Record<string, unknown>>;
    const short = JSON.parse((await call(socket, 'GET', '/containers/json?all=1&gantry-view=ps')).body) as Array<Record<string, unknown>>;
    assert.deepEqual(short.map((c) => c['Id']), full.map((c) => c['Id']), 'the same containers, in the same order');
    const fields = ['Id', 'Names', 'Image', 'Command', 'Created', 'Ports', 'State', 'Status'];
    for (const c of short) assert.deepEqual(Object.keys(c), fields);
    const pick = (c: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(fields.map((k) => [k, c[k]]));
    assert.deepEqual(short.map(pick), full.map(pick), 'each field as in the full entry');
    assert.ok(full.every((c) => 'NetworkSettings' in c && 'HostConfig' in c && 'Mounts' in c));
  });

  test('events: since replays kept events with the legacy fields, until ends the stream', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await create('ev', ['true']);
    await engine.startContainer(id);
    await engine.waitContainer(id);
    const until = (Date.now() + 200) / 1000;
    const q = `since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ container: ['ev'] }))}`;
    const r = await call(socket, 'GET', `/events?${q}`);
    const lines = r.body.trim().split('\n').map((l) => JSON.parse(l) as { status: string; id: string; from: string; Action: string });
    assert.deepEqual(lines.map((e) => e.status), ['create', 'start', 'die']);
    assert.ok(lines.every((e) => e.id === id && e.from === 'busybox'));
  });

  test('update changes limits and restart policy; --rm containers keep "no"; rename answers 204', async () => {
    const id = await create('up', ['sleep', '100']);
    const r = await call(socket, 'POST', `/containers/${id}/update`, { Memory: 64 * 1024 * 1024, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { Warnings: [] });
    const h = engine.getContainer(id).host;
    assert.deepEqual([h.memoryBytes, h.restartPolicy.name, h.restartPolicy.maximumRetryCount], [64 * 1024 * 1024, 'on-failure', 2]);
    assert.equal((await call(socket, 'POST', `/containers/${id}/update`, { Memory: 1024 })).status, 400, 'below the 6 MB floor');
    const rm = await create('uprm', ['true'], { AutoRemove: true });
    const refused = await call(socket, 'POST', `/containers/${rm}/update`, { RestartPolicy: { Name: 'always' } });
    assert.equal(refused.status, 409);
    assert.equal((await call(socket, 'POST', `/containers/${id}/rename?name=renamed`)).status, 204);
    assert.equal(engine.getContainer(id).name, 'renamed');
  });

  test('stats: one-shot answers at once; a stopped container\'s stream ends after one object', async () => {
    const id = await create('st', ['sleep', '100']);
    await engine.startContainer(id);
    const one = JSON.parse((await call(socket, 'GET', `/containers/${id}/stats?stream=false&one-shot=true`)).body) as { name: string; pids_stats: { current: number } };
    assert.deepEqual([one.name, one.pids_stats.current], ['/st', 1]);
    await engine.killContainer(id, 'SIGKILL');
    await engine.waitContainer(id);
    const r = await call(socket, 'GET', `/containers/${id}/stats`);
    assert.equal(r.body.trim().split('\n').length, 1);
  });

  test('image and volume filters; unknown keys refused', async () => {
    const img = async (o: Record<string, string[]>): Promise<{ status: number; tags: string[] }> => {
      const r = await call(socket, 'GET', `/images/json?filters=${encodeURIComponent(JSON.stringify(o))}`);
      return { status: r.status, tags: r.status === 200 ? (JSON.parse(r.body) as Array<{ RepoTags: string[] }>).flatMap((i) => i.RepoTags) : [] };
    };
    assert.deepEqual((await img({ reference: ['busy*'] })).tags, ['busybox:latest']);
    assert.deepEqual((await img({ dangling: ['true'] })).tags, []);
    assert.equal((await img({ dangling: ['perhaps'] })).status, 400);
    assert.equal((await img({ size: ['big'] })).status, 400);
    engine.createVolume('kept', { labels: { k: 'v' } });
    const vols = JSON.parse((await call(socket, 'GET', `/volumes?filters=${encodeURIComponent(JSON.stringify({ label: ['k=v'], dangling: ['1'] }))}`)).body) as { Volumes: Array<{ Name: string }> };
    assert.deepEqual(vols.Volumes.map((v) => v.Name), ['kept']);
    assert.equal((await call(socket, 'GET', `/volumes?filters=${encodeURIComponent(JSON.stringify({ scope: ['x'] }))}`)).status, 400);
  });

  test('exec events: exec_create, exec_start and exec_die with the exit code', async () => {
    const id = await create('ex', ['sleep', '100']);
    await engine.startContainer(id);
    const seen: string[] = [];
    const off = engine.events.subscribe((e) => { if (e.Actor.ID === id) seen.push(`${e.Action}${e.Actor.Attributes['exitCode'] !== undefined ? ` ${e.Actor.Attributes['exitCode']}` : ''}`); });
    const exec = engine.createExec(id, { Cmd: ['true'] });
    const { finished } = await engine.startExec(exec, undefined);
    await finished;
    off();
    assert.deepEqual(seen, ['exec_create: true', 'exec_start: true', 'exec_die 0']);
    // A resize that arrives after the exec ended (a terminal closing) is a 409 saying so, not a 500.
    const late = await call(socket, 'POST', `/exec/${exec}/resize?h=40&w=120`);
    assert.equal(late.status, 409);
    assert.match(late.body, /exec [0-9a-f]{12} is not running \(it exited with 0\)/);
    assert.equal((await call(socket, 'POST', '/exec/nosuchexec/resize?h=1&w=1')).status, 404);
  });
});

describe('hijacked connections', () => {
  // docker-py reads the 101 header through a buffered reader and then reads the raw socket: bytes that came with the
  // header would be lost (attach(logs=True) of an exited container returned b'' on a loaded machine).
  test('the stream after a 101 header starts only once the client has read the header', { timeout: 20_000 }, async () => {
    const w = fakeWorld();
    const r = new Router();
    r.add('POST', '/hijack', async (ctx) => { (await ctx.hijack!({ tty: false })).end('replayed-logs'); return undefined; });
    const server = new ApiServer(r, () => undefined);
    const path = join(w.dir, 'api.sock');
    await server.listen(path);
    const client = connect({ path, allowHalfOpen: true });
    try {
      client.pause(); // a client busy elsewhere: nothing is read until it looks
      client.on('error', () => undefined);
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      client.write('POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 150));
      const chunks: string[] = [];
      client.on('data', (b: Buffer) => chunks.push(b.toString()));
      const ended = new Promise((resolve) => client.once('end', resolve));
      client.resume();
      await ended;
      assert.match(chunks[0] ?? '', /^HTTP\/1\.1 101 UPGRADED\r\n[^]*\r\n\r\n$/);
      assert.equal(chunks.slice(1).join(''), 'replayed-logs');
    } finally {
      client.destroy();
      await server.close();
      disposeWorld(w);
    }
  });
});

describe('shutdown never waits on a client', () => {
  test('a half-closed client and a hijacked connection do not hold server.close()', { timeout: 20_000 }, async () => {
    const w = fakeWorld();
    const r = new Router();
    r.add('POST', '/hijack', (ctx) => { ctx.hijack?.({ tty: false }); return undefined; });
    r.add('GET', '/slow', () => new Promise(() => undefined));
    const server = new ApiServer(r, () => undefined);
    const path = join(w.dir, 'api.sock');
    await server.listen(path);
    const clients: Socket[] = [];
    try {
      const open = (): Promise<Socket> => new Promise((resolve) => { const c = connect(path, () => resolve(c)); c.on('error', () => undefined); clients.push(c); });
      const halfOpen = await open();
      halfOpen.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      halfOpen.end(); // FIN sent, still waiting for an answer that never comes
      const hijacked = await open();
      hijacked.write('POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n');
      await new Promise<void>((resolve) => hijacked.once('data', () => resolve()));
      const idle = await open();
      const closedAll = Promise.all([halfOpen, hijacked, idle].map((c) => new Promise((resolve) => { if (c.destroyed) resolve(undefined); else c.once('close', resolve); })));
      await server.close();
      await closedAll;
    } finally {
      for (const c of clients) c.destroy();
      disposeWorld(w);
    }
  });
});

