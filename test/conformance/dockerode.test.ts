// dockerode (the npm Docker client) driving a private gantryd through its documented high-level calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import Docker from 'dockerode';
import { TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox');

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => { text += c.toString(); });
  return { stream, text: () => text };
}

const ended = (s: Readable): Promise<void> => new Promise((resolve) => { s.on('end', resolve); s.on('close', resolve); });

describe('dockerode against gantryd', { skip }, () => {
  let d: TestDaemon;
  let docker: Docker;
  before(async () => {
    d = new TestDaemon('dockerode');
    await d.start();
    d.importBusybox();
    docker = new Docker({ socketPath: d.socket });
  });
  after(async () => { await d?.dispose(); });

  test('ping and version', async () => {
    assert.equal(String(await docker.ping()), 'OK');
    const v = await docker.version();
    assert.equal(v.ApiVersion, '1.43');
    assert.equal(v.Arch, 'amd64');
  });

  test('run (attach without an upgrade, then start): output demuxed into [stdout, stderr], exit code', async () => {
    const out = collect();
    const err = collect();
    const [result, container] = await docker.run('busybox', ['sh', '-c', 'echo out; echo err >&2; exit 5'], [out.stream, err.stream], { Tty: false }) as [{ StatusCode: number }, Docker.Container];
    assert.equal(result.StatusCode, 5);
    assert.equal(out.text(), 'out\n');
    assert.equal(err.text(), 'err\n');
    await container.remove();
  });

  test('run with a tty (dockerode\'s default): raw output', async () => {
    const out = collect();
    const [result, container] = await docker.run('busybox', ['sh', '-c', 'echo tty-out'], out.stream) as [{ StatusCode: number }, Docker.Container];
    assert.equal(result.StatusCode, 0);
    assert.equal(out.text(), 'tty-out\r\n');
    await container.remove();
  });

  describe('a running container', () => {
    let c: Docker.Container;
    before(async () => {
      c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.2; done'], Labels: { suite: 'dockerode' } });
      await c.start();
    });
    after(async () => { await c?.remove({ force: true }); });

    test('attach (plain) streams multiplexed output', async () => {
      const stream = await c.attach({ stream: true, stdout: true, stderr: true }) as unknown as Readable;
      const out = collect();
      c.modem.demuxStream(stream, out.stream, out.stream);
      for (let i = 0; i < 100 && !/tick\d+\n/.test(out.text()); i++) await new Promise((r) => setTimeout(r, 50));
      stream.destroy();
      assert.match(out.text(), /tick\d+\n/);
    });

    test('exec start, plain and hijacked, demuxed; inspect has the exit code', async () => {
      const plain = await c.exec({ Cmd: ['sh', '-c', 'echo from-exec; echo to-err >&2; exit 2'], AttachStdout: true, AttachStderr: true });
      const s1 = await plain.start({});
      const out = collect();
      const err = collect();
      c.modem.demuxStream(s1, out.stream, err.stream);
      await ended(s1);
      assert.equal(out.text(), 'from-exec\n');
      assert.equal(err.text(), 'to-err\n');
      assert.equal((await plain.inspect()).ExitCode, 2);
      const hijacked = await c.exec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
      const s2 = await hijacked.start({ hijack: true, stdin: true });
      const echoed = collect();
      c.modem.demuxStream(s2, echoed.stream, echoed.stream);
      s2.end('through stdin\n');
      await ended(s2);
      assert.equal(echoed.text(), 'through stdin\n');
    });

    test('logs (follow=false) and a stats stream whose second sample carries the first as precpu', async () => {
      const logs = await c.logs({ stdout: true, tail: 2 });
      assert.match(logs.toString(), /tick\d+/);
      const stats = await c.stats({ stream: true }) as unknown as Readable;
      const samples: Array<{ precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number }; pids_stats: { current: number } }> = [];
      let buf = '';
      await new Promise<void>((resolve) => {
        stats.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            samples.push(JSON.parse(buf.slice(0, i)) as (typeof samples)[number]);
            buf = buf.slice(i + 1);
          }
          if (samples.length >= 2) { stats.destroy(); resolve(); }
        });
      });
      assert.equal(samples[0]!.precpu_stats.system_cpu_usage, 0);
      assert.ok(samples[1]!.precpu_stats.system_cpu_usage > 0, 'precpu_stats is the previous sample');
      assert.ok(samples[1]!.pids_stats.current >= 1);
    });

    test('listContainers with label and ancestor filters; an unknown filter is rejected', async () => {
      const listed = await docker.listContainers({ filters: { label: ['suite=dockerode'], ancestor: ['busybox'] } });
      assert.deepEqual(listed.map((x) => x.Id), [c.id]);
      await assert.rejects(docker.listContainers({ filters: { nonsense: ['x'] } }), /invalid filter 'nonsense'/);
    });
  });

  test('events with since/until and filters end by themselves', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'] });
    await c.start();
    await c.wait();
    await c.remove();
    const stream = await docker.getEvents({ since, until: Math.ceil(Date.now() / 1000) + 1, filters: { container: [c.id], event: ['die', 'destroy'] } }) as unknown as Readable;
    let text = '';
    stream.on('data', (chunk: Buffer) => { text += chunk.toString(); });
    await ended(stream);
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { status: string; id: string; Action: string });
    assert.deepEqual(events.map((e) => [e.status, e.id]), [['die', c.id], ['destroy', c.id]]);
  });

  test('networks and volumes: create, list with filters, remove', async () => {
    const net = await docker.createNetwork({ Name: `dn-${process.pid}`, Labels: { suite: 'dockerode' } });
    assert.deepEqual((await docker.listNetworks({ filters: { label: ['suite=dockerode'] } })).map((n) => n.Name), [`dn-${process.pid}`]);
    await net.remove();
    const vol = await docker.createVolume({ Name: `dv-${process.pid}`, Labels: { suite: 'dockerode' } });
    const vols = await docker.listVolumes({ filters: { label: ['suite=dockerode'] } });
    assert.deepEqual(vols.Volumes.map((v) => v.Name), [`dv-${process.pid}`]);
    await docker.getVolume(vol.name).remove();
  });

  test('putArchive a tar, getArchive it back; a missing path is a 404', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'] });
    await c.start();
    try {
      const src = join(d.dir, 'ode-src');
      mkdirSync(src);
      writeFileSync(join(src, 'ode.txt'), 'put by dockerode\n');
      const tar = execFileSync('tar', ['-c', '-C', src, 'ode.txt']);
      await c.putArchive(tar, { path: '/tmp' });
      const got = await c.getArchive({ path: '/tmp/ode.txt' }) as unknown as Readable;
      const chunks: Buffer[] = [];
      for await (const chunk of got) chunks.push(chunk as Buffer);
      const back = execFileSync('tar', ['-xO', 'ode.txt'], { input: Buffer.concat(chunks) }).toString();
      assert.equal(back, 'put by dockerode\n');
      await assert.rejects(c.getArchive({ path: '/no/such' }), (e: { statusCode?: number }) => e.statusCode === 404);
    } finally {
      await c.remove({ force: true });
    }
  });

  test('pruneContainers, pruneImages, pruneVolumes, df', async () => {
    const c = await docker.createContainer({ Image: 'busybox', Cmd: ['touch', '/x'], HostConfig: { Binds: [] }, Volumes: { '/anon': {} } });
    await c.start();
    await c.wait();
    const anon = ((await c.inspect()).Mounts[0] as { Name?: string }).Name;
    const committed = await c.commit() as { Id: string };
    const pc = await docker.pruneContainers();
    assert.ok(pc.ContainersDeleted?.includes(c.id));
    const pi = await docker.pruneImages({ filters: { dangling: ['true'] } });
    assert.ok(pi.ImagesDeleted?.some((x: { Deleted?: string }) => x.Deleted === committed.Id));
    const pv = await docker.pruneVolumes();
    assert.ok(anon !== undefined && pv.VolumesDeleted?.includes(anon));
    assert.equal(typeof pv.SpaceReclaimed, 'number');
    const df = await docker.df() as { LayersSize: number; Images: unknown[] };
    assert.ok(df.LayersSize > 0 && df.Images.length >= 1);
  });

  test('push (progress followed) to a registry, remove, pull with followProgress, run the image', { skip: haveRegistryTools() }, async () => {
    const reg = await TestRegistry.start();
    try {
      const repo = `${reg.host}/ode/busybox`;
      await docker.getImage('busybox').tag({ repo, tag: 'v1' });
      const follow = (stream: NodeJS.ReadableStream): Promise<Array<{ status?: string; error?: string; aux?: { Digest?: string } }>> =>
        new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, res: Array<{ status?: string }>) => (err ? reject(err) : resolve(res))));
      const pushed = await follow(await docker.getImage(`${repo}:v1`).push({ tag: 'v1' }));
      assert.ok(pushed.some((m) => m.aux?.Digest?.startsWith('sha256:')), JSON.stringify(pushed));
      await docker.getImage(`${repo}:v1`).remove();
      const pulled = await follow(await docker.pull(`${repo}:v1`));
      assert.ok(pulled.some((m) => /Downloaded newer image|Image is up to date/.test(m.status ?? '')), JSON.stringify(pulled));
      const out = collect();
      const [result, c] = await docker.run(`${repo}:v1`, ['echo', 'ode-pulled'], out.stream, { Tty: false }) as [{ StatusCode: number }, Docker.Container];
      assert.equal(result.StatusCode, 0);
      assert.match(out.text(), /ode-pulled/);
      await c.remove();
      await assert.rejects(async () => follow(await docker.pull(`${reg.host}/ode/absent:x`)), /not found|unknown/i);
    } finally {
      await reg.dispose();
    }
  });

  test('buildImage from a directory context with buildargs, progress followed; the image runs', async () => {
    const ctx = join(d.dir, 'ode-build');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nCOPY msg /msg\nRUN echo "for $WHO" >> /msg\nCMD ["cat", "/msg"]\n');
    writeFileSync(join(ctx, 'msg'), 'built by dockerode\n');
    const stream = await docker.buildImage({ context: ctx, src: ['Dockerfile', 'msg'] }, { t: 'odebuild:1', buildargs: { WHO: 'amy' } });
    const events = await new Promise<Array<{ stream?: string; error?: string; aux?: { ID?: string } }>>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, res: Array<{ stream?: string }>) => (err ? reject(err) : resolve(res))));
    assert.deepEqual(events.filter((e) => e.error !== undefined), []);
    assert.ok(events.some((e) => e.aux?.ID?.startsWith('sha256:')), 'the aux message carries the image id');
    assert.match(events.map((e) => e.stream ?? '').join(''), /Successfully tagged odebuild:1/);
    const out = collect();
    const err = collect();
    // dockerode demultiplexes only when given [stdout, stderr]
    const [result, c] = await docker.run('odebuild:1', [], [out.stream, err.stream], { Tty: false }) as [{ StatusCode: number }, Docker.Container];
    assert.equal(result.StatusCode, 0);
    assert.equal(out.text(), 'built by dockerode\nfor amy\n');
    await c.remove();
  });
});
