// Registry benchmark (root): the nginx image (scripts/make-server-images.mjs, pushed into a loopback docker-registry with
// skopeo first) pulled into an empty store and again when present, pushes of a re-tagged image (new repository:
// mounts; same repository: nothing to upload), side by side with `skopeo copy` to a local dir in the same run
// (and `docker pull` into a private dockerd when Debian's docker.io is installed: bench/lib/docker-engine.mjs). Bytes uploaded are read from the registry's access log.
//   node bench/registry.mjs            (after `node scripts/build.mjs`; ROUNDS=N, default 3)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withDockerEngine } from './lib/docker-engine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
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
    const pg = serverImage('postgres');
    const pgRef = `${reg.host}/bench/postgres:${pg.tag}`;
    helpers.skopeo(['copy', `oci:${pg.ociLayout}:${pg.tag}`, `docker://${pgRef}`, ...reg.skopeoFlags('dest')]);
    const sizeOf = (r) => JSON.parse(helpers.skopeo(['inspect', '--raw', `docker://${r}`, ...reg.skopeoFlags('inspect')])).layers.reduce((s, l) => s + l.size, 0);

    // Cold pulls into empty stores: each round a new gantryd root and a new private dockerd (who goes first
    // alternates), all removed only after the last round. Removing an image between rounds made both tools'
    // next extraction pay for the deletion: on an ext4 without a journal, as this machine's root, every new inode
    // is checked against the inodes deleted in the last 60-360 s (the kernel's recently_deleted(), found with perf:
    // tar's kernel time for the nginx layer 0.3 s on tmpfs, 1.4-1.8 s right after a removal). A user's cold pull
    // does not follow a removal of the same 5,000-30,000 files; the removal cycle is kept as a second figure.
    const later = [];
    const fresh = { nginx: [], postgres: [] };
    const freshDocker = { nginx: [], postgres: [] };
    let version;
    for (let i = 0; i < ROUNDS; i++) {
      const gantryRound = async () => {
        const g = new TestDaemon(`bench-registry-r${i}`);
        later.push(() => g.dispose());
        await g.start();
        for (const [name, r] of [['nginx', ref], ['postgres', pgRef]]) { const t0 = process.hrtime.bigint(); g.ok(['pull', '-q', r]); fresh[name].push(ms(t0)); }
        await g.stop();
      };
      const dockerRound = () => withDockerEngine(async (env, v) => {
        version = v;
        for (const [name, r] of [['nginx', ref], ['postgres', pgRef]]) {
          const t0 = process.hrtime.bigint();
          const out = spawnSync('docker', ['pull', '-q', r], { env, encoding: 'utf8' });
          if (out.status !== 0) throw new Error(`docker pull failed: ${out.stderr}`);
          freshDocker[name].push(ms(t0));
        }
      }, { deferRemoval: later });
      if (i % 2 === 0) { await gantryRound(); await dockerRound(); } else { await dockerRound(); await gantryRound(); }
    }
    for (const remove of later) await remove();

    // The removal cycle (pull, rmi, pull again; gantry and docker interleaved round by round), then the
    // present-image pull, skopeo.
    const measure = async (dockerEnv) => {
      const cold = { nginx: [], postgres: [] };
      const docker = { nginx: [], postgres: [] };
      const warm = []; const skopeoCold = []; const nodeStart = [];
      let warmBytes = 0;
      const dockerPull = (r) => {
        const t0 = process.hrtime.bigint();
        const out = spawnSync('docker', ['pull', '-q', r], { env: dockerEnv, encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`docker pull failed: ${out.stderr}`);
        const took = ms(t0);
        spawnSync('docker', ['rmi', r], { env: dockerEnv });
        return took;
      };
      for (let i = 0; i < ROUNDS; i++) {
        for (const [name, r] of [['nginx', ref], ['postgres', pgRef]]) {
          cold[name].push(gantry(['pull', '-q', r]));
          if (name === 'nginx') {
            const mark = await reg.mark();
            warm.push(gantry(['pull', '-q', r]));
            await reg.sync();
            warmBytes += reg.blobBytesSent(mark);
          }
          d.ok(['rmi', '-f', JSON.parse(d.ok(['inspect', r]))[0].Id]);
          if (dockerEnv !== undefined) docker[name].push(dockerPull(r));
        }
        const dir = join(work, `skopeo-${i}`);
        const t0 = process.hrtime.bigint();
        helpers.skopeo(['copy', `docker://${ref}`, `dir:${dir}`, ...reg.skopeoFlags('src')]);
        skopeoCold.push(ms(t0));
        rmSync(dir, { recursive: true, force: true });
        const n0 = process.hrtime.bigint();
        spawnSync(process.execPath, ['-e', '0']);
        nodeStart.push(ms(n0));
      }
      return { cold, docker, warm, warmBytes, skopeoCold, nodeStart };
    };
    const m = (await withDockerEngine(async (env) => measure(env))) ?? await measure(undefined);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const rounds = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
    for (const [name, r] of [['nginx', ref], ['postgres', pgRef]]) {
      results.push({ name: `gantry pull ${name}, empty store`, value: median(fresh[name]), unit: 'ms', note: `${(sizeOf(r) / 1e6).toFixed(1)} MB compressed, one layer; a new store each round: ${rounds(fresh[name])}` });
      if (version !== undefined) {
        results.push({ name: `docker pull ${name}, empty store`, value: median(freshDocker[name]), unit: 'ms',
          note: `dockerd ${version} (Debian docker.io), a new private root each round, same registry: ${rounds(freshDocker[name])}; gantry ${(median(freshDocker[name]) / median(fresh[name])).toFixed(2)}x faster` });
      }
      results.push({ name: `gantry pull ${name}, just after rmi of it`, value: median(m.cold[name]), unit: 'ms', note: `rounds ${rounds(m.cold[name])}` });
      if (version !== undefined) {
        results.push({ name: `docker pull ${name}, just after rmi of it`, value: median(m.docker[name]), unit: 'ms',
          note: `interleaved with gantry's: ${rounds(m.docker[name])}; gantry ${(median(m.docker[name]) / median(m.cold[name])).toFixed(2)}x faster` });
      }
    }
    if (version === undefined) results.push({ name: 'docker pull', value: 0, unit: '', note: 'dockerd or the docker CLI is not installed: not measured' });
    results.push({ name: 'skopeo copy nginx to a local dir', value: median(m.skopeoCold), unit: 'ms', note: 'download + digest check only (no extraction)' });
    results.push({ name: 'gantry pull nginx, present', value: median(m.warm), unit: 'ms', note: `layer bytes downloaded: ${m.warmBytes}` });
    results.push({ name: 'node -e 0', value: median(m.nodeStart), unit: 'ms', note: `Node start-up, for the present-image pull; load at the end ${load}` });

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
