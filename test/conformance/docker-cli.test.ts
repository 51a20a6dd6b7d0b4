// The docker CLI (28.x, default API negotiation) driving a private gantryd: what a Docker user types, and what
// they see (output, exit code, the object afterwards).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_CLI, docker, dockerOk, runClient, spawnClient } from '../helpers/clients.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox', 'docker-cli', 'script');
const uniq = (): string => randomBytes(3).toString('hex');

describe('docker CLI against gantryd', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = new TestDaemon('dockercli');
    d.extraEnv = { GANTRY_CONFIG: join(d.dir, 'config') };
    await d.start();
    d.importBusybox();
  });
  after(async () => { await d?.dispose(); });

  const inspect = (ref: string, format: string): string => dockerOk(d, ['inspect', '-f', format, ref]).trim();

  describe('system', () => {
    test('version: the client negotiates API 1.43 with the server (not the 1.24 fallback)', () => {
      assert.equal(dockerOk(d, ['version', '--format', '{{.Client.APIVersion}}']).trim(), '1.43');
      const server = dockerOk(d, ['version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}/{{.Server.Arch}}']).trim();
      assert.equal(server, '1.43 1.24 linux/amd64');
    });

    test('info: Architecture as uname -m says it, the containers counted', () => {
      assert.equal(dockerOk(d, ['info', '--format', '{{.Architecture}}']).trim(), 'x86_64');
      assert.match(dockerOk(d, ['info']), /Server Version: 0\.1\.0/);
    });
  });

  describe('containers', () => {
    test('run --rm busybox echo hi prints hi, exits 0 and leaves nothing behind', () => {
      const name = `rm-${uniq()}`;
      const r = docker(d, ['run', '--rm', '--name', name, 'busybox', 'echo', 'hi'], { timeoutSeconds: 30 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'hi\n');
      assert.equal(dockerOk(d, ['ps', '-aq', '--filter', `name=${name}`]), '');
    });

    test('run propagates the exit code; stderr stays on stderr', () => {
      const r = docker(d, ['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { timeoutSeconds: 30 });
      assert.equal(r.status, 3);
      assert.equal(r.stdout, 'out\n');
      assert.equal(r.stderr, 'err\n');
    });

    test('run -it gets a terminal and exits with the command\'s code', () => {
      const r = runClient(d, 'script', ['-qec', `${DOCKER_CLI} run -it --rm busybox sh -c '[ -t 0 ] && [ -t 1 ] && echo in-a-tty; exit 2'`, '/dev/null'], { timeoutSeconds: 30 });
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /in-a-tty\r\n/);
    });

    test('create, then start -a: the output and the exit code', () => {
      const name = `sa-${uniq()}`;
      dockerOk(d, ['create', '--name', name, 'busybox', 'sh', '-c', 'echo started; exit 4']);
      assert.equal(inspect(name, '{{.State.Status}}'), 'created');
      const r = docker(d, ['start', '-a', name], { timeoutSeconds: 30 });
      assert.equal(r.status, 4, r.stderr);
      assert.equal(r.stdout, 'started\n');
      assert.equal(dockerOk(d, ['wait', name]).trim(), '4');
      assert.equal(inspect(name, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 4');
      dockerOk(d, ['rm', name]);
    });

    test('run -d, ps, stop, start, restart, kill, pause, unpause, rm -f', () => {
      const name = `life-${uniq()}`;
      const id = dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']).trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.match(dockerOk(d, ['ps', '--format', '{{.Names}} {{.Status}}']), new RegExp(`^${name} Up `, 'm'));
      assert.equal(dockerOk(d, ['stop', '-t', '1', name]).trim(), name);
      assert.equal(inspect(name, '{{.State.Status}}'), 'exited');
      assert.match(dockerOk(d, ['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Status}}']), /^Exited \(137\) /);
      dockerOk(d, ['start', name]);
      assert.equal(inspect(name, '{{.State.Running}}'), 'true');
      const before = inspect(name, '{{.State.StartedAt}}');
      dockerOk(d, ['restart', '-t', '1', name]);
      assert.notEqual(inspect(name, '{{.State.StartedAt}}'), before);
      dockerOk(d, ['pause', name]);
      assert.equal(inspect(name, '{{.State.Status}}'), 'paused');
      dockerOk(d, ['unpause', name]);
      assert.equal(inspect(name, '{{.State.Status}}'), 'running');
      dockerOk(d, ['kill', name]);
      assert.equal(dockerOk(d, ['wait', name]).trim(), '137');
      dockerOk(d, ['rm', '-f', name]);
      assert.equal(docker(d, ['inspect', name]).status, 1);
    });

    test('logs -f follows until the container exits', async () => {
      const name = `logs-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
      const r = docker(d, ['logs', '-f', name], { timeoutSeconds: 30 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'line1\nline2\nline3\n');
      assert.equal(dockerOk(d, ['logs', '--tail', '1', name]), 'line3\n');
      dockerOk(d, ['rm', name]);
    });

    test('inspect shows HostConfig.LogConfig, top lists the process, stats --no-stream a row', () => {
      const name = `ins-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
      try {
        assert.equal(inspect(name, '{{.HostConfig.LogConfig.Type}}'), 'json-file');
        assert.match(dockerOk(d, ['top', name]), /sleep 600/);
        const stats = dockerOk(d, ['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', name]).trim();
        assert.match(stats, new RegExp(`^${name} [\\d.]+[KMG]?i?B / [\\d.]+[KMG]iB 1$`));
      } finally {
        dockerOk(d, ['rm', '-f', name]);
      }
    });

    test('exec: output, -e, -w, the exit code; -it with a terminal', () => {
      const name = `exec-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
      try {
        assert.equal(dockerOk(d, ['exec', '-e', 'GREETING=hello', '-w', '/tmp', name, 'sh', '-c', 'echo $GREETING; pwd']), 'hello\n/tmp\n');
        assert.equal(docker(d, ['exec', name, 'sh', '-c', 'exit 5']).status, 5);
        const r = runClient(d, 'script', ['-qec', `${DOCKER_CLI} exec -it ${name} sh -c '[ -t 1 ] && echo exec-tty'`, '/dev/null'], { timeoutSeconds: 30 });
        assert.equal(r.status, 0, r.stdout);
        assert.match(r.stdout, /exec-tty/);
      } finally {
        dockerOk(d, ['rm', '-f', name]);
      }
    });

    test('attach shows the output of a running container and ends with its exit code', async () => {
      const name = `att-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'trap "exit 7" TERM; while :; do echo tick; sleep 0.2; done']);
      const attached = spawnClient(d, DOCKER_CLI, ['attach', '--no-stdin', name], { timeoutSeconds: 30 });
      await eventually(() => assert.match(attached.output(), /tick\n/), 15_000, 'attached output');
      dockerOk(d, ['stop', '-t', '5', name]);
      const r = await attached.done;
      assert.equal(r.status, 7, r.stderr);
      dockerOk(d, ['rm', name]);
    });

    test('rename of a running container: inspect and DNS follow', () => {
      const net = `rn-${uniq()}`;
      const name = `ren-${uniq()}`;
      dockerOk(d, ['network', 'create', net]);
      try {
        dockerOk(d, ['run', '-d', '--name', name, '--network', net, 'busybox', 'sleep', '600']);
        const ip = inspect(name, `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`);
        dockerOk(d, ['rename', name, `${name}-new`]);
        assert.equal(inspect(`${name}-new`, '{{.Name}} {{.State.Status}}'), `/${name}-new running`);
        const lookup = dockerOk(d, ['run', '--rm', '--network', net, 'busybox', 'nslookup', `${name}-new`]);
        assert.match(lookup, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\\b`));
        const old = docker(d, ['run', '--rm', '--network', net, 'busybox', 'nslookup', name]);
        assert.doesNotMatch(old.stdout, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\\b`), 'the old name is gone');
      } finally {
        docker(d, ['rm', '-f', name, `${name}-new`]);
        dockerOk(d, ['network', 'rm', net]);
      }
    });

    test('update (cpus, memory, restart policy) changes what inspect shows; a field gantry cannot apply is refused', () => {
      const name = `ren-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', `${name}-new`, 'busybox', 'sleep', '600']);
      dockerOk(d, ['update', '--cpus', '0.5', '--memory', '64m', '--memory-swap', '128m', '--restart', 'on-failure:3', `${name}-new`]);
      assert.equal(inspect(`${name}-new`, '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}'),
        `500000000 ${64 * 1024 * 1024} on-failure:3`);
      const u = docker(d, ['update', '--cpuset-cpus', '0', `${name}-new`]);
      assert.equal(u.status, 1);
      assert.match(u.stderr, /updating CpusetCpus is not supported/);
      dockerOk(d, ['rm', '-f', `${name}-new`]);
    });

    test('port shows the published port; ps shows it too', () => {
      const name = `port-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, '-p', '127.0.0.1::80', 'busybox', 'sleep', '600']);
      try {
        const port = dockerOk(d, ['port', name, '80']).trim();
        assert.match(port, /^127\.0\.0\.1:\d+$/);
        assert.match(dockerOk(d, ['ps', '--filter', `name=${name}`, '--format', '{{.Ports}}']), new RegExp(`${port.replace(/\./g, '\\.')}->80/tcp`));
      } finally {
        dockerOk(d, ['rm', '-f', name]);
      }
    });

    test('ps filters: ancestor, exited, status, --last; an unknown filter is an error, not a silent answer', () => {
      const tag = uniq();
      dockerOk(d, ['run', '--name', `ok-${tag}`, 'busybox', 'true']);
      docker(d, ['run', '--name', `bad-${tag}`, 'busybox', 'sh', '-c', 'exit 9']);
      const names = (args: string[]): string[] => dockerOk(d, ['ps', '-a', ...args, '--format', '{{.Names}}']).split('\n').filter((n) => n.endsWith(tag)).sort();
      assert.deepEqual(names(['--filter', 'exited=9']), [`bad-${tag}`]);
      assert.deepEqual(names(['--filter', 'ancestor=busybox', '--filter', 'status=exited']), [`bad-${tag}`, `ok-${tag}`]);
      assert.deepEqual(dockerOk(d, ['ps', '--last', '1', '--format', '{{.Names}}']).trim(), `bad-${tag}`);
      const r = docker(d, ['ps', '--filter', 'colour=blue']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /invalid filter 'colour'/);
      dockerOk(d, ['rm', `ok-${tag}`, `bad-${tag}`]);
    });

    test('cp both ways, and - as a tar stream both ways', () => {
      const name = `cp-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
      try {
        dockerOk(d, ['exec', name, 'sh', '-c', 'mkdir -p /srv/out && echo made-inside > /srv/out/inside.txt']);
        dockerOk(d, ['cp', `${name}:/srv/out/inside.txt`, join(d.dir, 'inside.txt')]);
        assert.equal(readFileSync(join(d.dir, 'inside.txt'), 'utf8'), 'made-inside\n');
        dockerOk(d, ['cp', `${name}:/srv/out`, join(d.dir, 'outdir')]);
        assert.equal(readFileSync(join(d.dir, 'outdir', 'inside.txt'), 'utf8'), 'made-inside\n');
        writeFileSync(join(d.dir, 'from-host.txt'), 'from-host\n');
        dockerOk(d, ['cp', join(d.dir, 'from-host.txt'), `${name}:/srv/`]);
        assert.equal(dockerOk(d, ['exec', name, 'cat', '/srv/from-host.txt']), 'from-host\n');
        const out = runClient(d, 'sh', ['-c', `${DOCKER_CLI} cp ${name}:/srv/out - | tar -t`]);
        assert.equal(out.status, 0, out.stderr);
        assert.deepEqual(out.stdout.trim().split('\n').sort(), ['out/', 'out/inside.txt']);
        mkdirSync(join(d.dir, 'stream'));
        writeFileSync(join(d.dir, 'stream', 'piped.txt'), 'piped\n');
        const into = runClient(d, 'sh', ['-c', `tar -c -C ${d.dir}/stream piped.txt | ${DOCKER_CLI} cp - ${name}:/srv`]);
        assert.equal(into.status, 0, into.stderr);
        assert.equal(dockerOk(d, ['exec', name, 'cat', '/srv/piped.txt']), 'piped\n');
        const missing = docker(d, ['cp', `${name}:/no/such/file`, d.dir]);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /no such file or directory|not found|No such/i);
      } finally {
        dockerOk(d, ['rm', '-f', name]);
      }
    });

    test('ps -s shows the container\'s own size and the virtual size', () => {
      const name = `size-${uniq()}`;
      dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
      try {
        dockerOk(d, ['exec', name, 'sh', '-c', 'head -c 3000000 /dev/zero > /big']);
        const row = dockerOk(d, ['ps', '-s', '--filter', `name=${name}`, '--format', '{{.Size}}']).trim();
        const m = /^([\d.]+)MB \(virtual ([\d.]+)MB\)$/.exec(row);
        assert.ok(m, `ps -s size column: ${row}`);
        assert.ok(Number(m[1]) >= 3 && Number(m[1]) < 3.5, row);
        assert.ok(Number(m[2]) > Number(m[1]) + 1, `virtual includes the image: ${row}`);
        const sized = JSON.parse(docker(d, ['inspect', '-s', name]).stdout) as Array<{ SizeRw: number; SizeRootFs: number }>;
        assert.ok(sized[0]!.SizeRw >= 3_000_000 && sized[0]!.SizeRootFs > sized[0]!.SizeRw);
      } finally {
        dockerOk(d, ['rm', '-f', name]);
      }
    });
  });

  describe('networks and volumes', () => {
    test('network create, ls, inspect, connect, disconnect, rm', () => {
      const net = `net-${uniq()}`;
      const name = `nc-${uniq()}`;
      dockerOk(d, ['network', 'create', '--label', 'team=a', net]);
      try {
        assert.match(dockerOk(d, ['network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}}']), new RegExp(`^${net}$`, 'm'));
        assert.equal(dockerOk(d, ['network', 'inspect', '-f', '{{json .Options}}', net]).trim(), '{}');
        dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
        dockerOk(d, ['network', 'connect', net, name]);
        assert.match(inspect(name, '{{json .NetworkSettings.Networks}}'), new RegExp(`"${net}"`));
        dockerOk(d, ['network', 'disconnect', net, name]);
        assert.doesNotMatch(inspect(name, '{{json .NetworkSettings.Networks}}'), new RegExp(`"${net}"`));
      } finally {
        docker(d, ['rm', '-f', name]);
        dockerOk(d, ['network', 'rm', net]);
      }
      assert.equal(docker(d, ['network', 'inspect', net]).status, 1);
    });

    test('volume create, ls with filters, inspect, rm', () => {
      const vol = `vol-${uniq()}`;
      dockerOk(d, ['volume', 'create', '--label', 'keep=yes', vol]);
      assert.match(dockerOk(d, ['volume', 'ls', '--filter', 'label=keep=yes', '--format', '{{.Name}}']), new RegExp(`^${vol}$`, 'm'));
      assert.match(dockerOk(d, ['volume', 'ls', '--filter', 'dangling=true', '-q']), new RegExp(`^${vol}$`, 'm'));
      assert.equal(dockerOk(d, ['volume', 'ls', '--filter', `name=${vol}`, '--filter', 'dangling=false', '-q']), '');
      assert.equal(dockerOk(d, ['volume', 'inspect', '-f', '{{.Driver}} {{.Labels.keep}}', vol]).trim(), 'local yes');
      dockerOk(d, ['volume', 'rm', vol]);
      assert.equal(dockerOk(d, ['volume', 'ls', '--filter', `name=${vol}`, '-q']), '');
    });

    test('images with a reference filter', () => {
      assert.match(dockerOk(d, ['images', '--filter', 'reference=busy*', '--format', '{{.Repository}}:{{.Tag}}']), /^busybox:latest$/m);
      assert.equal(dockerOk(d, ['images', '--filter', 'reference=nothing-*', '-q']), '');
    });
  });

  describe('events', () => {
    test('events --since/--until with container and event filters ends by itself', () => {
      const name = `ev-${uniq()}`;
      const since = Math.floor(Date.now() / 1000) - 1;
      dockerOk(d, ['run', '--name', name, 'busybox', 'true']);
      dockerOk(d, ['rm', name]);
      const until = Math.ceil(Date.now() / 1000) + 1;
      const r = docker(d, ['events', '--since', String(since), '--until', String(until), '--filter', `container=${name}`,
        '--filter', 'event=start', '--filter', 'event=die', '--filter', 'event=destroy', '--format', '{{.Status}} {{.Actor.Attributes.name}}'], { timeoutSeconds: 20 });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), [`start ${name}`, `die ${name}`, `destroy ${name}`]);
    });

    test('an unknown events filter is refused', () => {
      const r = docker(d, ['events', '--filter', 'planet=mars', '--until', '0s'], { timeoutSeconds: 20 });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /invalid filter 'planet'/);
    });
  });

  describe('images from containers and archives', () => {
    const tag = uniq();
    const img = `made-${tag}:v1`;
    let name = '';
    before(() => {
      name = `src-${tag}`;
      dockerOk(d, ['run', '--name', name, 'busybox', 'sh', '-c', 'echo committed > /made; rm /bin/vi']);
    });
    after(() => { docker(d, ['rm', '-f', name]); docker(d, ['rmi', '-f', img]); });

    test('diff lists what the container changed', () => {
      const lines = dockerOk(d, ['diff', name]).trim().split('\n');
      assert.ok(lines.includes('A /made'), lines.join('\n'));
      assert.ok(lines.includes('C /bin'), lines.join('\n'));
      assert.ok(lines.includes('D /bin/vi'), lines.join('\n'));
    });

    test('commit -c CMD, then run the new image; history shows the commit', () => {
      const id = dockerOk(d, ['commit', '-c', 'CMD ["cat", "/made"]', '-m', 'conformance', name, img]).trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.equal(dockerOk(d, ['run', '--rm', img]), 'committed\n');
      assert.equal(docker(d, ['run', '--rm', img, 'ls', '/bin/vi']).status, 1, 'the deletion is in the layer');
      const history = dockerOk(d, ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Comment}}', img]).trim().split('\n');
      assert.ok(history.length >= 2, history.join('\n'));
      assert.match(history[0]!, new RegExp(`^${id}\\|.*echo committed.*\\|conformance$`));
      assert.match(dockerOk(d, ['history', 'busybox']), /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT/);
    });

    test('export | tar -t lists the container\'s files', () => {
      const r = runClient(d, 'sh', ['-c', `${DOCKER_CLI} export ${name} | tar -t`]);
      assert.equal(r.status, 0, r.stderr);
      const files = r.stdout.split('\n');
      assert.ok(files.includes('made'), 'the container\'s own file');
      assert.ok(files.includes('bin/sh'), 'the image\'s files');
      assert.ok(!files.includes('bin/vi'), 'not what it deleted');
    });

    test('import a tarball (file and -) with -c CMD, then run it', () => {
      const file = join(d.dir, 'exported.tar');
      const e = runClient(d, 'sh', ['-c', `${DOCKER_CLI} export ${name} > ${file}`]);
      assert.equal(e.status, 0, e.stderr);
      assert.match(dockerOk(d, ['import', '-c', 'CMD ["cat", "/made"]', file, `imported-${tag}:v1`]).trim(), /^sha256:[0-9a-f]{64}$/);
      assert.equal(dockerOk(d, ['run', '--rm', `imported-${tag}:v1`]), 'committed\n');
      const piped = runClient(d, 'sh', ['-c', `${DOCKER_CLI} import - imported-${tag}:v2 < ${file}`]);
      assert.equal(piped.status, 0, piped.stderr);
      assert.equal(dockerOk(d, ['run', '--rm', `imported-${tag}:v2`, 'cat', '/made']), 'committed\n');
      dockerOk(d, ['rmi', `imported-${tag}:v1`, `imported-${tag}:v2`]);
    });

    test('save -o / load -i round trip, and save | load through a pipe', () => {
      dockerOk(d, ['commit', name, img]);
      const file = join(d.dir, 'saved.tar');
      dockerOk(d, ['save', '-o', file, img]);
      dockerOk(d, ['rmi', img]);
      assert.equal(docker(d, ['image', 'inspect', img]).status, 1);
      assert.match(dockerOk(d, ['load', '-i', file]), new RegExp(`Loaded image: ${img}`));
      assert.equal(dockerOk(d, ['run', '--rm', img, 'cat', '/made']), 'committed\n');
      const r = runClient(d, 'sh', ['-c', `${DOCKER_CLI} save busybox | ${DOCKER_CLI} load`]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Loaded image: busybox:latest/);
    });
  });

  describe('prunes and disk usage', () => {
    test('container prune -f removes stopped containers only', () => {
      const tag = uniq();
      dockerOk(d, ['run', '--name', `dead-${tag}`, 'busybox', 'true']);
      dockerOk(d, ['run', '-d', '--name', `live-${tag}`, 'busybox', 'sleep', '600']);
      try {
        const id = inspect(`dead-${tag}`, '{{.Id}}');
        const out = dockerOk(d, ['container', 'prune', '-f']);
        assert.match(out, new RegExp(`^Deleted Containers:\n(.*\n)*${id}\n`, 'm'));
        assert.match(out, /Total reclaimed space: [\d.]+k?B/);
        assert.equal(docker(d, ['inspect', `dead-${tag}`]).status, 1);
        assert.equal(inspect(`live-${tag}`, '{{.State.Status}}'), 'running');
      } finally {
        docker(d, ['rm', '-f', `live-${tag}`]);
      }
    });

    test('image prune -f removes a dangling image and keeps tagged ones', () => {
      const name = `dangle-${uniq()}`;
      dockerOk(d, ['run', '--name', name, 'busybox', 'touch', '/x']);
      const id = dockerOk(d, ['commit', name]).trim();
      dockerOk(d, ['rm', name]);
      assert.match(dockerOk(d, ['images', '--filter', 'dangling=true', '-q', '--no-trunc']), new RegExp(id));
      const out = dockerOk(d, ['image', 'prune', '-f']);
      assert.match(out, new RegExp(`deleted: ${id}`));
      assert.match(out, /Total reclaimed space: /);
      assert.equal(docker(d, ['image', 'inspect', id]).status, 1);
      assert.equal(docker(d, ['image', 'inspect', 'busybox']).status, 0);
    });

    test('volume prune -f removes unused anonymous volumes, keeps named ones', () => {
      const name = `anon-${uniq()}`;
      const named = `keep-${uniq()}`;
      dockerOk(d, ['volume', 'create', named]);
      dockerOk(d, ['run', '--name', name, '-v', '/data', 'busybox', 'sh', '-c', 'echo x > /data/f']);
      const anon = inspect(name, '{{range .Mounts}}{{.Name}}{{end}}');
      assert.match(anon, /^[0-9a-f]{64}$/);
      dockerOk(d, ['rm', name]);
      const out = dockerOk(d, ['volume', 'prune', '-f']);
      assert.match(out, new RegExp(`Deleted Volumes:\n(.*\n)*${anon}\n`));
      assert.equal(docker(d, ['volume', 'inspect', anon]).status, 1);
      assert.equal(docker(d, ['volume', 'inspect', named]).status, 0);
      dockerOk(d, ['volume', 'rm', named]);
    });

    test('network prune -f and system prune -f (every prune in turn, the build cache too)', () => {
      const tag = uniq();
      dockerOk(d, ['network', 'create', `unused-${tag}`]);
      assert.match(dockerOk(d, ['network', 'prune', '-f']), new RegExp(`^Deleted Networks:\n(.*\n)*unused-${tag}\n`, 'm'));
      dockerOk(d, ['network', 'create', `unused2-${tag}`]);
      dockerOk(d, ['run', '--name', `stopped-${tag}`, 'busybox', 'true']);
      const id = inspect(`stopped-${tag}`, '{{.Id}}');
      const out = dockerOk(d, ['system', 'prune', '-f']);
      assert.match(out, new RegExp(`Deleted Containers:\n(.*\n)*${id}\n`));
      assert.match(out, new RegExp(`Deleted Networks:\n(.*\n)*unused2-${tag}\n`));
      assert.match(out, /Total reclaimed space: /);
      assert.equal(docker(d, ['image', 'inspect', 'busybox']).status, 0, 'a tagged image stays');
    });

    test('system df and system df -v', () => {
      const name = `df-${uniq()}`;
      dockerOk(d, ['run', '--name', name, 'busybox', 'true']);
      try {
        const df = dockerOk(d, ['system', 'df']);
        assert.match(df, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/m);
        assert.match(df, /^Images +\d+ +\d+ +[\d.]+[kMG]?B +/m);
        assert.match(df, /^Containers +\d+ +\d+ +/m);
        assert.match(df, /^Local Volumes +\d+ +\d+ +/m);
        const v = dockerOk(d, ['system', 'df', '-v']);
        assert.match(v, /Images space usage:/);
        assert.match(v, /^busybox +latest +/m);
        assert.match(v, new RegExp(`Containers space usage:[\\s\\S]* ${name}\\b`));
        assert.match(v, /Local Volumes space usage:/);
      } finally {
        dockerOk(d, ['rm', name]);
      }
    });
  });

  describe('registries', { skip: haveRegistryTools() }, () => {
    test('push to a loopback registry, rmi, pull back and run', async () => {
      const reg = await TestRegistry.start();
      try {
        const ref = `${reg.host}/conf/busybox:plain`;
        dockerOk(d, ['tag', 'busybox', ref]);
        const push = dockerOk(d, ['push', ref], { timeoutSeconds: 120 });
        assert.match(push, /plain: digest: sha256:[0-9a-f]{64} size: \d+/);
        dockerOk(d, ['rmi', ref]);
        const pull = dockerOk(d, ['pull', ref], { timeoutSeconds: 120 });
        assert.match(pull, /Status: (Downloaded newer image|Image is up to date) for /);
        assert.match(pull, new RegExp(`${ref.replace(/[.]/g, '\\.')}\n$`));
        assert.equal(dockerOk(d, ['run', '--rm', ref, 'echo', 'pulled']), 'pulled\n');
        assert.match(dockerOk(d, ['images', '--digests', '--format', '{{.Repository}} {{.Digest}}']), new RegExp(`${reg.host}/conf/busybox sha256:`));
        // pull --all-tags: every tag the registry lists comes down
        dockerOk(d, ['tag', 'busybox', `${reg.host}/conf/busybox:second`]);
        dockerOk(d, ['push', `${reg.host}/conf/busybox:second`], { timeoutSeconds: 120 });
        dockerOk(d, ['rmi', ref, `${reg.host}/conf/busybox:second`]);
        const all = dockerOk(d, ['pull', '--all-tags', `${reg.host}/conf/busybox`], { timeoutSeconds: 120 });
        assert.match(all, /plain/);
        assert.deepEqual(dockerOk(d, ['images', `${reg.host}/conf/busybox`, '--format', '{{.Tag}}']).trim().split('\n').sort(), ['plain', 'second']);
        docker(d, ['rmi', `${reg.host}/conf/busybox:second`]);
        const missing = docker(d, ['pull', `${reg.host}/conf/absent:nope`], { timeoutSeconds: 60 });
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /not found|unknown/i);
        docker(d, ['rmi', ref]);
      } finally {
        await reg.dispose();
      }
    });

    test('login with htpasswd over TLS (CA in certs.d), push, pull; without credentials the pull is refused', async () => {
      const reg = await TestRegistry.start({ users: { alice: 'wonder' }, tls: true });
      try {
        const certs = join(join(d.dir, 'config'), 'certs.d', reg.host);
        mkdirSync(certs, { recursive: true });
        copyFileSync(reg.ca!, join(certs, 'ca.crt'));
        const bad = docker(d, ['login', '-u', 'alice', '-p', 'wrong', reg.host]);
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /unauthorized|401|incorrect/i);
        const ok = dockerOk(d, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wonder\n' });
        assert.match(ok, /Login Succeeded/);
        const ref = `${reg.host}/private/busybox:tls`;
        dockerOk(d, ['tag', 'busybox', ref]);
        assert.match(dockerOk(d, ['push', ref], { timeoutSeconds: 120 }), /tls: digest: sha256:/);
        dockerOk(d, ['rmi', ref]);
        dockerOk(d, ['logout', reg.host]);
        const anon = docker(d, ['pull', ref], { timeoutSeconds: 60 });
        assert.equal(anon.status, 1);
        assert.match(anon.stderr, /unauthorized|authentication required|401/i);
        dockerOk(d, ['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wonder\n' });
        assert.match(dockerOk(d, ['pull', ref], { timeoutSeconds: 120 }), /Downloaded newer image|Image is up to date/);
        docker(d, ['rmi', ref]);
      } finally {
        await reg.dispose();
      }
    });

    test('search is refused with a reason, and the CLI exits non-zero', () => {
      const r = docker(d, ['search', 'busybox']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /search is not supported: registries speak the distribution API, which has no search/);
    });
  });

  test('docker build (classic builder, DOCKER_BUILDKIT=0) of a Dockerfile on stdin; more in docker-build.test.ts', () => {
    const r = docker(d, ['build', '-t', 'fromstdin:1', '-'], { timeoutSeconds: 60, input: 'FROM busybox\nCMD ["echo", "built"]\n', env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Successfully tagged fromstdin:1/);
    assert.equal(dockerOk(d, ['run', '--rm', 'fromstdin:1']).trim(), 'built');
  });
});
