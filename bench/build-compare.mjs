// The same Dockerfiles built by Docker's classic builder (DOCKER_BUILDKIT=0, Debian's docker.io in a private
// dockerd that changes nothing of the host: bench/lib/docker-engine.mjs) and by `gantry build` (a private
// gantryd), from the same busybox rootfs, compared (root; not a test):
//   history  the steps the Dockerfile added (the image config's history from `save`, beyond the base): created_by
//            normalised (COPY/ADD's `file:<hash>` → `file:*`, the hash is each builder's own) and empty_layer
//   layers   each step layer's listing from `save` (tar -tv: type, mode, owner, size, name, link), sorted
//   export   a container's filesystem (`create` + `export`, tar -tv, sorted; Docker's init-layer entries left out)
//   config   Env, Cmd, Entrypoint, Labels, ExposedPorts, Volumes, User, WorkingDir, StopSignal, Healthcheck,
//            OnBuild, Shell of the image config
// It prints a table of matches and then every difference. Cases Docker's classic builder cannot build (heredocs,
// --chmod need BuildKit) are built by gantry alone and listed as such.
//   node bench/build-compare.mjs           (after `node scripts/build.mjs`; docker.io installed for the comparison)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withDockerEngine } from './lib/docker-engine.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Each case: files of the context (Dockerfile among them), build args, and images built before it (ONBUILD parents). */
const CASES = [
  { name: 'scratch', files: { Dockerfile: 'FROM scratch\nCOPY hello.txt /\nCOPY sub /sub/\nCMD ["/hello.txt"]\n', 'hello.txt': 'hello\n', 'sub/a': 'a\n', 'sub/deeper/b': 'b\n' } },
  { name: 'multi-stage', files: { Dockerfile: 'FROM busybox AS build\nRUN mkdir /out && echo compiled > /out/result\nFROM busybox AS unused\nRUN echo never\nFROM busybox\nCOPY --from=build /out/result /app/result\nCOPY --from=build /out /out2\nCMD ["cat", "/app/result"]\n' } },
  { name: 'run-forms', files: { Dockerfile: 'FROM busybox\nRUN echo shell > /a\nRUN ["sh", "-c", "echo exec > /b"]\nRUN mkdir -p /d/e && touch /d/x /d/e/y\nRUN rm /d/x && rm -r /d/e\nRUN true\n' } },
  { name: 'env', files: { Dockerfile: 'FROM busybox\nENV A=1 B="two words" C=${A}x\nENV D 4 and more\nRUN echo "$A|$B|$C|$D" > /env\nENV A=override\nCMD echo $A\n' } },
  { name: 'args', buildArgs: ['W=from-cli', 'HTTP_PROXY=http://proxy.invalid:3128'], files: { Dockerfile: 'ARG BASE=busybox\nARG V=global\nFROM ${BASE}\nARG V\nARG W=default\nARG U=unused-default\nRUN echo "$V|$W|$HTTP_PROXY" > /args\nENV FROM_ARG=${W}\nRUN echo "$FROM_ARG" > /env-arg\n' } },
  { name: 'metadata', files: { Dockerfile: 'FROM busybox\nLABEL a=b "c d"="e f"\nLABEL multi.1=one \\\n      multi.2=two\nEXPOSE 80 53/udp 8080/tcp\nVOLUME /data ["/logs"]\nSTOPSIGNAL SIGINT\nHEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD wget -q -O- http://localhost/ || exit 1\nMAINTAINER someone@example.invalid\nENTRYPOINT ["sh", "-c"]\nCMD ["echo hi"]\n' } },
  { name: 'user-workdir', files: { Dockerfile: 'FROM busybox\nRUN echo "app:x:1234:1234::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1234:" >> /etc/group\nWORKDIR /srv\nWORKDIR app\nRUN pwd > /srv/app/pwd\nUSER app\nRUN id > /tmp/id\nUSER 0:0\nWORKDIR /srv/app\n' } },
  { name: 'copy-add', files: { Dockerfile: 'FROM busybox\nRUN echo "app:x:1234:1234::/home/app:/bin/sh" >> /etc/passwd && echo "app:x:1234:" >> /etc/group\nCOPY --chown=1234:1234 a.txt /owned/\nCOPY --chown=app:app dir /owned-dir\nCOPY *.conf /confs/\nCOPY a.txt b.txt /two/\nCOPY dir/ /flat\nADD bundle.tar /unpacked/\nADD bundle.tar.gz /unpacked-gz\nADD a.txt /added.txt\n', 'a.txt': 'a\n', 'b.txt': 'bb\n', 'x.conf': 'x\n', 'y.conf': 'yy\n', 'dir/one': '1\n', 'dir/sub/two': '22\n' }, tars: true },
  { name: 'copy-chmod', dockerUnsupported: '--chmod needs BuildKit in Docker 20.10', files: { Dockerfile: 'FROM busybox\nCOPY --chmod=640 a.txt /m/\nCOPY --chmod=755 --chown=7:7 dir /m-dir\n', 'a.txt': 'a\n', 'dir/f': 'f\n' } },
  { name: 'onbuild', parent: { tag: 'cmp-parent:1', files: { Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /t\nONBUILD COPY ctx.txt /ctx.txt\nCMD ["cat", "/t"]\n' } }, files: { Dockerfile: 'FROM cmp-parent:1\nRUN cat /t /ctx.txt\n', 'ctx.txt': 'from the child context\n' } },
  { name: 'shell', files: { Dockerfile: 'FROM busybox\nSHELL ["/bin/sh", "-ec"]\nRUN echo via-shell > /s\nCMD echo shell-form\nENTRYPOINT exec sh\nHEALTHCHECK CMD true\nSHELL ["/bin/sh", "-c"]\n' } },
  { name: 'dockerignore', files: { Dockerfile: 'FROM busybox\nCOPY . /ctx/\n', '.dockerignore': '*.log\n!keep.log\nsecret/\n**/*.tmp\n', 'a.log': 'x\n', 'keep.log': 'k\n', 'secret/s': 's\n', 'src/x.tmp': 't\n', 'src/main.c': 'int main;\n' } },
  { name: 'whiteouts', files: { Dockerfile: 'FROM busybox\nRUN mkdir -p /srv/keep /srv/gone && touch /srv/keep/a /srv/gone/b /srv/c\nRUN rm -r /srv/gone /srv/c && rm -rf /srv/keep && mkdir /srv/keep && touch /srv/keep/new\nCOPY --from=busybox /bin/busybox /copied/busybox\n' } },
  { name: 'heredoc', dockerUnsupported: 'heredocs need BuildKit (dockerfile 1.4 frontend)', files: { Dockerfile: 'FROM busybox\nRUN <<EOF\necho heredoc > /h\nEOF\nRUN <<EOF\n#!/bin/sh\necho "script $0" > /script\nEOF\nCOPY <<EOF /greeting\nhello\nEOF\n' } },
];

/** Entries Docker's init layer adds to every container (and gantry's runtime mountpoints): not the image's. */
const INIT_ENTRIES = new Set(['.dockerenv', 'dev', 'dev/console', 'dev/pts', 'dev/shm', 'etc', 'etc/hostname', 'etc/hosts', 'etc/mtab', 'etc/resolv.conf', 'proc', 'sys']);

function sh(cmd, args, env, opts = {}) {
  const r = spawnSync(cmd, args, { env, encoding: opts.encoding ?? 'utf8', maxBuffer: 1 << 28, input: opts.input });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r;
}

function writeContext(dir, c) {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(c.files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  if (c.tars) {
    const src = join(dir, '..', `${c.name}-tar-src`);
    mkdirSync(join(src, 'inner'), { recursive: true });
    writeFileSync(join(src, 'inner', 'f'), 'in a tar\n');
    writeFileSync(join(src, 'top'), 'top\n');
    sh('tar', ['--owner=0', '--group=0', '-cf', join(dir, 'bundle.tar'), '-C', src, '.']);
    sh('tar', ['--owner=0', '--group=0', '-czf', join(dir, 'bundle.tar.gz'), '-C', src, '.']);
  }
}

/** `tar -tv` of a tar file, one normalised line per entry: type+mode owner size name[ -> link] (no dates). */
function listing(file, { gzip = false } = {}) {
  const r = sh('tar', [gzip ? '-tvzf' : '-tvf', file, '--numeric-owner'], undefined, { allowFail: true });
  return r.stdout.split('\n').filter(Boolean).map((l) => {
    // drwxr-xr-x 0/0         0 2024-01-01 00:00 ./etc/
    const m = /^(\S+)\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+(.*)$/.exec(l);
    if (!m) return l;
    const [, mode, owner, size, rest] = m;
    const [name, link] = rest.split(/ (?:->|link to) /);
    const clean = name.replace(/^\.\//, '').replace(/\/$/, '') || '.';
    return { mode, owner, size: mode.startsWith('d') ? '-' : size, name: clean, link: link ?? '' };
  }).filter((e) => typeof e === 'object' && e.name !== '.').map((e) => `${e.mode} ${e.owner} ${e.size} ${e.name}${e.link ? ` -> ${e.link}` : ''}`).sort();
}

/** What a builder made of one image: history beyond the base, layer listings, export listing, config fields. */
function inspectImage(x, image, baseHistory, work) {
  const dir = mkdtempSync(join(work, 'img-'));
  x(['save', '-o', join(dir, 'img.tar'), image]);
  sh('tar', ['-xf', join(dir, 'img.tar'), '-C', dir]);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))[0];
  const config = JSON.parse(readFileSync(join(dir, manifest.Config), 'utf8'));
  const history = (config.history ?? []).slice(baseHistory).map((h) => `${h.empty_layer ? '(empty) ' : ''}${normaliseCreatedBy(h.created_by ?? '')}`);
  const layers = manifest.Layers.slice(manifest.Layers.length - (config.history ?? []).slice(baseHistory).filter((h) => !h.empty_layer).length)
    .map((l) => { const f = join(dir, l); const gz = readFileSync(f).subarray(0, 2); return listing(f, { gzip: gz[0] === 0x1f && gz[1] === 0x8b }); });
  const cid = x(['create', image, 'nothing-runs']).stdout.trim().split('\n').pop();
  x(['export', '-o', join(dir, 'fs.tar'), cid]);
  x(['rm', '-f', cid], { allowFail: true });
  const exported = listing(join(dir, 'fs.tar')).filter((l) => !INIT_ENTRIES.has(l.split(' ')[3]));
  const c = config.config ?? {};
  const fields = {};
  for (const k of ['Env', 'Cmd', 'Entrypoint', 'Labels', 'ExposedPorts', 'Volumes', 'User', 'WorkingDir', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell']) {
    const v = c[k];
    if (v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) continue;
    fields[k] = v;
  }
  if (config.author) fields.author = config.author;
  rmSync(dir, { recursive: true, force: true });
  return { history, layers, exported, config: fields };
}

function normaliseCreatedBy(s) {
  return s.replace(/(file|dir|multi):[0-9a-f]{64}/g, '$1:*').replace(/\s+$/, '');
}

/** Lines only one side has (multiset difference), as "- docker" / "+ gantry". */
function diffLines(a, b) {
  const count = (xs) => { const m = new Map(); for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1); return m; };
  const ca = count(a); const cb = count(b);
  const out = [];
  for (const [x, n] of ca) for (let i = (cb.get(x) ?? 0); i < n; i++) out.push(`- docker: ${x}`);
  for (const [x, n] of cb) for (let i = (ca.get(x) ?? 0); i < n; i++) out.push(`+ gantry: ${x}`);
  return out;
}

function compare(dk, gt) {
  const diffs = {};
  diffs.history = dk.history.length === gt.history.length && dk.history.every((h, i) => h === gt.history[i]) ? []
    : [...dk.history.map((h, i) => (h === gt.history[i] ? undefined : `step ${i + 1}: docker: ${h}\n      gantry: ${gt.history[i] ?? '(none)'}`)).filter(Boolean),
      ...gt.history.slice(dk.history.length).map((h, i) => `step ${dk.history.length + i + 1}: docker: (none)\n      gantry: ${h}`)];
  diffs.layers = [];
  const n = Math.max(dk.layers.length, gt.layers.length);
  for (let i = 0; i < n; i++) for (const d of diffLines(dk.layers[i] ?? [], gt.layers[i] ?? [])) diffs.layers.push(`layer ${i + 1}: ${d}`);
  diffs.export = diffLines(dk.exported, gt.exported);
  diffs.config = [];
  for (const k of new Set([...Object.keys(dk.config), ...Object.keys(gt.config)])) {
    const a = JSON.stringify(dk.config[k]); const b = JSON.stringify(gt.config[k]);
    if (a !== b) diffs.config.push(`${k}: docker ${a ?? '(unset)'} / gantry ${b ?? '(unset)'}`);
  }
  return diffs;
}

export async function run() {
  const { TestDaemon, GANTRY_BIN } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const busybox = join(root, '.fixtures', 'busybox.tar');
  const work = mkdtempSync(join(tmpdir(), 'gantry-build-compare-'));
  const d = new TestDaemon('build-compare');
  const gantry = process.execPath;
  const gEnv = () => d.env;
  const rows = [];
  try {
    await d.start();
    sh(gantry, [GANTRY_BIN, 'import', busybox, 'busybox'], gEnv());
    const result = await withDockerEngine(async (env, version) => {
      const denv = { ...env, DOCKER_BUILDKIT: '0' };
      sh('docker', ['import', busybox, 'busybox'], denv);
      for (const c of CASES) {
        const dir = join(work, c.name);
        writeContext(dir, c);
        const args = (c.buildArgs ?? []).flatMap((a) => ['--build-arg', a]);
        const tag = `cmp-${c.name}:1`;
        const g = (a, o) => sh(gantry, [GANTRY_BIN, ...a], gEnv(), o);
        const dk = (a, o) => sh('docker', a, denv, o);
        const parentBase = (x) => {
          if (!c.parent) return;
          const pdir = join(work, `${c.name}-parent`);
          writeContext(pdir, c.parent);
          x(['build', '-q', '-t', c.parent.tag, pdir]);
        };
        const baseHistory = (x) => {
          const from = c.parent ? c.parent.tag : /^FROM scratch/m.test(c.files.Dockerfile) ? undefined : 'busybox';
          if (from === undefined) return 0;
          const dir2 = mkdtempSync(join(work, 'base-'));
          x(['save', '-o', join(dir2, 'b.tar'), from]);
          sh('tar', ['-xf', join(dir2, 'b.tar'), '-C', dir2]);
          const m = JSON.parse(readFileSync(join(dir2, 'manifest.json'), 'utf8'))[0];
          const n = (JSON.parse(readFileSync(join(dir2, m.Config), 'utf8')).history ?? []).length;
          rmSync(dir2, { recursive: true, force: true });
          return n;
        };
        parentBase(g);
        const gr = g(['build', '-q', '-t', tag, ...args, dir], { allowFail: true });
        if (gr.status !== 0) { rows.push({ name: c.name, error: `gantry build failed: ${gr.stderr.trim()}` }); continue; }
        const gInfo = inspectImage(g, tag, baseHistory(g), work);
        if (c.dockerUnsupported) { rows.push({ name: c.name, gantryOnly: c.dockerUnsupported, gInfo }); continue; }
        parentBase(dk);
        const dr = dk(['build', '-q', '-t', tag, ...args, dir], { allowFail: true });
        if (dr.status !== 0) { rows.push({ name: c.name, error: `docker build failed: ${dr.stderr.trim()}` }); continue; }
        const dInfo = inspectImage(dk, tag, baseHistory(dk), work);
        rows.push({ name: c.name, diffs: compare(dInfo, gInfo), steps: dInfo.history.length });
      }
      return version;
    });
    if (result === undefined) {
      console.log('docker: unavailable — dockerd or the docker CLI is not installed (scripts/setup.sh does not install docker.io; `apt-get install docker.io` for this comparison). Nothing compared.');
      return { rows: [] };
    }
    console.log(`Docker ${result} (classic builder, DOCKER_BUILDKIT=0) vs gantry build, ${CASES.length} Dockerfiles\n`);
    const cell = (xs) => (xs.length === 0 ? 'same' : `${xs.length} diff${xs.length === 1 ? '' : 's'}`);
    const table = [['case', 'steps', 'history', 'layers', 'export', 'config']];
    for (const r of rows) {
      if (r.error) table.push([r.name, '-', 'ERROR', '', '', '']);
      else if (r.gantryOnly) table.push([r.name, String(r.gInfo.history.length), `gantry only (${r.gantryOnly})`, '', '', '']);
      else table.push([r.name, String(r.steps), cell(r.diffs.history), cell(r.diffs.layers), cell(r.diffs.export), cell(r.diffs.config)]);
    }
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const [i, row] of table.entries()) {
      console.log(`| ${row.map((v, j) => v.padEnd(widths[j])).join(' | ')} |`);
      if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    }
    const all = rows.filter((r) => r.diffs).reduce((n, r) => n + Object.values(r.diffs).reduce((m, xs) => m + xs.length, 0), 0);
    console.log(`\n${rows.filter((r) => r.diffs && Object.values(r.diffs).every((xs) => xs.length === 0)).length}/${rows.filter((r) => r.diffs).length} compared cases identical; ${all} differences in all`);
    for (const r of rows) {
      if (r.error) { console.log(`\n## ${r.name}: ${r.error}`); continue; }
      if (r.gantryOnly) { console.log(`\n## ${r.name} (gantry only): history\n${r.gInfo.history.map((h) => `    ${h}`).join('\n')}`); continue; }
      for (const [kind, xs] of Object.entries(r.diffs)) {
        if (xs.length === 0) continue;
        console.log(`\n## ${r.name} — ${kind}`);
        for (const x of xs) console.log(`    ${x}`);
      }
    }
    return { rows };
  } finally {
    await d.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await run();
