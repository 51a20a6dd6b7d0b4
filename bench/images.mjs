// Image benchmarks (root): save, load and commit of the nginx image (scripts/make-server-images.mjs, Debian's nginx-light),
// each beside a baseline measured in the same run: skopeo reading the same archive into an OCI dir (an independent
// client doing the same copy), `tar -x` of the rootfs (the floor of a load: extracting one layer), `cat` of the
// archive (the floor of a save: writing its bytes).
//   node bench/images.mjs            (after `node scripts/build.mjs`; needs skopeo for its line)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  const t = ms(t0);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return t;
}

export async function run() {
  const { TestDaemon, GANTRY_CMD, serverImage } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const nginx = serverImage('nginx').rootfs;
  const a = new TestDaemon('bench-img-a');
  const b = new TestDaemon('bench-img-b');
  const scratch = mkdtempSync(join(tmpdir(), 'gantry-bench-img-'));
  const results = [];
  try {
    await a.start();
    await b.start();
    const g = (d, ...args) => timed(GANTRY_CMD, args, d.env);
    results.push({ name: 'import nginx (rootfs tar, gzip into the store)', value: g(a, 'import', nginx, 'nginx'), unit: 'ms' });
    const archive = join(scratch, 'nginx-save.tar');
    results.push({ name: 'gantry save nginx', value: g(a, 'save', '-o', archive, 'nginx'), unit: 'ms', note: 'one gunzip pass for the size, one to write' });
    results.push({ name: 'baseline: cat of the saved archive', value: timed('sh', ['-c', `cat "$1" > "$2"`, 'sh', archive, join(scratch, 'copy.tar')]), unit: 'ms' });
    results.push({ name: 'gantry load into a fresh daemon', value: g(b, 'load', '-i', archive), unit: 'ms' });
    const ex = join(scratch, 'x');
    spawnSync('mkdir', [ex]);
    results.push({ name: 'baseline: tar -x of the rootfs', value: timed('tar', ['-x', '-f', nginx, '-C', ex]), unit: 'ms' });
    const skopeo = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));
    if (skopeo) results.push({ name: 'baseline: skopeo copy docker-archive: → oci:', value: timed(skopeo, ['copy', '-q', `docker-archive:${archive}`, `oci:${join(scratch, 'oci')}:nginx`]), unit: 'ms' });
    a.ok(['run', '--name', 'changed', 'nginx', 'sh', '-c', 'echo hi > /usr/share/nginx/html/x.html; rm -f /etc/nginx/sites-enabled/default']);
    results.push({ name: 'gantry commit (small change on nginx)', value: g(a, 'commit', 'changed', 'nginx:changed'), unit: 'ms' });
    a.ok(['run', '--name', 'big', 'nginx', 'sh', '-c', 'cp -a /usr /usr2']);
    results.push({ name: 'gantry commit (a copy of /usr, ~100 MB)', value: g(a, 'commit', 'big', 'nginx:big'), unit: 'ms' });
  } finally {
    await a.dispose();
    await b.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
  return { name: 'images (save, load, commit of nginx)', results };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
