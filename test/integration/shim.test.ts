// The C shim against the real kernel: a busybox container per test, spawned the way the daemon does it.
// Contract: docs/shim-protocol.md.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { requires } from '../helpers/privileged.js';
import {
  MS, SHIM, Shim, ShimClient, TempDir, alive, containerSpec, eventually, killShim, makeBusyboxRoot, readExitFile,
  readLog, type SpecEntry,
} from './shim/harness.js';
import { unifiedView } from '../../src/engine/cgroups/view.js';
import { shimProtocol } from '../../src/engine/runtime/shim-socket.js';
import { mountsWithCgroupView } from '../../src/engine/runtime/spec.js';
import { CAPABILITIES } from '../../src/engine/runtime/capabilities.js';

interface Scenario {
  dir: TempDir;
  root: string;
  /** Spawns a shim for the usual busybox container and registers it for cleanup. */
  run(args: readonly string[], extra?: readonly SpecEntry[]): Shim;
  track(s: Shim): Shim;
  clients: ShimClient[];
}

async function scenario(t: TestContext, body: (s: Scenario) => Promise<void>): Promise<void> {
  if (!requires(t, 'root', 'busybox')) return;
  const dir = new TempDir();
  const shims: Shim[] = [];
  const clients: ShimClient[] = [];
  const root = dir.join('root');
  makeBusyboxRoot(root);
  const track = (s: Shim): Shim => { shims.push(s); return s; };
  try {
    await body({ dir, root, clients, track, run: (args, extra = []) => track(Shim.spawn(dir, containerSpec(dir, root, args, extra))) });
  } finally {
    for (const c of clients) c.destroy();
    for (const s of shims) await s.stop();
    dir.remove();
  }
}

const text = (dir: TempDir, stream?: 'stdout' | 'stderr'): string =>
  readLog(dir.join('log')).filter((e) => stream === undefined || e.stream === stream).map((e) => e.log).join('');

