// Deploy-from-git benchmark (root): the cost of an idle tick (no new commit) in daemon CPU and wall time, the time
// from `git push` to converged with a 1 s interval, and the daemon's RSS with 20 sources. Baselines from the same
// run: a bare `git ls-remote` of the same repository, a /_ping round trip, the RSS before the sources were added.
//   node bench/deploy.mjs        (after `node scripts/build.mjs`)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const TICKS = 50;
const PUSHES = 10;
const SOURCES = 20;
const CLK_TCK = 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

function api(d, method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: d.socket, path, method }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => { try { resolve(text === '' ? undefined : JSON.parse(text)); } catch { resolve(text); } });
    });
    req.on('error', reject);
    req.end();
  });
}

/** CPU seconds of the daemon itself and of its reaped children (git), from /proc/PID/stat. */
function cpu(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { self: (Number(f[11]) + Number(f[12])) / CLK_TCK, children: (Number(f[13]) + Number(f[14])) / CLK_TCK };
}
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const stackFile = (text) => `services:\n  web:\n    image: busybox\n    command: ["sh", "-c", "echo ${text}; exec sleep 100000"]\n    stop_signal: SIGKILL\n`;

async function converged(d, name, commit, timeoutMs = 60_000) {
  const t0 = Date.now();
  for (;;) {
    const s = await api(d, 'GET', `/deploy/${name}`);
    if (s.appliedCommit === commit && s.sync === 'Synced' && s.health === 'Healthy') return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${name} did not converge: ${JSON.stringify(s)}`);
    await sleep(10);
  }
}

export async function run() {
  const { TestDaemon } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'daemon.js')).href);
  const { GitRepo } = await import(pathToFileURL(join(root, 'dist', 'test', 'helpers', 'git-repo.js')).href);
  const d = new TestDaemon('bench-deploy');
  const repos = [];
  const results = [];
  try {
    await d.start();
    d.importBusybox();
    const pid = Number(readFileSync(join(d.root, 'gantryd.pid'), 'utf8'));
    await sleep(1000);
    const rssBefore = rssMiB(pid);

    // 1. Idle ticks: a synced source with a long interval, polled by `sync` (POST /deploy/NAME/sync waits for the tick).
    const repo = new GitRepo('bench'); repos.push(repo);
    let commit = repo.commit({ 'compose.yaml': stackFile('v0') });
    d.ok(['deploy', 'add', 'idle', '--repo', repo.url, '--interval', '1h']);
    await converged(d, 'idle', commit);
    const walls = [];
    const c0 = cpu(pid);
    for (let i = 0; i < TICKS; i++) { const t = performance.now(); await api(d, 'POST', '/deploy/idle/sync'); walls.push(performance.now() - t); }
    const c1 = cpu(pid);
    const lsRemote = [];
    for (let i = 0; i < TICKS; i++) {
      const t = performance.now();
      execFileSync('git', ['ls-remote', repo.url, 'refs/heads/main'], { env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
      lsRemote.push(performance.now() - t);
    }
    const pings = [];
    for (let i = 0; i < TICKS; i++) { const t = performance.now(); await api(d, 'GET', '/_ping').catch(() => undefined); pings.push(performance.now() - t); }
    results.push(
      { name: 'idle tick: wall p50 (sync over the API)', value: pct(walls, 50), unit: 'ms', note: `p95 ${pct(walls, 95).toFixed(1)} ms; target <= 30 ms` },
      { name: 'idle tick: daemon CPU', value: ((c1.self - c0.self) / TICKS) * 1000, unit: 'ms', note: `+ git children ${(((c1.children - c0.children) / TICKS) * 1000).toFixed(1)} ms; /proc stat, 10 ms ticks, mean of ${TICKS}` },
      { name: 'baseline: bare git ls-remote p50', value: pct(lsRemote, 50), unit: 'ms', note: `p95 ${pct(lsRemote, 95).toFixed(1)} ms (spawned from the bench)` },
      { name: 'baseline: GET /_ping p50', value: pct(pings, 50), unit: 'ms' },
    );

    // 2. Push → converged with a 1 s interval (one service changes its command: recreated).
    d.ok(['deploy', 'rm', 'idle', '--down']);
    d.ok(['deploy', 'add', 'push', '--repo', repo.url, '--interval', '1s']);
    await converged(d, 'push', commit);
    const pushes = [];
    for (let i = 1; i <= PUSHES; i++) {
      await sleep(Math.random() * 1000); // pushes land anywhere in the interval
      const t = performance.now();
      commit = repo.commit({ 'compose.yaml': stackFile(`v${i}`) });
      await converged(d, 'push', commit);
      pushes.push(performance.now() - t);
    }
    const upTimes = [];
    const dir = join(d.dir, 'direct');
    execFileSync('mkdir', ['-p', dir]);
    for (let i = 1; i <= 5; i++) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'compose.yaml'), `name: direct\n${stackFile(`d${i}`)}`);
      const t = performance.now();
      d.ok(['up', '-f', join(dir, 'compose.yaml'), '-d', '--wait', '--progress', 'quiet']);
      upTimes.push(performance.now() - t);
    }
    d.ok(['down', '-f', join(dir, 'compose.yaml'), '--progress', 'quiet']);
    d.ok(['deploy', 'rm', 'push', '--down']);
    results.push(
      { name: 'push -> converged p50 (1 s interval)', value: pct(pushes, 50), unit: 'ms', note: `max ${Math.max(...pushes).toFixed(0)} ms, mean ${mean(pushes).toFixed(0)} ms over ${PUSHES}; target <= interval + 1 s = 2000 ms` },
      { name: 'baseline: gantry up -d --wait of the same change p50', value: pct(upTimes, 50), unit: 'ms', note: 'the CLI process included' },
    );

    // 3. RSS with 20 sources (each its own repository and one-service stack, 1 s interval, all synced and ticking).
    await sleep(1000);
    const rssBase = rssMiB(pid);
    for (let i = 0; i < SOURCES; i++) {
      const r = new GitRepo(`s${i}`); repos.push(r);
      const c = r.commit({ 'compose.yaml': stackFile(`s${i}`) });
      d.ok(['deploy', 'add', `s${i}`, '--repo', r.url, '--interval', '1s']);
      r.first = c;
    }
    for (let i = 0; i < SOURCES; i++) await converged(d, `s${i}`, repos[i + 1].first, 120_000);
    const cpuA = cpu(pid);
    await sleep(10_000);
    const cpuB = cpu(pid);
    const rss20 = rssMiB(pid);
    results.push(
      { name: 'daemon RSS, 20 sources synced', value: rss20, unit: 'MiB', note: `+${(rss20 - rssBase).toFixed(1)} MiB over ${rssBase.toFixed(1)} MiB before them (at start: ${rssBefore.toFixed(1)} MiB); target +20 MiB` },
      { name: 'daemon CPU, 20 sources idle at 1 s', value: ((cpuB.self - cpuA.self) / 10) * 100, unit: '%', note: `of one core over 10 s; git children ${(((cpuB.children - cpuA.children) / 10) * 100).toFixed(1)} %` },
    );
    for (let i = 0; i < SOURCES; i++) d.ok(['deploy', 'rm', `s${i}`, '--down']);
  } finally {
    await d.dispose();
    for (const r of repos) r.remove();
  }
  return { name: 'deploy', results };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run();
  for (const x of r.results) console.log(`${x.name.padEnd(52)} ${x.value.toFixed(1).padStart(8)} ${x.unit}${x.note ? `  (${x.note})` : ''}`);
}
