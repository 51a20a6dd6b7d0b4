// Every stack in examples/ comes up with `gantry up -d --wait`, does what its README says, and goes away
// with `gantry down -v`.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { skipReason } from '../helpers/privileged.js';
import { eventually, serverImage, TestDaemon } from '../helpers/daemon.js';
import { haveRegistryTools, skopeo, TestRegistry } from '../helpers/registry.js';
import { containersOf, exampleFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

function downLeavesNothing(d: TestDaemon, file: string, project: string): void {
  d.ok(['down', '-f', file, '-v']);
  assert.equal(containersOf(d, file).size, 0);
  assert.doesNotMatch(d.ok(['network', 'ls']), new RegExp(`${project}_`));
  assert.doesNotMatch(d.ok(['volume', 'ls']), new RegExp(`${project}_`));
}

describe('examples', { skip }, () => {
  const d = new TestDaemon('examples');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => { await d.dispose(); });

  test('web-api-worker: healthy services, DNS by alias, a shared volume and a published port', async () => {
    const file = exampleFile('web-api-worker');
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    const cs = containersOf(d, file);
    assert.deepEqual([...cs.keys()].sort(), ['webapp-api-1', 'webapp-web-1', 'webapp-worker-1']);
    assert.match(cs.get('webapp-web-1')!.Status, /healthy/);
    assert.match(await httpGet('http://127.0.0.1:18080/'), /hello from gantry/);
    assert.equal(d.ok(['stack', '-f', file, 'exec', '-T', 'web', 'cat', '/www/api.json']).trim(), '{"status":"ok"}');
    await eventually(() => assert.match(d.ok(['stack', '-f', file, 'exec', '-T', 'api', 'cat', '/srv/shared/report.txt']), /^tick \d+/), 5000, 'the worker report');
    assert.equal(d.ok(['stack', '-f', file, 'port', 'web', '8080']).trim(), '127.0.0.1:18080');
    downLeavesNothing(d, file, 'webapp');
  });

  test('migrate-then-serve: the one-shot runs first; secrets and configs are mounted read-only', () => {
    const file = exampleFile('migrate-then-serve');
    process.env['MIGRATE_TOKEN'] = 'token-from-env';
    try {
      d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    } finally {
      delete process.env['MIGRATE_TOKEN'];
    }
    const cs = containersOf(d, file);
    assert.equal(cs.get('migrate-migrate-1')?.State, 'exited');
    assert.equal(cs.get('migrate-app-1')?.State, 'running');
    const exec = (cmd: string): string => d.ok(['stack', '-f', file, 'exec', '-T', 'app', 'sh', '-c', cmd]);
    assert.equal(exec('cat /tmp/page'), 'schema v2\ns3cr3t-key\n');
    assert.equal(exec('cat /run/secrets/token'), 'token-from-env');
    assert.match(exec('cat /etc/app.conf'), /mode = demo/);
    assert.match(exec('touch /run/secrets/api_key 2>&1 || echo refused'), /refused/);
    assert.match(d.ok(['stack', '-f', file, 'logs', 'migrate']), /migrate-1 +\| migrated/);
    assert.equal(d.ok(['up', '-f', file, '-d', '--dry-run']), 'nothing to do\n');
    downLeavesNothing(d, file, 'migrate');
  });

  test('scaled-workers: three replicas with limits, read-only root, env file, restart on unhealthy', async () => {
    const file = exampleFile('scaled-workers');
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain']);
    const cs = containersOf(d, file);
    assert.deepEqual([...cs.keys()].sort(), ['workers-monitor-1', 'workers-worker-1', 'workers-worker-2', 'workers-worker-3']);
    const info = JSON.parse(d.ok(['inspect', 'workers-worker-2'])) as Array<{ HostConfig: { Memory: number; NanoCpus: number; ReadonlyRootfs: boolean }; State: { StartedAt: string } }>;
    assert.equal(info[0]!.HostConfig.Memory, 32 * 1024 * 1024);
    assert.equal(info[0]!.HostConfig.ReadonlyRootfs, true);
    await eventually(() => assert.match(d.ok(['stack', '-f', file, 'logs', 'worker']), /worker-2 +\| worker \S+ up with jobs/), 5000, 'the worker greeting');
    assert.match(d.ok(['stack', '-f', file, 'exec', '-T', 'worker', 'sh', '-c', 'touch /x 2>&1 || echo read-only']), /read-only/);
    // The healthcheck fails once /tmp/alive is gone: the container turns unhealthy and is restarted.
    const startedAt = info[0]!.State.StartedAt;
    d.ok(['stack', '-f', file, 'exec', '-T', '--index', '2', 'worker', 'rm', '/tmp/alive']);
    await eventually(() => {
      const now = JSON.parse(d.ok(['inspect', 'workers-worker-2'])) as Array<{ State: { StartedAt: string; Status: string } }>;
      assert.notEqual(now[0]!.State.StartedAt, startedAt);
      assert.equal(now[0]!.State.Status, 'running');
    }, 15_000, 'worker-2 to be restarted');
    assert.match(d.ok(['exec', 'workers-monitor-1', 'cat', '/etc/hosts']), /10\.9\.9\.9\s+metrics\.local/);
    downLeavesNothing(d, file, 'workers');
  });
});

describe('visits (the README demo): nginx → python → postgres, real Debian images pulled from a loopback registry', { skip: skip ?? skipReason('mmdebstrap') }, () => {
  const d = new TestDaemon('examples-visits');
  let registry: TestRegistry | undefined;
  before(async () => {
    const missing = haveRegistryTools();
    if (missing !== undefined) throw new Error(`the visits example needs the registry tools: ${missing}`);
    registry = await TestRegistry.start();
    for (const name of ['nginx', 'postgres', 'python'] as const) {
      const image = serverImage(name);
      skopeo(['copy', '--quiet', ...registry.skopeoFlags('dest'), `oci:${image.ociLayout}:${image.tag}`, `docker://${registry.host}/${name}:${image.tag}`]);
    }
    await d.start();
  });
  after(async () => {
    await d.dispose();
    await registry?.dispose();
  });

  test('up --wait pulls the three images, the page counts visits in postgres, a second up is a no-op, down -v removes all', async () => {
    const file = exampleFile('visits');
    process.env['REGISTRY'] = registry!.host;
    try {
      d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'plain'], { timeoutMs: 180_000 });
      const cs = containersOf(d, file);
      assert.deepEqual([...cs.keys()].sort(), ['visits-app-1', 'visits-db-1', 'visits-web-1']);
      assert.match(cs.get('visits-db-1')!.Status, /healthy/);
      assert.match(cs.get('visits-app-1')!.Status, /healthy/);
      assert.match(d.ok(['images']), new RegExp(`${registry!.host.replace(/\./g, '\\.')}/postgres +15`));
      assert.match(await httpGet('http://127.0.0.1:18081/'), /visit 1, counted in PostgreSQL/);
      assert.match(await httpGet('http://127.0.0.1:18081/'), /visit 2, counted in PostgreSQL/);
      assert.equal(d.ok(['stack', '-f', file, 'exec', '-T', 'db', 'psql', '-U', 'postgres', '-d', 'visits', '-tAc', 'select count(*) from visits']).trim(), '2');
      const again = d.gantry(['up', '-f', file, '-d', '--progress', 'plain']);
      assert.equal(again.status, 0);
      assert.match(`${again.stdout}${again.stderr}`, /Nothing to do/);
      downLeavesNothing(d, file, 'visits');
    } finally {
      delete process.env['REGISTRY'];
    }
  });
});