async function finished(shim: Shim, dir: TempDir, file = 'exit'): Promise<{ code: number; signal: number }> {
  assert.equal(await shim.waitExit(), 0, `shim exit status (stderr: ${shim.stderr})`);
  const rec = readExitFile(dir.join(file));
  assert.ok(rec, 'exit file written');
  assert.match(rec.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  assert.ok(Math.abs(Date.parse(rec.finishedAt) - Date.now()) < 60_000, 'finished time is now');
  assert.equal(existsSync(dir.join(file === 'exit' ? 'sock' : 'sock-exec')), false, 'socket removed');
  return { code: rec.code, signal: rec.signal };
}

/** `init 1` as the daemon writes it: the shim binary bound at /sbin/gantry-init, exec'd as pid 1. */
const INIT: SpecEntry[] = [
  ['mount', SHIM, '/sbin/gantry-init', 'none', String(MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV), ''],
  ['init', '1'], ['init_path', '/sbin/gantry-init'],
];

/**
 * Runs `dir/spec` the way the daemon does, from a node process that SIGKILLs itself once the shim says `started`
 * (its stdout: the handshake lines). `inherit`: a file that process opens and passes on as fds 3 and 4.
 */
function runShimThenDie(dir: TempDir, inherit?: string): SpawnSyncReturns<string> {
  writeFileSync(dir.join('daemon.mjs'), `
    import { spawn } from 'node:child_process';
    import { openSync } from 'node:fs';
    const extra = process.argv[4] ? [openSync(process.argv[4], 'r')] : [];
    const c = spawn(process.argv[2], ['run', process.argv[3]], { detached: true, stdio: ['pipe', 'pipe', 'pipe', ...extra, ...extra] });
    let out = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (s) => {
      out += s;
      if (out.startsWith('ready ') && !out.includes('go')) { c.stdin.write('go\\n'); out += 'go\\n'; }
      if (out.includes('started')) { process.stdout.write(out); process.kill(process.pid, 'SIGKILL'); }
    });
  `);
  return spawnSync(process.execPath, [dir.join('daemon.mjs'), SHIM, dir.join('spec'), ...(inherit ? [inherit] : [])], { encoding: 'utf8', timeout: 10000 });
}

/** A shell on a tty with stdin open, started, and a client connected and subscribed before its `go`. */
async function startTtyShell({ dir, run, clients }: Scenario): Promise<{ shim: Shim; c: ShimClient }> {
  const shim = run(['sh'], [['tty', '1'], ['stdin', '1']]);
  await shim.ready();
  const c = await ShimClient.connect(dir.join('sock'));
  clients.push(c);
  c.subscribe();
  assert.equal(await shim.go(), 'started');
  return { shim, c };
}

/** A tty session on a connected client: input echoes back, a resize shows in `stty size`, then `exit CODE`. */
async function ttySession(c: ShimClient, [rows, cols]: [number, number], code: number): Promise<void> {
  c.stdin('echo hi\n');
  await eventually(() => /\r\nhi\r\n/.test(c.output()), 'echo output');
  c.resize(rows, cols);
  c.stdin('stty size\n');
  await eventually(() => c.output().includes(`${rows} ${cols}\r\n`), 'stty size after resize');
  c.stdin(`exit ${code}\n`);
  await eventually(() => c.exitCode(), 'exit frame');
  assert.equal(c.exitCode(), code);
}

describe('gantry-shim run', () => {
  test('exit code propagates; stdout and stderr land in the log as json-file lines', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'echo out; echo err >&2; printf "tab\\there \\"q\\" back\\\\\\\\slash \\001 \\377\\n"; printf partial; exit 3']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.deepEqual(await finished(shim, dir), { code: 3, signal: 0 });
      const log = readLog(dir.join('log'));
      // stdout and stderr are separate pipes: order is kept within a stream only
      assert.deepEqual(log.filter((e) => e.stream === 'stdout').map((e) => e.log),
        ['out\n', 'tab\there "q" back\\slash \u0001 \ufffd\n', 'partial']);
      assert.deepEqual(log.filter((e) => e.stream === 'stderr').map((e) => e.log), ['err\n']);
      assert.equal(log.length, 4);
      for (const e of log) assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      const raw = readFileSync(dir.join('log'));
      assert.ok(raw.includes(Buffer.from('\\t')) && raw.includes(Buffer.from('\\u0001')), 'control characters escaped');
      assert.ok(raw.includes(Buffer.from([0x20, 0xff, 0x5c, 0x6e])), 'invalid UTF-8 passed through as-is');
    });
  });

  test('hostname and pid 1 inside, no host processes visible, loopback up', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'hostname; echo pid=$$; ps -o pid,comm; ip link show lo']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0);
      const out = text(dir, 'stdout');
      const lines = out.split('\n');
      assert.equal(lines[0], 'shimbox');
      assert.equal(lines[1], 'pid=1');
      const pids = lines.filter((l) => /^\s*\d+ /.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
      assert.deepEqual(pids.sort((a, b) => a - b).slice(0, 1), [1], out);
      assert.ok(pids.length <= 2, `only the container's processes are visible:\n${out}`);
      assert.match(out, /lo: <LOOPBACK,UP/);
      assert.notEqual(execFileSync('hostname', { encoding: 'utf8' }).trim(), 'shimbox', 'host hostname untouched');
    });
  });

  test('overlay: writes go to the upper dir, the lower dir is untouched, nothing is mounted on the host', async (t) => {
    await scenario(t, async ({ dir, root, track }) => {
      for (const d of ['upper', 'work', 'merged']) mkdirSync(dir.join(d));
      const spec = containerSpec(dir, dir.join('merged'), ['sh', '-c', 'echo data > /created; rm /etc/passwd; ls /etc'],
        [['overlay', `lowerdir=${root},upperdir=${dir.join('upper')},workdir=${dir.join('work')}`]]);
      const shim = track(Shim.spawn(dir, spec));
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0);
      assert.equal(readFileSync(dir.join('upper', 'created'), 'utf8'), 'data\n');
      assert.equal(existsSync(dir.join('root', 'created')), false);
      assert.ok(existsSync(dir.join('root', 'etc', 'passwd')), 'lower /etc/passwd still there');
      assert.equal(text(dir, 'stdout'), '', '/etc is empty inside');
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(dir.path), 'no mount on the host');
    });
  });

  test('a read-only bind mount refuses writes', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      mkdirSync(dir.join('data'));
      writeFileSync(dir.join('data', 'hello'), 'hello from the host\n');
      const shim = run(['sh', '-c', 'cat /data/hello; echo x > /data/new'],
        [['mount', dir.join('data'), '/data', '', String(MS.BIND | MS.REC | MS.RDONLY), '']]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.notEqual((await finished(shim, dir)).code, 0);
      assert.equal(text(dir, 'stdout'), 'hello from the host\n');
      assert.match(text(dir, 'stderr'), /Read-only file system/);
      assert.equal(existsSync(dir.join('data', 'new')), false);
    });
  });

  test('command not found: exec-error 127, and the exit file says 127', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['no-such-command']);
      await shim.ready();
      assert.equal(await shim.go(), 'exec-error 127 exec `no-such-command`: ENOENT');
      assert.deepEqual(await finished(shim, dir), { code: 127, signal: 0 });
    });
  });

  test('a failed setup step: setup-error naming the syscall, object and errno; exit file 255', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['true'], [['mount', 'none', '/mnt', 'no-such-fs', '0', '']]);
      await shim.ready();
      assert.equal(await shim.go(), 'setup-error mount `none` on `/mnt`: ENODEV');
      assert.deepEqual(await finished(shim, dir), { code: 255, signal: 0 });
    });
  });

  test('a bad spec fails the handshake naming the key, leaving nothing behind', async (t) => {
    await scenario(t, async ({ dir, root, track }) => {
      const shim = track(Shim.spawn(dir, [...containerSpec(dir, root, ['true']), ['colour', 'blue']]));
      assert.equal(await shim.line(), 'error spec: unknown key `colour`');
      assert.equal(await shim.waitExit(), 1);
      assert.equal(existsSync(dir.join('sock')), false);
    });
  });

  test('tty session over the socket: input echoes back, resize changes `stty size`', async (t) => {
    await scenario(t, async (s) => {
      const { dir } = s;
      const { shim, c } = await startTtyShell(s);
      await ttySession(c, [33, 101], 7);
      assert.deepEqual(await finished(shim, dir), { code: 7, signal: 0 });
      assert.match(text(dir), /hi\r\n/, 'tty output is logged too');
    });
  });

  test('stdin pipe: data and EOF frames reach the process', async (t) => {
    await scenario(t, async ({ dir, run, clients }) => {
      const shim = run(['wc', '-l'], [['stdin', '1']]);
      await shim.ready();
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.subscribe();
      assert.equal(await shim.go(), 'started');
      c.stdin('one\ntwo\nthree\n');
      c.closeStdin();
      await eventually(() => c.exitCode() !== undefined, 'exit frame');
      assert.equal(c.output().trim(), '3');
      assert.equal((await finished(shim, dir)).code, 0);
    });
  });

  test('signal frame delivers SIGTERM to pid 1; kill frame kills with SIGKILL', async (t) => {
    await scenario(t, async ({ dir, run, clients }) => {
      const shim = run(['sh', '-c', 'trap "echo got TERM; exit 42" TERM; echo waiting; while :; do sleep 0.05; done']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      await eventually(() => text(dir).includes('waiting'), 'the trap to be set');
      c.signal(15);
      assert.deepEqual(await finished(shim, dir), { code: 42, signal: 0 });
      assert.match(text(dir), /got TERM/);
      assert.equal(c.exitCode(), 42, 'unsubscribed clients get the exit frame too');
    });
    await scenario(t, async ({ dir, run, clients }) => {
      const shim = run(['sleep', '100']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.killAll();
      assert.deepEqual(await finished(shim, dir), { code: 137, signal: 9 });
    });
  });

  test('the shim holds the container\'s mount and network namespaces; a removal (`d` before `k`) is reported first and releases them when its connection closes', async (t) => {
    const nsFds = (pid: number): string[] => {
      try {
        return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => { try { return [readlinkSync(`/proc/${pid}/fd/${fd}`)]; } catch { return []; } })
          .filter((l) => l.startsWith('mnt:') || l.startsWith('net:')).sort();
      } catch { return []; } // exited
    };
    for (const removal of [false, true]) {
      await scenario(t, async ({ dir, run, clients }) => {
        const shim = run(['sleep', '100']);
        const init = await shim.ready();
        assert.equal(await shim.go(), 'started');
        const held = [readlinkSync(`/proc/${init}/ns/mnt`), readlinkSync(`/proc/${init}/ns/net`)].sort();
        assert.deepEqual(nsFds(shim.pid), held, 'the init\'s mount and network namespaces, held by the shim');
        const c = await ShimClient.connect(dir.join('sock'));
        clients.push(c);
        const other = await ShimClient.connect(dir.join('sock'));
        clients.push(other);
        if (removal) c.send('d');
        c.killAll();
        await eventually(() => c.exitCode() !== undefined, 'exit frame');
        assert.equal(c.exitCode(), 137);
        await eventually(() => other.closed, 'other clients are closed after the exit frame');
        if (!removal) {
          // a kill's exit is reported once the container's mounts are gone
          assert.deepEqual(nsFds(shim.pid), [], 'released before the exit was reported');
        } else {
          // a removal's: reported first; the namespaces go when the daemon closes the connection that sent `d`
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(c.closed, false, 'the removal\'s connection is kept open by the shim');
          assert.deepEqual(nsFds(shim.pid), held, 'still held while that connection is open');
          c.destroy();
        }
        assert.deepEqual(await finished(shim, dir), { code: 137, signal: 9 });
      });
    }
  });

  test('the container runs with the scheduling policy the shim was started with, not the shim\'s SCHED_BATCH', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'grep -E "^policy" /proc/self/sched; sleep 100']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      await eventually(() => text(dir).includes('policy'), 'the policy line');
      assert.match(text(dir), /^policy\s+:\s+0\n/, 'SCHED_OTHER (0), as the test runner');
      assert.match(readFileSync(`/proc/${shim.pid}/sched`, 'utf8'), /^policy\s+:\s+3$/m, 'the shim itself: SCHED_BATCH (3)');
    });
  });

  test('init 1 forwards SIGTERM to the command and reaps orphaned zombies', async (t) => {
    await scenario(t, async ({ dir, run, clients }) => {
      const shim = run(['sh', '-c', '(sleep 0.1 &); sleep 0.5; ps -o pid,stat,comm; echo ready; exec sleep 100'], INIT);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      await eventually(() => text(dir).includes('ready'), 'ps output', 5000);
      const ps = text(dir, 'stdout');
      assert.match(ps, /^\s*1 \S+\s+gantry-init$/m, 'pid 1 is the init');
      assert.match(ps, /^\s*2 \S+\s+sh$/m, 'the command is pid 2');
      assert.doesNotMatch(ps, /^\s*\d+ Z/m, `no zombies:\n${ps}`);
      assert.doesNotMatch(ps, /sleep/, 'the orphaned sleep was reaped');
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.signal(15);
      assert.deepEqual(await finished(shim, dir), { code: 143, signal: 0 });
    });
  });

  test('init 1: pid 1 is /sbin/gantry-init with the container env, its command an argument; no host path', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'tr "\\0" " " </proc/1/cmdline; echo; readlink /proc/1/exe; tr "\\0" "\\n" </proc/1/environ'],
        [...INIT, ['env', 'FOO=bar']]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.deepEqual(await finished(shim, dir), { code: 0, signal: 0 });
      const [cmdline, exe, ...env] = text(dir, 'stdout').trimEnd().split('\n');
      assert.equal(cmdline, `/sbin/gantry-init -- sh -c ${'tr "\\0" " " </proc/1/cmdline; echo; readlink /proc/1/exe; tr "\\0" "\\n" </proc/1/environ'} `);
      assert.equal(exe, '/sbin/gantry-init');
      assert.deepEqual(env, ['PATH=/bin', 'HOME=/', 'FOO=bar'], 'exactly the spec env');
    });
  });

  test('init 1 on a usr-merged root (/sbin a symlink): the init is bound inside the root and runs', async (t) => {
    await scenario(t, async ({ dir, root, run }) => {
      mkdirSync(join(root, 'usr', 'sbin'), { recursive: true });
      symlinkSync('usr/sbin', join(root, 'sbin'));
      const shim = run(['sh', '-c', 'readlink /proc/1/exe; tr "\\0" " " </proc/1/cmdline'], INIT);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.deepEqual(await finished(shim, dir), { code: 0, signal: 0 });
      assert.equal(text(dir, 'stdout'), '/usr/sbin/gantry-init\n/sbin/gantry-init -- sh -c readlink /proc/1/exe; tr "\\0" " " </proc/1/cmdline ');
    });
  });

  test('init 1: a missing command is still exec-error 127, a missing init a setup-error, init without init_path refused', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['no-such-command'], INIT);
      await shim.ready();
      assert.equal(await shim.go(), 'exec-error 127 exec `no-such-command`: ENOENT');
      assert.deepEqual(await finished(shim, dir), { code: 127, signal: 0 });
    });
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['true'], [['init', '1'], ['init_path', '/sbin/gantry-init']]);
      await shim.ready();
      assert.equal(await shim.go(), 'setup-error exec `/sbin/gantry-init`: ENOENT');
      assert.deepEqual(await finished(shim, dir), { code: 255, signal: 0 });
    });
    await scenario(t, async ({ dir, root, track }) => {
      const shim = track(Shim.spawn(dir, containerSpec(dir, root, ['true'], [['init', '1']])));
      assert.equal(await shim.line(), 'error spec: `init` needs `init_path`');
      assert.equal(await shim.waitExit(), 1);
    });
  });

  test('init 1: the command dies of a signal: 128+N; its exit status passes through', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'kill -9 $$'], INIT);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.deepEqual(await finished(shim, dir), { code: 137, signal: 0 });
    });
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'exit 7'], INIT);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.deepEqual(await finished(shim, dir), { code: 7, signal: 0 });
    });
  });

  test('keeps running and logging when the process that spawned it is SIGKILLed', async (t) => {
    await scenario(t, async ({ dir, root }) => {
      const spec = containerSpec(dir, root, ['sh', '-c', 'i=0; while [ $i -lt 15 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done']);
      writeFileSync(dir.join('spec'), Buffer.from(spec.flat().map((s) => `${s}\0`).join('')));
      let shimPid: number | undefined;
      let initPid: number | undefined;
      try {
        const r = runShimThenDie(dir);
        assert.equal(r.signal, 'SIGKILL', `the spawning process died (stderr: ${r.stderr})`);
        const m = /^ready (\d+) (\d+) 1\n/.exec(r.stdout);
        assert.ok(m, r.stdout);
        shimPid = Number(m[1]);
        initPid = Number(m[2]);
        assert.match(r.stdout, /started\n$/);
        assert.ok(alive(shimPid), 'shim outlives its parent');
        const before = readLog(dir.join('log')).length;
        await eventually(() => readLog(dir.join('log')).length > before, 'the log to grow');
        await eventually(() => readExitFile(dir.join('exit')), 'the exit file', 10000);
        assert.equal(readExitFile(dir.join('exit'))?.code, 0);
        assert.equal(readLog(dir.join('log')).length, 15);
        await eventually(() => !alive(shimPid!), 'the shim to exit');
        assert.equal(existsSync(dir.join('sock')), false);
      } finally {
        killShim(undefined, initPid, shimPid); // the shim then exits by itself
        if (shimPid !== undefined) await eventually(() => !alive(shimPid!), 'the shim to exit').catch(() => killShim(shimPid));
      }
    });
  });

  test('holds no fd it inherited beyond 0-2 (a launcher\'s pipe or socket-activation fd of the daemon stays out of every container\'s shim)', async (t) => {
    await scenario(t, async ({ dir, root }) => {
      writeFileSync(dir.join('spec'), Buffer.from(containerSpec(dir, root, ['sleep', '30']).flat().map((s) => `${s}\0`).join('')));
      writeFileSync(dir.join('marker'), '');
      let shimPid: number | undefined;
      let initPid: number | undefined;
      try {
        const r = runShimThenDie(dir, dir.join('marker'));
        const m = /^ready (\d+) (\d+) 1\n/.exec(r.stdout);
        assert.ok(m, `${r.stdout} ${r.stderr}`);
        shimPid = Number(m[1]);
        initPid = Number(m[2]);
        const links = (pid: number): string[] => readdirSync(`/proc/${pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { return ''; } });
        assert.ok(!links(shimPid).includes(dir.join('marker')), `the shim's fds: ${links(shimPid).join(', ')}`);
        assert.ok(!links(initPid).includes(dir.join('marker')), 'nor its container\'s');
      } finally {
        killShim(undefined, initPid, shimPid);
        if (shimPid !== undefined) await eventually(() => !alive(shimPid!), 'the shim to exit').catch(() => killShim(shimPid));
      }
    });
  });

  test('EOF on stdin before go aborts: no process, no socket, no exit file', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sleep', '100']);
      const init = await shim.ready();
      assert.ok(alive(init));
      shim.child.stdin!.end();
      assert.equal(await shim.waitExit(), 1);
      assert.equal(alive(init), false, 'init killed and reaped');
      assert.equal(existsSync(dir.join('sock')), false);
      assert.equal(existsSync(dir.join('exit')), false);
    });
  });

  test('joins cgroups before go and unshares the cgroup namespace', async (t) => {
    if (!existsSync('/sys/fs/cgroup/pids/cgroup.procs')) {
      t.skip('needs the cgroup v1 pids hierarchy');
      return;
    }
    const cg = `/sys/fs/cgroup/pids/gantry-shimtest-${randomBytes(4).toString('hex')}`;
    try {
      await scenario(t, async ({ dir, run }) => {
        mkdirSync(cg);
        const shim = run(['sh', '-c', 'grep pids /proc/self/cgroup'], [['cgroup_procs', `${cg}/cgroup.procs`], ['ns', 'cgroup']]);
        const init = await shim.ready();
        assert.deepEqual(readFileSync(`${cg}/cgroup.procs`, 'utf8').trim().split('\n'), [String(init)], 'init is in the cgroup');
        assert.equal(await shim.go(), 'started');
        assert.equal((await finished(shim, dir)).code, 0);
        assert.match(text(dir), /^\d+:pids:\/$/m, 'the container sees its cgroup as its root');
      });
    } finally {
      if (existsSync(cg)) await eventually(() => { try { rmdirSync(cg); return true; } catch { return false; } }, `rmdir ${cg}`);
    }
  });

  test('cgroup v1, cgroup_self: the init writes 0 to each tasks file itself, before `ready`; an exec\'s process joins too', async (t) => {
    if (!existsSync('/sys/fs/cgroup/pids/tasks') || !existsSync('/sys/fs/cgroup/freezer/tasks')) {
      if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error('required by GANTRY_REQUIRE_PRIVILEGED=1: the cgroup v1 pids and freezer hierarchies');
      t.skip('needs the cgroup v1 pids and freezer hierarchies');
      return;
    }
    const name = `gantry-shimtest-${randomBytes(4).toString('hex')}`;
    const cgs = ['pids', 'freezer'].map((h) => `/sys/fs/cgroup/${h}/${name}`);
    try {
      await scenario(t, async ({ dir, run, track }) => {
        for (const cg of cgs) mkdirSync(cg);
        const shim = run(['sh', '-c', 'grep -E ":(pids|freezer):" /proc/self/cgroup | sort; sleep 100'],
          [...cgs.map((cg): SpecEntry => ['cgroup_self', `${cg}/tasks`]), ['ns', 'cgroup']]);
        const init = await shim.ready();
        for (const cg of cgs) assert.deepEqual(readFileSync(`${cg}/cgroup.procs`, 'utf8').trim().split('\n'), [String(init)], `${cg}: the init is in it at \`ready\``);
        assert.equal(await shim.go(), 'started');
        await eventually(() => text(dir, 'stdout').includes('pids'), 'the container\'s output');
        assert.match(text(dir, 'stdout'), /^\d+:freezer:\/\n\d+:pids:\/$/m, 'the container sees its cgroups as its root');
        const exec = track(Shim.spawn(dir, [
          ['id', 'shimtest-exec'], ['target_pid', String(init)], ['env', 'PATH=/bin'], ['cwd', '/'],
          ['exit_file', dir.join('exit-exec')], ['socket', dir.join('sock-exec')],
          ...cgs.map((cg): SpecEntry => ['cgroup_self', `${cg}/tasks`]),
          ['arg', 'sleep'], ['arg', '100'],
        ], 'exec', 'spec-exec'));
        const execPid = await exec.ready();
        for (const cg of cgs) assert.ok(readFileSync(`${cg}/cgroup.procs`, 'utf8').trim().split('\n').includes(String(execPid)), `${cg}: the exec'd process is in it at \`ready\``);
        assert.equal(await exec.go(), 'started');
        process.kill(execPid, 'SIGKILL');
        await finished(exec, dir, 'exit-exec');
        process.kill(init, 'SIGKILL');
        await finished(shim, dir);
      });
    } finally {
      for (const cg of cgs) if (existsSync(cg)) await eventually(() => { try { rmdirSync(cg); return true; } catch { return false; } }, `rmdir ${cg}`);
    }
  });

  test('cgroup_self that cannot be joined fails the start before `ready`, with the file named; nothing is left', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      // /dev/full takes the open and refuses the write (ENOSPC), as a cgroup removed meanwhile would
      const shim = run(['true'], [['cgroup_self', '/dev/full']]);
      assert.equal(await shim.line(), 'error join cgroup `/dev/full`: ENOSPC');
      assert.equal(await shim.waitExit(), 1);
      assert.equal(existsSync(dir.join('sock')), false);
      assert.equal(existsSync(dir.join('exit')), false);
      const missing = run(['true'], [['cgroup_self', '/sys/fs/cgroup/pids/gantry-shimtest-missing/tasks']]);
      assert.match(await missing.line() ?? '', /^error open `\/sys\/fs\/cgroup\/pids\/gantry-shimtest-missing\/tasks`: ENOENT$/);
      assert.equal(await missing.waitExit(), 1);
    });
  });

  test('user, capabilities and no_new_privs are applied', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'id; grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; pwd'],
        [['user', '65534', '65534'], ['groups', '5,6'], ['caps', '400'], ['no_new_privs', '1'], ['cwd', '/home/nobody']]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0, text(dir));
      assert.equal(text(dir, 'stdout'), [
        'uid=65534(nobody) gid=65534 groups=5,6', 'CapEff:\t0000000000000000', 'CapBnd:\t0000000000000400',
        'NoNewPrivs:\t1', '/home/nobody', ''].join('\n'));
    });
  });

  test('seccomp: a filter is installed before exec, with or without no_new_privs; bad hex fails the handshake, a filter the kernel refuses is a setup-error', async (t) => {
    // ld arch; not x86_64: allow; ld nr; mkdir (83) or mkdirat (258): ERRNO(EACCES); else allow
    const ins = (code: number, jt: number, jf: number, k: number): string => {
      const b = Buffer.alloc(8);
      b.writeUInt16LE(code, 0); b.writeUInt8(jt, 2); b.writeUInt8(jf, 3); b.writeUInt32LE(k >>> 0, 4);
      return b.toString('hex');
    };
    const filter = [ins(0x20, 0, 0, 4), ins(0x15, 0, 4, 0xc000003e), ins(0x20, 0, 0, 0), ins(0x15, 1, 0, 83), ins(0x15, 0, 1, 258),
      ins(0x06, 0, 0, 0x00050000 | 13), ins(0x06, 0, 0, 0x7fff0000)].join('');
    await scenario(t, async ({ dir, root, track }) => {
      const run = (args: string[], extra: Parameters<typeof containerSpec>[3], name: string): Shim => track(Shim.spawn(dir, containerSpec(dir, root, args, extra), 'run', name));
      for (const nnp of ['0', '1']) {
        const shim = run(['sh', '-c', 'grep -E "^(Seccomp|NoNewPrivs)" /proc/self/status; mkdir /tmp/d || echo refused'],
          [['seccomp', filter], ['no_new_privs', nnp], ['user', '65534', '65534'], ['caps', '0']], `spec-sc${nnp}`);
        await shim.ready();
        assert.equal(await shim.go(), 'started');
        assert.equal((await finished(shim, dir)).code, 0, text(dir));
        assert.match(text(dir, 'stdout'), new RegExp(`NoNewPrivs:\t${nnp}\nSeccomp:\t2\nSeccomp_filters:\t1\n`));
        assert.match(text(dir, 'stdout'), /refused\n$/);
        assert.match(text(dir, 'stderr'), /Permission denied/);
      }
      const bad = run(['true'], [['seccomp', 'zz00000000000000']], 'spec-scbad');
      assert.equal(await bad.line(), 'error spec: `seccomp` has a character that is not a lowercase hex digit at 0');
      assert.equal(await bad.waitExit(), 1);
      const odd = run(['true'], [['seccomp', '0600']], 'spec-scodd');
      assert.match(await odd.line() ?? '', /^error spec: `seccomp` must be 1 to 4096 BPF instructions in hex/);
      assert.equal(await odd.waitExit(), 1);
      // a program that does not end in a return: the kernel's checker refuses it
      const refused = run(['true'], [['seccomp', ins(0x20, 0, 0, 0)]], 'spec-screfused');
      await refused.ready();
      assert.equal(await refused.go(), 'setup-error seccomp SECCOMP_SET_MODE_FILTER `1 instructions`: EINVAL');
      assert.deepEqual(await finished(refused, dir), { code: 255, signal: 0 });
    });
  });

  test('read-only rootfs, masks, read-only paths, sysctls, rlimits and oom_score_adj', async (t) => {
    await scenario(t, async ({ dir, root, run }) => {
      mkdirSync(join(root, 'secret'));
      writeFileSync(join(root, 'secret', 'key'), 'hidden\n');
      writeFileSync(join(root, 'etc', 'token'), 'hidden\n');
      mkdirSync(join(root, 'secret2'));
      writeFileSync(join(root, 'secret2', 'key2'), 'hidden\n');
      const shim = run(['sh', '-c', [
        'pwd', 'touch /x 2>&1', 'ls /secret', 'cat /etc/token', 'echo end-of-masks', 'cat /proc/sys/kernel/domainname',
        '(echo x > /proc/sys/kernel/hostname) 2>&1', 'ulimit -n', 'cat /proc/self/oom_score_adj',
        'ls /secret2', 'touch /secret2/y 2>&1', 'grep -E " /secret2? " /proc/self/mountinfo | cut -d" " -f3,5,6'].join('; ')], [
        ['readonly_rootfs', '1'], ['cwd', '/work/here'],
        ['mask', '/secret'], ['mask', '/etc/token'], ['mask', '/no/such/path'], ['ro_path', '/proc/sys'], ['ro_path', '/nope'],
        ['mask', '/secret2'],
        ['sysctl', 'kernel.domainname', 'shimdomain'], ['rlimit', '7', '100', '200'], ['oom_score_adj', '500'],
      ]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0, text(dir));
      const out = text(dir, 'stdout').split('\n');
      assert.equal(out[0], '/work/here', 'missing cwd created before / turned read-only');
      assert.match(out[1]!, /Read-only file system/);
      assert.equal(out[2], 'end-of-masks', 'masked dir is empty and masked file reads empty');
      assert.equal(out[3], 'shimdomain');
      assert.match(out[4]!, /Read-only file system/);
      assert.deepEqual(out.slice(5, 7), ['100', '500']);
      // a second masked directory: empty and read-only too, the same directory bound again (no superblock of its own)
      assert.match(out[7]!, /Read-only file system/, `${out[7]} (ls /secret2 printed nothing before it)`);
      const masks = out.slice(8).filter(Boolean).map((l) => l.split(' '));
      assert.deepEqual(masks.map((m) => m[1]).sort(), ['/secret', '/secret2']);
      assert.equal(masks[0]![0], masks[1]![0], `one filesystem for both masked directories: ${JSON.stringify(masks)}`);
      assert.ok(masks.every((m) => m[2]!.split(',').includes('ro')), JSON.stringify(masks));
      assert.equal(readFileSync(join(root, 'secret', 'key'), 'utf8'), 'hidden\n', 'host files untouched');
    });
  });

  test('masked directories: empty, nothing can be made in them or unmounted, no filesystem of their own, nothing shows in /dev', async (t) => {
    await scenario(t, async ({ dir, root, track }) => {
      for (const d of ['secret', 'secret2']) {
        mkdirSync(join(root, d));
        writeFileSync(join(root, d, 'key'), 'hidden\n');
      }
      // root without CAP_SYS_ADMIN, as a container runs by default
      const caps = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'MKNOD']
        .map((c) => 1n << BigInt(CAPABILITIES.indexOf(c as (typeof CAPABILITIES)[number]))).reduce((a, b) => a | b);
      const script = [
        'for d in /secret /secret2; do echo "== $d"; echo $(ls -a $d); touch $d/f 2>&1; mkdir $d/d 2>&1;',
        'mknod $d/n c 1 3 2>&1; chmod 777 $d 2>&1; umount $d 2>&1; umount -l $d 2>&1; echo $(ls -a $d); done;',
        'echo "== /dev"; echo $(ls -a /dev); echo "== /dev/pts"; echo $(ls -a /dev/pts); echo "== mountinfo"; cat /proc/self/mountinfo'].join(' ');
      const spec = containerSpec(dir, root, ['sh', '-c', script], [['mask', '/secret'], ['mask', '/secret2'], ['caps', caps.toString(16)]]);
      const start = (name: string, entries: SpecEntry[]): Shim => track(Shim.spawn(dir, entries, 'run', name));
      const sections = (): Map<string, string[]> => {
        const m = new Map<string, string[]>();
        let cur: string[] = [];
        for (const l of text(dir, 'stdout').split('\n')) { // a later run's sections replace the earlier ones'
          if (l.startsWith('== ')) m.set(l.slice(3), cur = []); else if (l) cur.push(l);
        }
        return m;
      };
      /** mountinfo: mount point -> [maj:min, root, fstype] */
      const mounts = (lines: string[]): Map<string, [string, string, string]> => new Map(lines.map((l) => {
        const f = l.split(' ');
        return [f[4]!, [f[2]!, f[3]!, f[f.indexOf('-') + 1]!]];
      }));

      const shim = start('devdir', spec);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0, text(dir));
      const out = sections();
      for (const d of ['/secret', '/secret2']) {
        const [before, touch, mkdir, mknod, chmod, umount, umountLazy, after] = out.get(d)!;
        assert.equal(before, '. ..', `${d} shows empty`);
        assert.equal(after, '. ..', `${d} still empty`);
        for (const refused of [touch, mkdir, mknod, chmod]) assert.match(refused!, /Read-only file system/, `${d}: ${refused}`);
        assert.match(umount!, /Operation not permitted/, `${d}: ${umount}`);
        assert.match(umountLazy!, /Operation not permitted/, `${d}: ${umountLazy}`);
      }
      const devEntries = out.get('/dev')![0]!.split(' ');
      assert.deepEqual(devEntries.filter((e) => e.startsWith('.')), ['.', '..'], `nothing hidden in /dev: ${devEntries.join(' ')}`);
      const ptsEntries = out.get('/dev/pts')![0]!.split(' ');
      assert.ok(ptsEntries.includes('ptmx') && !ptsEntries.some((e) => e.includes('mask')), `devpts, nothing else, in /dev/pts: ${ptsEntries.join(' ')}`);
      const info = mounts(out.get('mountinfo')!);
      const dev = info.get('/dev')!;
      for (const d of ['/secret', '/secret2']) {
        const m = info.get(d)!;
        assert.equal(m[0], dev[0], `${d} shows the container's /dev tmpfs, no filesystem of its own: ${JSON.stringify(m)}`);
        assert.equal(m[1], '/pts/.gantry-mask', `${d} shows the directory under /dev/pts: ${JSON.stringify(m)}`);
      }
      const tmpfs = new Set([...info.values()].filter((m) => m[2] === 'tmpfs').map((m) => m[0]));
      assert.equal(tmpfs.size, 1, `one tmpfs superblock (the /dev one): ${JSON.stringify([...info])}`);
      assert.equal(readFileSync(join(root, 'secret', 'key'), 'utf8'), 'hidden\n', 'host files untouched');

      // no mount covers a directory of the /dev tmpfs (no devpts): the masked directories get an empty read-only tmpfs
      const fallback = start('tmpfs', spec.filter((e) => !(e[0] === 'mount' && e[2] === '/dev/pts')));
      await fallback.ready();
      assert.equal(await fallback.go(), 'started');
      assert.equal((await finished(fallback, dir)).code, 0, text(dir));
      const fb = sections();
      const fbInfo = mounts(fb.get('mountinfo')!);
      for (const d of ['/secret', '/secret2']) {
        const [before, touch] = fb.get(d)!;
        assert.equal(before, '. ..', `${d} shows empty`);
        assert.match(touch!, /Read-only file system/, `${d}: ${touch}`);
        assert.equal(fbInfo.get(d)![2], 'tmpfs');
        assert.notEqual(fbInfo.get(d)![0], fbInfo.get('/dev')![0], `${d}: a tmpfs of its own`);
      }
      assert.equal(fbInfo.get('/secret')![0], fbInfo.get('/secret2')![0], 'one tmpfs for both');
      assert.deepEqual(fb.get('/dev')![0]!.split(' ').filter((e) => e.startsWith('.')), ['.', '..'], 'nothing hidden in /dev');
    });
  });

  test('log rotation: at most log_max_files files, each within log_max_size, whole lines, nothing lost', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const maxSize = 100_000;
      const shim = run(['busybox', 'seq', '1', '40000'], [['log_max_size', String(maxSize)], ['log_max_files', '3']]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0);
      assert.equal(existsSync(dir.join('log.3')), false, 'no fourth file');
      const files = ['log.2', 'log.1', 'log'].map((f) => dir.join(f));
      for (const f of files) {
        const raw = readFileSync(f, 'utf8');
        assert.ok(raw.length <= maxSize, `${f}: ${raw.length} bytes`);
        assert.ok(raw.endsWith('}\n'), `${f} ends with a whole line`);
      }
      // Oldest first, the kept entries are one run of whole lines ending at the last one: nothing lost or cut.
      const entries = files.flatMap((f) => readLog(f).map((e) => e.log));
      for (const e of entries) assert.match(e, /^\d+\n$/);
      const numbers = entries.map(Number);
      assert.equal(numbers[numbers.length - 1], 40000);
      numbers.forEach((n, i) => assert.equal(n, numbers[0]! + i, `entry ${i}`));
      assert.ok(numbers.length > 2 * maxSize / 80, `${numbers.length} entries kept`);
    });
  });

  test('a line written in pieces is one log entry (Docker\'s json-file does the same); the unfinished end is logged at exit', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'printf hel; sleep 0.2; printf "lo\\nwor"; sleep 0.2; printf "ld\\n"; printf "no end"']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0);
      assert.deepEqual(readLog(dir.join('log')).map((e) => e.log), ['hello\n', 'world\n', 'no end']);
    });
  });

  test('log_max_files 1: the log is emptied instead of rotated; log_attrs appear in every line', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['busybox', 'seq', '1', '5000'], [['log_max_size', '10000'], ['log_max_files', '1'], ['log_attrs', '{"tag":"web"}']]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0);
      assert.equal(existsSync(dir.join('log.1')), false);
      const raw = readFileSync(dir.join('log'), 'utf8');
      assert.ok(raw.length <= 10000, `${raw.length} bytes`);
      const last = raw.trimEnd().split('\n').pop()!;
      assert.match(last, /^\{"log":"5000\\n","stream":"stdout","attrs":\{"tag":"web"\},"time":"[^"]+"\}$/);
    });
  });

  test('without `log` (driver none) no file is written, and attach clients still get the output', async (t) => {
    await scenario(t, async ({ dir, root, track, clients }) => {
      const spec = containerSpec(dir, root, ['sh', '-c', 'echo quiet; echo loud >&2']).filter((e) => e[0] !== 'log');
      const shim = track(Shim.spawn(dir, spec));
      await shim.ready();
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.subscribe();
      assert.equal(await shim.go(), 'started');
      await eventually(() => c.exitCode() !== undefined, 'exit frame');
      assert.match(c.output(), /quiet/);
      assert.match(c.output(2), /loud/);
      assert.equal((await finished(shim, dir)).code, 0);
      assert.equal(existsSync(dir.join('log')), false);
    });
  });

  test('rotation keys without `log` fail the handshake', async (t) => {
    await scenario(t, async ({ dir, root, track }) => {
      const spec = containerSpec(dir, root, ['true'], [['log_max_size', '1000']]).filter((e) => e[0] !== 'log');
      const shim = track(Shim.spawn(dir, spec));
      assert.equal(await shim.line(), 'error spec: `log_max_size`, `log_max_files` and `log_attrs` need `log`');
      assert.equal(await shim.waitExit(), 1);
    });
  });

  test('a running shim stays under 1 MiB RSS', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sleep', '100']);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      await new Promise((r) => setTimeout(r, 100));
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${shim.pid}/status`, 'utf8'))?.[1]);
      t.diagnostic(`shim VmRSS ${rss} kB`);
      assert.ok(rss > 0 && rss < 1024, `VmRSS ${rss} kB`);
      const c = await ShimClient.connect(dir.join('sock'));
      c.killAll();
      await finished(shim, dir);
      c.destroy();
    });
  });

  test('once started, the shim runs without the kernel\'s stack, and its command line and environment read as before', async (t) => {
    await scenario(t, async (s) => {
      const { dir } = s;
      const { shim, c } = await startTtyShell(s);
      // the loop runs on a stack of its own from before it reads `go` (native/shim/stack.c): the build with musl
      // (static-pie, ET_DYN) on x86-64 and arm64 unmaps the kernel's one; a glibc build keeps it
      const maps = readFileSync(`/proc/${shim.pid}/maps`, 'utf8');
      const status = readFileSync(`/proc/${shim.pid}/status`, 'utf8');
      t.diagnostic(['VmPTE', 'RssAnon'].map((k) => new RegExp(`${k}:\\s+\\d+ kB`).exec(status)?.[0].replace(/\s+/g, ' ')).join(', '));
      if (readFileSync(SHIM).readUInt16LE(16) === 3 && ['x64', 'arm64'].includes(process.arch)) {
        assert.doesNotMatch(maps, /\[stack\]/, 'the kernel\'s stack is unmapped');
      }
      assert.deepEqual(readFileSync(`/proc/${shim.pid}/cmdline`, 'utf8').split('\0'), [SHIM, 'run', dir.join('spec'), '']);
      const environ = readFileSync(`/proc/${shim.pid}/environ`, 'utf8').split('\0').filter((e) => e !== '').sort();
      assert.deepEqual(environ, Object.entries(process.env).map(([k, v]) => `${k}=${v}`).sort(), 'the environment it was given');
      // and the supervision on it works: a tty session, a resize, the exit
      await ttySession(c, [40, 120], 9);
      assert.deepEqual(await finished(shim, dir), { code: 9, signal: 0 });
    });
  });

  test('output and stdin larger than the shim\'s buffers arrive whole, also across the pauses in which it gives its buffers back', async (t) => {
    await scenario(t, async ({ dir, run, clients }) => {
      // CHUNK is 16 KiB: a 40,000-byte line is logged in parts; a partial line waits through a pause of more than
      // a second (the shim gives back its idle buffers after one: not the one holding it); stdin of 100,000 bytes
      // is sent while the process reads nothing for 2 s (the pipe and the shim's queue stay full meanwhile)
      const script = 'printf hel; sleep 1.5; printf "lo\\n"; head -c 40000 /dev/zero | tr "\\0" a; echo; sleep 1.5; ' +
        'echo "stdin $(wc -c)"; head -c 40000 /dev/zero | tr "\\0" b; echo';
      const shim = run(['sh', '-c', script], [['stdin', '1']]);
      await shim.ready();
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.subscribe();
      assert.equal(await shim.go(), 'started');
      c.stdin('x'.repeat(100_000));
      c.closeStdin();
      await eventually(() => c.exitCode() !== undefined, 'exit frame', 15_000);
      const expected = `hello\n${'a'.repeat(40000)}\nstdin 100000\n${'b'.repeat(40000)}\n`;
      assert.equal(c.output(), expected, 'the attached client got every byte, in order');
      assert.equal((await finished(shim, dir)).code, 0);
      const entries = readLog(dir.join('log')).map((e) => e.log);
      assert.equal(entries.join(''), expected, 'the log holds every byte, in order');
      assert.equal(entries[0], 'hello\n', 'the line written across the pause is one entry');
      assert.ok(entries.every((e) => Buffer.byteLength(e) <= 16384), 'a longer line is logged in parts of at most 16 KiB');
    });
  });
});

describe('gantry-shim exec', () => {
  test('joins the container: same hostname and pid namespace; output to clients only', async (t) => {
    await scenario(t, async ({ dir, run, track, clients }) => {
      const shim = run(['sleep', '100']);
      const init = await shim.ready();
      assert.equal(await shim.go(), 'started');
      const exec = track(Shim.spawn(dir, [
        ['id', 'shimtest-exec'], ['target_pid', String(init)], ['env', 'PATH=/bin'], ['cwd', '/'],
        ['exit_file', dir.join('exit-exec')], ['socket', dir.join('sock-exec')],
        ['arg', 'sh'], ['arg', '-c'], ['arg', 'hostname; cat /proc/1/cmdline; echo; echo to-stderr >&2; exit 4'],
      ], 'exec', 'spec-exec'));
      await exec.ready();
      const c = await ShimClient.connect(dir.join('sock-exec'));
      clients.push(c);
      c.subscribe();
      assert.equal(await exec.go(), 'started');
      await eventually(() => c.exitCode() !== undefined, 'exit frame');
      assert.equal(c.exitCode(), 4);
      assert.equal(c.output(1), 'shimbox\nsleep\u0000100\u0000\n');
      assert.equal(c.output(2), 'to-stderr\n');
      assert.deepEqual(await finished(exec, dir, 'exit-exec'), { code: 4, signal: 0 });
      assert.equal(text(dir), '', 'exec output is not logged');
      assert.ok(alive(init), 'the container keeps running');
      const k = await ShimClient.connect(dir.join('sock'));
      clients.push(k);
      k.killAll();
      assert.deepEqual(await finished(shim, dir), { code: 137, signal: 9 });
    });
  });

  test('exec of a missing command: exec-error 127', async (t) => {
    await scenario(t, async ({ dir, run, track }) => {
      const shim = run(['sleep', '100']);
      const init = await shim.ready();
      assert.equal(await shim.go(), 'started');
      const exec = track(Shim.spawn(dir, [
        ['target_pid', String(init)], ['env', 'PATH=/bin'], ['exit_file', dir.join('exit-exec')],
        ['socket', dir.join('sock-exec')], ['arg', 'nope'],
      ], 'exec', 'spec-exec'));
      await exec.ready();
      assert.equal(await exec.go(), 'exec-error 127 exec `nope`: ENOENT');
      assert.deepEqual(await finished(exec, dir, 'exit-exec'), { code: 127, signal: 0 });
    });
  });
});

describe('gantry-shim versions', () => {
  test('the spec version: `version 1`, `2` and `3` first are read, no version counts as 1, a newer one is refused naming both', async (t) => {
    await scenario(t, async ({ dir, root, run, track }) => {
      // Every other test here writes specs without a version, as the daemon did before versions existed.
      const v1 = track(Shim.spawn(dir, [['version', '1'], ...containerSpec(dir, root, ['true'])]));
      await v1.ready();
      assert.equal(await v1.go(), 'started');
      assert.equal((await finished(v1, dir)).code, 0);

      const v2 = track(Shim.spawn(dir, [['version', '2'], ...containerSpec(dir, root, ['true'])], 'run', 'spec-v2'));
      await v2.ready();
      assert.equal(await v2.go(), 'started');
      assert.equal((await finished(v2, dir)).code, 0);

      const v3 = track(Shim.spawn(dir, [['version', '3'], ...containerSpec(dir, root, ['true'])], 'run', 'spec-v3'));
      await v3.ready();
      assert.equal(await v3.go(), 'started');
      assert.equal((await finished(v3, dir)).code, 0);

      // Refused for its version even though a key of that newer format follows, and nothing is left behind.
      const v4 = track(Shim.spawn(dir, [['version', '4'], ...containerSpec(dir, root, ['true']), ['colour', 'blue']], 'run', 'spec4'));
      assert.equal(await v4.line(),
        'error spec: version `4` is not supported: this shim reads spec versions 1 to 3 (the daemon and the shim must come from the same build)');
      assert.equal(await v4.waitExit(), 1);
      assert.equal(existsSync(dir.join('sock')), false);

      const late = run(['true'], [['version', '1']]);
      assert.equal(await late.line(), 'error spec: `version` must be the first entry');
      assert.equal(await late.waitExit(), 1);
    });
  });

  test('the protocol version: announced in `ready`, answered to `v` on stream 5, read by shimProtocol()', async (t) => {
    await scenario(t, async ({ dir, run, clients }) => {
      const shim = run(['sleep', '100']);
      await shim.ready();
      assert.equal(shim.protocol, 1);
      assert.equal(await shim.go(), 'started');
      const c = await ShimClient.connect(dir.join('sock'));
      clients.push(c);
      c.send('v');
      await eventually(() => c.frames.length > 0, 'version answer');
      assert.deepEqual(c.frames.map((f) => [f.stream, f.data.toString()]), [[5, '1\n']]);
      assert.equal(await shimProtocol(dir.join('sock')), 1, 'the daemon side reads it on a connection of its own');
      assert.ok(alive(shim.initPid!), 'asking changes nothing');
      c.killAll();
      assert.deepEqual(await finished(shim, dir), { code: 137, signal: 9 });
    });
  });
});

describe('gantry-shim remount and the cgroup view', () => {
  test('remount runs after the symlinks: a tmpfs is filled, then turns read-only', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['sh', '-c', 'ls -l /mnt; touch /mnt/new 2>&1; grep " /mnt " /proc/self/mountinfo'], [
        ['mount', 'tmpfs', '/mnt', 'tmpfs', String(MS.NOSUID | MS.NODEV | MS.NOEXEC), 'mode=755'],
        ['symlink', 'elsewhere', '/mnt/link'],
        ['remount', '/mnt', String(MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC)],
      ]);
      await shim.ready();
      assert.equal(await shim.go(), 'started');
      assert.equal((await finished(shim, dir)).code, 0, text(dir));
      const out = text(dir, 'stdout');
      assert.match(out, /link -> elsewhere/);
      assert.match(out, /touch: \/mnt\/new: Read-only file system/);
      assert.match(out, / \/mnt ro,nosuid,nodev,noexec,/);
    });
  });

  test('remount of a path that is no mount point: setup-error naming it', async (t) => {
    await scenario(t, async ({ dir, run }) => {
      const shim = run(['true'], [['remount', '/tmp', String(MS.BIND | MS.RDONLY)]]);
      await shim.ready();
      assert.equal(await shim.go(), 'setup-error remount `/tmp`: EINVAL');
      assert.equal((await finished(shim, dir)).code, 255);
    });
  });

  /** Where the host mounts cgroup2, or undefined after skipping the test (an error when privileged tests are required). */
  function cgroup2Mount(t: TestContext): string | undefined {
    const unified = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => / - cgroup2 /.test(l))?.split(' ')[4];
    if (unified !== undefined) return unified;
    if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error('required by GANTRY_REQUIRE_PRIVILEGED=1: a cgroup2 mount');
    t.skip('needs a cgroup2 mount');
    return undefined;
  }

  // clone3 with CLONE_INTO_CGROUP on the real kernel, in the host's cgroup2 mount (this v1 machine has one without
  // controllers at .../unified).
  test('cgroup v2, cgroup_into: the init is cloned into the cgroup and no pid is written; a dir that is no cgroup falls back to the pid', async (t) => {
    const unified = cgroup2Mount(t);
    if (unified === undefined) return;
    const [into, byPid] = ['a', 'b'].map((n) => `${unified}/gantry-shimtest-${randomBytes(4).toString('hex')}-${n}`) as [string, string];
    const members = (cg: string): string[] => readFileSync(`${cg}/cgroup.procs`, 'utf8').split('\n').filter((l) => l !== '');
    try {
      await scenario(t, async ({ dir, run }) => {
        mkdirSync(into);
        mkdirSync(byPid);
        // cgroup_procs names another cgroup: the init ending in `into` shows both that clone3 put it there and that
        // the pid was not written afterwards
        const shim = run(['sleep', '100'], [['cgroup_into', into], ['cgroup_procs', `${byPid}/cgroup.procs`]]);
        const init = await shim.ready();
        assert.deepEqual(members(into), [String(init)], 'cloned into its cgroup');
        assert.deepEqual(members(byPid), [], 'no pid written');
        assert.equal(await shim.go(), 'started');
        process.kill(init, 'SIGKILL');
        await finished(shim, dir);
        // not a cgroup: clone3 is refused, the init is cloned as before and moved by pid
        const plain = dir.join('not-a-cgroup');
        mkdirSync(plain);
        const fallback = run(['sleep', '100'], [['cgroup_into', plain], ['cgroup_procs', `${byPid}/cgroup.procs`]]);
        const init2 = await fallback.ready();
        assert.deepEqual(members(byPid), [String(init2)], 'moved by pid');
        assert.equal(await fallback.go(), 'started');
        process.kill(init2, 'SIGKILL');
        await finished(fallback, dir);
        // refused, and no cgroup_procs: DIR/cgroup.procs, which a plain dir does not have: the start fails, named
        const none = run(['true'], [['cgroup_into', plain]]);
        assert.equal(await none.line(), `error open \`${plain}/cgroup.procs\`: ENOENT`);
        assert.equal(await none.waitExit(), 1);
      });
    } finally {
      for (const cg of [into, byPid]) if (existsSync(cg)) await eventually(() => { try { rmdirSync(cg); return true; } catch { return false; } }, `rmdir ${cg}`);
    }
  });

  // The v2 plan on the real kernel: wherever cgroup2 is mounted (this v1 machine has it at .../unified), a container
  // in its own cgroup and cgroup namespace sees that cgroup as the whole tree, read-only.
  test('the v2 view: cgroup2 at /sys/fs/cgroup shows the container\'s own cgroup as root, read-only', async (t) => {
    const unified = cgroup2Mount(t);
    if (unified === undefined) return;
    const cg = `${unified}/gantry-shimtest-${randomBytes(4).toString('hex')}`;
    try {
      await scenario(t, async ({ dir, run }) => {
        mkdirSync(cg);
        const mounts = mountsWithCgroupView([{ source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY, data: '' }],
          unifiedView(false));
        const shim = run(['sh', '-c', 'cat /proc/self/cgroup; echo procs: $(cat /sys/fs/cgroup/cgroup.procs); ls /sys/fs/cgroup | grep -c "^gantry-shimtest-"; ' +
          'grep " /sys/fs/cgroup " /proc/self/mountinfo; touch /sys/fs/cgroup/x 2>&1'],
        [['cgroup_procs', `${cg}/cgroup.procs`], ['ns', 'cgroup'],
          ...mounts.map((m): SpecEntry => ['mount', m.source, m.target, m.fstype, String(m.flags), m.data])]);
        await shim.ready();
        assert.equal(await shim.go(), 'started');
        assert.equal((await finished(shim, dir)).code, 1, text(dir));
        const out = text(dir, 'stdout');
        assert.match(out, /^0::\/$/m, 'its cgroup is its root');
        assert.match(out, /^procs: 1( \d+)*$/m, 'the root\'s procs are the container\'s, pid 1 first');
        assert.match(out, /^0$/m, 'no sibling cgroups of the host visible');
        assert.match(out, /^\d+ \d+ \d+:\d+ \/ \/sys\/fs\/cgroup ro,nosuid,nodev,noexec,\S* - cgroup2 /m);
        assert.match(out, /touch: \/sys\/fs\/cgroup\/x: Read-only file system/);
      });
    } finally {
      if (existsSync(cg)) await eventually(() => { try { rmdirSync(cg); return true; } catch { return false; } }, `rmdir ${cg}`);
    }
  });
});
