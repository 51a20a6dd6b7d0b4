// Engine core through the CLI, as a user runs it (root, real kernel). One private daemon for the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxTarball, eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

interface Inspect {
  Id: string;
  State: { Status: string; ExitCode: number; OOMKilled: boolean; Running: boolean; Pid: number; Error: string };
  RestartCount: number;
  Config: { Hostname: string };
}

describe('engine core', { skip }, () => {
  const d = new TestDaemon('engine');
  const scratch = mkdtempSync(join(tmpdir(), 'gantry-engine-files-'));

  before(async () => {
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  const inspect = (ref: string): Inspect => (JSON.parse(d.ok(['inspect', ref])) as Inspect[])[0]!;
  const cgroupDirs = (): string[] => ['memory', 'pids', 'cpu', 'freezer'].flatMap((c) => {
    const dir = `/sys/fs/cgroup/${c}/${d.prefix}`;
    return existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${c}/${e.name}`) : [];
  });

  test('run streams output and exits with the container exit code; --rm leaves nothing', () => {
    const r = d.gantry(['run', '--rm', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 3']);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, 'to-out\n');
    assert.equal(r.stderr, 'to-err\n');
    assert.equal(d.ok(['ps', '-aq']).trim(), '');
    assert.deepEqual(cgroupDirs(), []);
  });

  test('containers are isolated: own hostname, pid 1, no host processes or mounts', () => {
    const out = d.ok(['run', '--name', 'iso', 'busybox', 'sh', '-c', 'hostname; echo pid=$$; ps -o pid | wc -l; grep -c . /proc/self/mountinfo; cat /etc/hostname']);
    const [hostname, pid, procs, mounts, etcHostname] = out.trim().split('\n');
    const info = inspect('iso');
    assert.equal(hostname, info.Id.slice(0, 12));
    assert.equal(etcHostname, hostname);
    assert.equal(pid, 'pid=1');
    assert.ok(Number(procs) <= 4, `only the container's processes are visible, saw ${procs} lines`);
    assert.ok(Number(mounts) < 40, `a private mount table, saw ${mounts}`);
    assert.equal(d.ok(['run', '--rm', '-h', 'custom', 'busybox', 'hostname']).trim(), 'custom');
    d.ok(['rm', 'iso']);
  });

  test('writes never change the image; rm removes the writable layer', () => {
    d.ok(['run', '--name', 'writer', 'busybox', 'sh', '-c', 'echo changed > /etc/motd; rm /bin/ls']);
    const id = inspect('writer').Id;
    const upper = join(d.root, 'containers', id, 'upper');
    assert.equal(readFileSync(join(upper, 'etc', 'motd'), 'utf8'), 'changed\n');
    const r = d.gantry(['run', '--rm', 'busybox', 'sh', '-c', 'cat /etc/motd 2>&1; ls / >/dev/null && echo ls-present']);
    assert.match(r.stdout, /No such file/);
    assert.match(r.stdout, /ls-present/);
    d.ok(['rm', 'writer']);
    assert.equal(existsSync(upper), false);
  });

  test('named volumes are shared between containers and survive rm', () => {
    d.ok(['volume', 'create', 'shared']);
    d.ok(['run', '--rm', '-v', 'shared:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    assert.equal(d.ok(['run', '--rm', '-v', 'shared:/mnt:ro', 'busybox', 'cat', '/mnt/f']), 'kept\n');
    assert.match(d.ok(['volume', 'ls']), /shared/);
    const vol = JSON.parse(d.ok(['volume', 'inspect', 'shared'])) as Array<{ Mountpoint: string }>;
    assert.equal(readFileSync(join(vol[0]!.Mountpoint, 'f'), 'utf8'), 'kept\n');
    d.ok(['run', '-d', '--name', 'user', '-v', 'shared:/data', 'busybox', 'sleep', '30']);
    const rm = d.gantry(['volume', 'rm', 'shared']);
    assert.equal(rm.status, 1);
    assert.match(rm.stderr, /in use by container\(s\) user/);
    d.ok(['rm', '-f', 'user']);
    d.ok(['volume', 'rm', 'shared']);
    assert.doesNotMatch(d.ok(['volume', 'ls']), /shared/);
  });

  test('an empty volume mounted over image content gets a copy of it (unless nocopy); image VOLUMEs get anonymous volumes', () => {
    assert.match(d.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/passwd']), /^root:x:0:0:/m);
    const [vol] = JSON.parse(d.ok(['volume', 'inspect', 'etcvol'])) as Array<{ Mountpoint: string }>;
    assert.match(readFileSync(join(vol!.Mountpoint, 'passwd'), 'utf8'), /^root:/m, 'the copy is in the volume');
    d.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'sh', '-c', 'echo mine > /etc/motd']);
    assert.equal(d.ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/motd']), 'mine\n', 'a volume with content is never overwritten');
    const nocopy = d.gantry(['run', '--rm', '-v', 'emptyvol:/etc:nocopy', 'busybox', 'ls', '/etc']);
    assert.equal(nocopy.stdout, '');
    d.ok(['import', '--change', 'VOLUME /data', '--change', 'CMD ["sh"]', busyboxTarball(), 'withvol']);
    const volsBefore = d.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).length;
    d.ok(['run', '--name', 'hasvol', 'withvol', 'sh', '-c', 'echo kept > /data/f']);
    const [info] = JSON.parse(d.ok(['inspect', 'hasvol'])) as Array<{ Mounts: Array<{ Type: string; Destination: string }> }>;
    assert.deepEqual(info!.Mounts.map((m) => [m.Type, m.Destination]), [['volume', '/data']]);
    assert.equal(d.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).length, volsBefore + 1);
    d.ok(['rm', '-v', 'hasvol']);
    assert.equal(d.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean).length, volsBefore, 'rm -v removes the anonymous volume');
    d.ok(['rmi', 'withvol']);
    d.ok(['volume', 'rm', 'etcvol', 'emptyvol']);
  });

  test('bind mounts, read-only binds, tmpfs, read-only rootfs, env, workdir and user', () => {
    writeFileSync(join(scratch, 'in.txt'), 'from host\n');
    writeFileSync(join(scratch, 'env'), '# comment\nFROM_FILE=yes\n');
    assert.equal(d.ok(['run', '--rm', '-v', `${scratch}:/host`, 'busybox', 'sh', '-c', 'cat /host/in.txt; echo back > /host/out.txt']), 'from host\n');
    assert.equal(readFileSync(join(scratch, 'out.txt'), 'utf8'), 'back\n');
    const ro = d.gantry(['run', '--rm', '-v', `${scratch}:/host:ro`, 'busybox', 'sh', '-c', 'echo x > /host/nope']);
    assert.notEqual(ro.status, 0);
    assert.match(ro.stderr, /Read-only file system/);
    const rofs = d.gantry(['run', '--rm', '--read-only', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /tmp/ok && echo tmp-ok; touch /nope']);
    assert.match(rofs.stdout, /tmp-ok/);
    assert.match(rofs.stderr, /Read-only file system/);
    const env = d.ok(['run', '--rm', '-e', 'A=1', '--env-file', join(scratch, 'env'), '-w', '/work/dir', '-u', '65534:65534', 'busybox', 'sh', '-c', 'echo $A $FROM_FILE; pwd; id -u; id -g; exec stat -c %a /']);
    // `/` keeps the image's mode (0755), so a non-root user can run programs.
    assert.equal(env, '1 yes\n/work/dir\n65534\n65534\n755\n');
  });

  test('memory quota: a process allocating past -m is OOM-killed (137, OOMKilled)', () => {
    const r = d.gantry(['run', '--name', 'oom', '-m', '16m', 'busybox', 'sh', '-c', 'tail /dev/zero']);
    assert.equal(r.status, 137);
    const info = inspect('oom');
    assert.equal(info.State.ExitCode, 137);
    assert.equal(info.State.OOMKilled, true);
    d.ok(['rm', 'oom']);
  });

  test('pids quota: a fork loop stops at --pids-limit; cpu quota follows --cpus', async () => {
    d.ok(['run', '-d', '--name', 'forker', '--pids-limit', '8', '--cpus', '0.5', 'busybox', 'sh', '-c', '(while true; do sleep 30 & done); echo forked; exec sleep 30']);
    const id = inspect('forker').Id;
    await eventually(() => assert.match(d.ok(['logs', 'forker']), /forked/), 10_000, 'the loop to finish');
    assert.match(d.gantry(['logs', 'forker']).stderr, /can't fork|Resource temporarily unavailable/);
    const pids = Number(readFileSync(`/sys/fs/cgroup/pids/${d.prefix}/${id}/pids.current`, 'utf8'));
    assert.ok(pids <= 8, `pids.current ${pids} <= 8`);
    assert.equal(readFileSync(`/sys/fs/cgroup/cpu/${d.prefix}/${id}/cpu.cfs_quota_us`, 'utf8').trim(), '50000');
    const top = d.ok(['top', 'forker']);
    assert.match(top, /sleep 30/);
    const stats = d.ok(['stats', '--no-stream', 'forker']);
    assert.match(stats, /forker/);
    d.ok(['rm', '-f', 'forker']);
  });

  test('logs: stored as JSON lines, --tail, -t, -f follows until exit', async () => {
    d.ok(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'echo one; echo two >&2; echo three; sleep 1; echo four']);
    const id = inspect('talker').Id;
    const follow = d.gantryAsync(['logs', '-f', 'talker']);
    const followed = await follow.done;
    assert.equal(followed.stdout, 'one\nthree\nfour\n');
    assert.equal(followed.stderr, 'two\n');
    const lines = readFileSync(join(d.root, 'containers', id, 'log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
    // stdout and stderr are separate pipes: order is kept within a stream, not across them (as with docker).
    assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.log), ['one\n', 'three\n', 'four\n']);
    assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.log), ['two\n']);
    assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time))));
    assert.equal(d.ok(['logs', '--tail', '1', 'talker']), 'four\n');
    assert.match(d.ok(['logs', '-t', '--tail', '1', 'talker']), /^\d{4}-\d\d-\d\dT[\d:.]+Z four\n$/);
    d.ok(['rm', 'talker']);
  });

  test('stop sends the stop signal, then SIGKILL after the grace period; --init forwards signals', () => {
    d.ok(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', 'trap "" TERM; while true; do sleep 1; done']);
    const t0 = Date.now();
    d.ok(['stop', '-t', '1', 'stubborn']);
    const took = Date.now() - t0;
    assert.equal(inspect('stubborn').State.ExitCode, 137);
    assert.ok(took >= 900, `waited the grace period (${took} ms)`);
    d.ok(['run', '-d', '--init', '--name', 'polite', 'busybox', 'sleep', '60']);
    d.ok(['stop', '-t', '5', 'polite']);
    assert.equal(inspect('polite').State.ExitCode, 143, 'sleep got SIGTERM through the init');
    d.ok(['run', '-d', '--name', 'killme', 'busybox', 'sh', '-c', 'trap "exit 42" USR1; while true; do sleep 0.1; done']);
    d.ok(['kill', '-s', 'USR1', 'killme']);
    assert.equal(d.ok(['wait', 'killme']).trim(), '42');
    d.ok(['rm', 'stubborn', 'polite', 'killme']);
  });

  test('init reaps zombies', () => {
    // The inner shell exits at once, so its `sleep` is re-parented to pid 1, which must reap it when it ends.
    const out = d.ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'sh -c "sleep 0.2 &"; sleep 1; ps -o stat,comm']);
    assert.doesNotMatch(out, /^\s*Z/m, `no zombie left:\n${out}`);
    assert.match(out, /ps/);
  });

  test('pause and unpause freeze the processes', () => {
    d.ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'while true; do date +%s%N; sleep 0.05; done']);
    d.ok(['pause', 'ticker']);
    assert.equal(inspect('ticker').State.Status, 'paused');
    const a = d.ok(['logs', 'ticker']).split('\n').length;
    const until = Date.now() + 300;
    while (Date.now() < until) { /* let time pass */ }
    assert.equal(d.ok(['logs', 'ticker']).split('\n').length, a, 'no output while paused');
    d.ok(['unpause', 'ticker']);
    assert.equal(inspect('ticker').State.Status, 'running');
    d.ok(['rm', '-f', 'ticker']);
  });

  test('exec runs in the container with its exit code', () => {
    d.ok(['run', '-d', '--name', 'host1', '-e', 'FROM_RUN=r', 'busybox', 'sleep', '60']);
    const r = d.gantry(['exec', '-e', 'X=1', 'host1', 'sh', '-c', 'echo $X $FROM_RUN $(hostname); exit 4']);
    assert.equal(r.status, 4);
    assert.equal(r.stdout, `1 r ${inspect('host1').Id.slice(0, 12)}\n`);
    assert.equal(d.ok(['exec', '-i', 'host1', 'cat'], { input: 'piped stdin\n' }), 'piped stdin\n');
    const missing = d.gantry(['exec', 'host1', 'nosuchcmd']);
    assert.equal(missing.status, 127);
    d.ok(['rm', '-f', 'host1']);
  });

  test('run -i pipes stdin; restart; ps -q and --format json', () => {
    assert.equal(d.ok(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'tr a-z A-Z'], { input: 'shout\n' }), 'SHOUT\n');
    d.ok(['run', '-d', '--name', 'again', 'busybox', 'sleep', '60']);
    const pid1 = inspect('again').State.Pid;
    d.ok(['restart', '-t', '0', 'again']);
    const after = inspect('again');
    assert.equal(after.State.Status, 'running');
    assert.notEqual(after.State.Pid, pid1);
    assert.equal(d.ok(['ps', '-q']).trim(), after.Id.slice(0, 12));
    const rows = d.ok(['ps', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l) as { Names: string[]; State: string });
    assert.deepEqual(rows.map((r) => [r.Names[0], r.State]), [['/again', 'running']]);
    d.ok(['rm', '-f', 'again']);
  });

  test('bad input gets a clear error and leaves nothing behind', async () => {
    const before = d.ok(['ps', '-aq']);
    const unknown = d.gantry(['run', '--rm', 'nosuchimage', 'true']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no such image|not found/i);
    const badMem = d.gantry(['run', '--rm', '-m', '12zz', 'busybox', 'true']);
    assert.equal(badMem.status, 2);
    assert.match(badMem.stderr, /invalid memory size "12zz"/);
    const badCpu = d.gantry(['run', '--rm', '--cpus', 'lots', 'busybox', 'true']);
    assert.equal(badCpu.status, 2);
    const badBind = d.gantry(['run', '--rm', '-v', '/does/not/exist:/x', 'busybox', 'true']);
    assert.equal(badBind.status, 1);
    assert.match(badBind.stderr, /bind source path does not exist: \/does\/not\/exist/);
    const notFound = d.gantry(['run', '--name', 'nocmd', 'busybox', 'nosuchcmd']);
    assert.equal(notFound.status, 127);
    assert.match(notFound.stderr, /executable file not found/);
    assert.equal(inspect('nocmd').State.ExitCode, 127);
    d.ok(['rm', 'nocmd']);
    const setup = d.gantry(['run', '--rm', '--sysctl', 'net.nonexistent.knob=1', 'busybox', 'true']);
    assert.equal(setup.status, 125, 'a start that fails in the runtime exits 125, like docker');
    assert.match(setup.stderr, /open `\/proc\/sys\/net\/nonexistent\/knob`: ENOENT/, 'the error names the syscall, the object and the errno');
    d.ok(['run', '-d', '--name', 'taken', 'busybox', 'sleep', '30']);
    const dup = d.gantry(['run', '--name', 'taken', 'busybox', 'true']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already in use/);
    const rmRunning = d.gantry(['rm', 'taken']);
    assert.equal(rmRunning.status, 1);
    assert.match(rmRunning.stderr, /stop it first|rm -f/);
    d.ok(['rm', '-f', 'taken']);
    assert.equal(d.ok(['ps', '-aq']), before);
    // a removal's cgroups and its shim's release follow its answer by a moment (the teardown gate)
    await eventually(() => assert.deepEqual(cgroupDirs(), []), 5_000, 'cgroups removed');
    await eventually(() => assert.equal(spawnSync('pgrep', ['-f', `gantry-shim run ${d.root}`], { encoding: 'utf8' }).stdout.trim(), '', 'no shim process left'), 5_000, 'shims gone');
    const noSuch = d.gantry(['stop', 'ghost']);
    assert.equal(noSuch.status, 1);
    assert.match(noSuch.stderr, /no such container: ghost/);
  });
});
