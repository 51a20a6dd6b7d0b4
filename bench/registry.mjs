// Registry benchmark (root): the nginx image (scripts/make-server-images.mjs, pushed into a loopback docker-registry with
// skopeo first) pulled into an empty store and again when present, pushes of a re-tagged image (new repository:
// mounts; same repository: nothing to upload), side by side with `skopeo copy` to a local dir in the same run
// (and `docker pull` into a private dockerd when Debian's docker.io is installed: bench/lib/docker-engine.mjs). Bytes uploaded are read from the registry's access log.
//   node bench/registry.mjs            (after `node scripts/build.mjs`)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withDockerEngine } from './lib/docker-engine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = 3;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

export async function run() {
  const helpers = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'registry.js')).href);
  const { TestDaemon, serverImage } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const fixture = serverImage('nginx').rootfs;
  const missing = helpers.haveRegistryTools();
  if (missing !== undefined || !existsSync(fixture)) {
    return { name: 'registry', results: [{ name: 'skipped', value: 0, unit: '', note: missing ?? `${fixture} is missing (scripts/make-server-images.mjs)` }] };
  }
  const work = mkdtempSync(join(tmpdir(), 'gantry-bench-registry-'));
  const reg = await helpers.TestRegistry.start();
  const d = new TestDaemon('bench-registry');
  const results = [];
  try {
    const layout = helpers.ociLayout(join(work, 'oci'), fixture, 'v1', { cmd: ['nginx', '-g', 'daemon off;'] });
    const ref = `${reg.host}/bench/nginx:v1`;
    helpers.skopeo(['copy', `oci:${layout}:v1`, `docker://${ref}`, ...reg.skopeoFlags('dest')]);
    await d.start();
    const gantry = (args) => { const t0 = process.hrtime.bigint(); d.ok(args); return ms(t0); };

    const cold = []; const warm = []; const skopeoCold = []; const nodeStart = [];
    let warmBytes = 0;
    for (let i = 0; i < ROUNDS; i++) {
      cold.push(gantry(['pull', '-q', ref]));
      const mark = await reg.mark();
      warm.push(gantry(['pull', '-q', ref]));
      await reg.sync();
      warmBytes += reg.blobBytesSent(mark);
      const id = JSON.parse(d.ok(['inspect', ref]))[0].Id;
      d.ok(['rmi', '-f', id]);
      const dir = join(work, `skopeo-${i}`);
      const t0 = process.hrtime.bigint();
      helpers.skopeo(['copy', `docker://${ref}`, `dir:${dir}`, ...reg.skopeoFlags('src')]);
      skopeoCold.push(ms(t0));
      rmSync(dir, { recursive: true, force: true });
      const n0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      nodeStart.push(ms(n0));
    }
    const size = JSON.parse(helpers.skopeo(['inspect', '--raw', `docker://${ref}`, ...reg.skopeoFlags('inspect')])).layers.reduce((s, l) => s + l.size, 0);
    results.push({ name: 'gantry pull nginx, empty store', value: median(cold), unit: 'ms', note: `${(size / 1e6).toFixed(1)} MB compressed, one layer` });
    results.push({ name: 'skopeo copy nginx to a local dir', value: median(skopeoCold), unit: 'ms', note: 'download + digest check only (no extraction)' });
    results.push({ name: 'gantry pull nginx, present', value: median(warm), unit: 'ms', note: `layer bytes downloaded: ${warmBytes}` });
    results.push({ name: 'node -e 0', value: median(nodeStart), unit: 'ms', note: 'Node start-up, for the present-image pull' });

    const pg = serverImage('postgres');
    const pgRef = `${reg.host}/bench/postgres:${pg.tag}`;
    helpers.skopeo(['copy', `oci:${pg.ociLayout}:${pg.tag}`, `docker://${pgRef}`, ...reg.skopeoFlags('dest')]);
    const pgCold = [];
    for (let i = 0; i < ROUNDS; i++) {
      pgCold.push(gantry(['pull', '-q', pgRef]));
      d.ok(['rmi', '-f', JSON.parse(d.ok(['inspect', pgRef]))[0].Id]);
    }
    const pgSize = JSON.parse(helpers.skopeo(['inspect', '--raw', `docker://${pgRef}`, ...reg.skopeoFlags('inspect')])).layers.reduce((s, l) => s + l.size, 0);
    results.push({ name: 'gantry pull postgres, empty store', value: median(pgCold), unit: 'ms', note: `${(pgSize / 1e6).toFixed(1)} MB compressed, one layer` });

    gantry(['pull', '-q', ref]);
    const mounted = []; const unchanged = [];
    let uploads = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const copy = `${reg.host}/bench/copy${i}:v1`;
      d.ok(['tag', ref, copy]);
      const mark = await reg.mark();
      mounted.push(gantry(['push', '-q', copy]));
      unchanged.push(gantry(['push', '-q', copy]));
      await reg.sync();
      uploads += reg.requests(/"(PUT|PATCH) \/v2\/[^ ]+\/blobs\/uploads\//, mark).length;
    }
    results.push({ name: 'gantry push re-tagged image, new repository', value: median(mounted), unit: 'ms', note: 'blobs mounted from bench/nginx' });
    results.push({ name: 'gantry push unchanged image', value: median(unchanged), unit: 'ms', note: `blob uploads in the registry log: ${uploads}` });

    // docker pull from the same registry, into a private dockerd that changes nothing of the host (bench/lib).
    const dockerPulls = await withDockerEngine(async (env, version) => {
      const timesOf = (r) => {
        const times = [];
        for (let i = 0; i < ROUNDS; i++) {
          const t0 = process.hrtime.bigint();
          const out = spawnSync('docker', ['pull', '-q', r], { env, encoding: 'utf8' });
          if (out.status !== 0) throw new Error(`docker pull failed: ${out.stderr}`);
          times.push(ms(t0));
          spawnSync('docker', ['rmi', r], { env });
        }
        return median(times);
      };
      return { nginx: timesOf(ref), postgres: timesOf(pgRef), version };
    });
    if (dockerPulls === undefined) results.push({ name: 'docker pull', value: 0, unit: '', note: 'dockerd or the docker CLI is not installed: not measured' });
    else {
      const note = (name, gantryMs, dockerMs) => `dockerd ${dockerPulls.version} (Debian docker.io), private root, same registry; gantry ${(dockerMs / gantryMs).toFixed(2)}x faster`;
      results.push({ name: 'docker pull nginx, empty', value: dockerPulls.nginx, unit: 'ms', note: note('nginx', median(cold), dockerPulls.nginx) });
      results.push({ name: 'docker pull postgres, empty', value: dockerPulls.postgres, unit: 'ms', note: note('postgres', median(pgCold), dockerPulls.postgres) });
    }
  } finally {
    await d.dispose();
    await reg.dispose();
    rmSync(work, { recursive: true, force: true });
  }
  return { name: 'registry', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${Number(r.value).toFixed(1)} ${r.unit} ${r.note ?? ''}`);
}
