// deploy.update_config.order: start-first on plain `up`: a load loop against the published port while the service is
// updated counts no failed request (the new container is healthy and takes over the port before the old one stops);
// a new revision that never gets healthy leaves the old container serving, and `up` says why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon.js';
import { freePort } from '../helpers/registry.js';
import { skipReason } from '../helpers/privileged.js';

const stack = (port: number, version: string, health = 'wget -q -O /dev/null http://127.0.0.1/'): string => `name: zdt
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo $$V > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment: { V: "${version}" }
    ports: ["127.0.0.1:${port}:80"]
    stop_signal: SIGKILL
    healthcheck: { test: ["CMD-SHELL", "timeout 3 ${health}"], interval: 1s, timeout: 4s, retries: 2, start_interval: 200ms, start_period: 5s }
    deploy:
      update_config: { order: start-first }
`;

/** One GET on a fresh connection: the body, or the error. */
function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Requests one after the other until stopped: the bodies seen (in order, deduplicated runs) and every failure. */
function loadLoop(port: number): { stop: () => Promise<{ seen: string[]; ok: number; failures: string[] }> } {
  let running = true;
  const seen: string[] = [];
  const failures: string[] = [];
  let ok = 0;
  const done = (async () => {
    while (running) {
      try {
        const body = await get(port);
        ok++;
        if (seen[seen.length - 1] !== body) seen.push(body);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
  })();
  return { stop: async () => { running = false; await done; return { seen, ok, failures }; } };
}

describe('up with deploy.update_config.order start-first', { skip: skipReason('root', 'busybox') }, () => {
  const d = new TestDaemon('start-first');
  let port = 0;
  const file = (): string => join(d.dir, 'compose.yaml');
  const up = async (): Promise<{ status: number; out: string }> => {
    const r = await d.gantryAsync(['up', '-f', file(), '-d', '--wait', '--progress', 'plain']).done;
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const webId = (): string => d.ok(['inspect', '-f', '{{.Id}}', 'zdt-web-1']).trim();

  before(async () => {
    await d.start();
    d.importBusybox();
    port = await freePort();
  });
  after(async () => {
    d.gantry(['down', '-f', file(), '-t', '0']);
    await d.dispose();
  });

  test('an update under load: no request fails, the answers move from v1 to v2, one container is left', async () => {
    writeFileSync(file(), stack(port, 'v1'));
    assert.equal((await up()).status, 0);
    assert.equal(await get(port), 'v1');
    const before1 = webId();
    const load = loadLoop(port);
    writeFileSync(file(), stack(port, 'v2'));
    const r = await up();
    await new Promise((res) => setTimeout(res, 300));
    const { seen, ok, failures } = await load.stop();
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /zdt-web-1.*(Replaced|start-first)/, r.out);
    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} requests failed`);
    assert.deepEqual(seen, ['v1', 'v2'], 'v1 until the switch, then v2 only');
    assert.ok(ok > 20, `the loop ran (${ok} requests)`);
    assert.notEqual(webId(), before1, 'the container was replaced');
    const names = d.ok(['ps', '-a', '--format', 'json']).trim().split('\n').map((l) => (JSON.parse(l) as { Names: string[] }).Names[0]!.replace(/^\//, '')).filter((n) => n.includes('zdt'));
    assert.deepEqual(names, ['zdt-web-1'], 'the old container is gone');
  });

  test('a revision that never gets healthy: up fails naming why, the old container keeps serving under its name', async () => {
    const serving = webId();
    const load = loadLoop(port);
    writeFileSync(file(), stack(port, 'v3', 'false'));
    const r = await up();
    const { seen, failures } = await load.stop();
    assert.notEqual(r.status, 0, r.out);
    assert.match(r.out, /unhealthy.*previous container of zdt-web-1 was kept/s, r.out);
    assert.deepEqual(failures, [], 'the old container served throughout');
    assert.deepEqual(seen, ['v2']);
    assert.equal(webId(), serving, 'the same container, under its own name');
    assert.equal(await get(port), 'v2');
  });
});
