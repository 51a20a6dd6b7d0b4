// Every command answers --help with its own flags (exit 0), and never starts a daemon: the commands run with
// autostart forced on (GANTRY_AUTOSTART=1) for a private socket, root and prefix, and no daemon may appear there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PROJECT_ROOT } from '../../helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'gantry-help-'));
const socket = join(dir, 'run', 'gantry.sock');
const helpEnv = { ...process.env, GANTRY_HOST: `unix://${socket}`, GANTRY_ROOT: join(dir, 'root'), GANTRY_PREFIX: 'gantry-helptest', GANTRY_AUTOSTART: '1' };
after(() => {
  // A daemon started by mistake is stopped (and the test below has failed).
  const pidFile = join(dir, 'root', 'gantryd.pid');
  if (existsSync(pidFile)) { try { process.kill(Number(readFileSync(pidFile, 'utf8').trim())); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
});

const COMMANDS = [
  'run', 'create', 'start', 'stop', 'restart', 'kill', 'rm', 'wait', 'pause', 'unpause', 'ps', 'logs', 'exec', 'top', 'stats',
  'inspect', 'images', 'import', 'tag', 'rmi', 'commit', 'history', 'diff', 'export', 'save', 'load', 'cp', 'pull', 'push', 'login', 'logout', 'port', 'build', 'builder', 'builder prune', 'version', 'info', 'events', 'daemon', 'help', 'up', 'down', 'watch',
  'volume', 'volume create', 'volume ls', 'volume rm', 'volume inspect', 'volume prune', 'image prune', 'container prune',
  'system', 'system df', 'system prune',
  'network', 'network create', 'network ls', 'network rm', 'network inspect', 'network connect', 'network disconnect', 'network prune',
  'deploy', 'deploy add', 'deploy ls', 'deploy status', 'deploy history', 'deploy rollback', 'deploy suspend', 'deploy resume', 'deploy sync', 'deploy rm',
  'stack', 'stack up', 'stack down', 'stack watch', 'stack ps', 'stack logs', 'stack config', 'stack exec', 'stack run', 'stack ls', 'stack events', 'stack pull', 'stack push', 'stack build', 'stack convert', 'stack deploy',
];

// bin/gantry starts from the CLI's start-up snapshot, bin/gantry.js from the modules: both answer alike.
const ENTRIES: Array<[string, (args: string[]) => [string, string[]]]> = [
  ['bin/gantry (snapshot)', (args) => [join(PROJECT_ROOT, 'bin', 'gantry'), args]],
  ['bin/gantry.js (modules)', (args) => [process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), ...args]]],
];

for (const [entry, command] of ENTRIES) test(`every command answers --help with a usage line and exit 0, without a daemon: ${entry}`, () => {
  const env = helpEnv;
  const wrong: string[] = [];
  for (const c of COMMANDS) {
    const [file, argv] = command([...c.split(' '), '--help']);
    const r = spawnSync(file, argv, { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 || !/^Usage: gantry/m.test(r.stdout)) wrong.push(`gantry ${c} --help: exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  }
  assert.deepEqual(wrong, []);
  assert.equal(existsSync(socket), false, 'no daemon was started for --help');
});

test('a flag-taking command lists its own flags', () => {
  const env = helpEnv;
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), 'up', '--help'], { env, encoding: 'utf8' });
  assert.match(r.stdout, /-V, --renew-anon-volumes/);
  assert.match(r.stdout, /-f, --file VALUE +repeatable/);
  const ps = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), 'ps', '--help'], { env, encoding: 'utf8' });
  assert.match(ps.stdout, /-a, --all/);
  const build = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), 'build', '--help'], { env, encoding: 'utf8' });
  for (const flag of [/-t, --tag VALUE +repeatable/, /-f, --file VALUE/, /--build-arg VALUE/, /--target VALUE/, /--no-cache/, /--pull/, /--label VALUE/, /-q, --quiet/, /--iidfile VALUE/, /--progress VALUE/, /--network VALUE/]) assert.match(build.stdout, flag);
});

test('bin/gantry runs from the modules when asked (GANTRY_NO_SNAPSHOT=1) or when the snapshot has no such command', () => {
  const gantry = join(PROJECT_ROOT, 'bin', 'gantry');
  const fromModules = spawnSync(gantry, ['ps', '--help'], { env: { ...helpEnv, GANTRY_NO_SNAPSHOT: '1' }, encoding: 'utf8' });
  const fromSnapshot = spawnSync(gantry, ['ps', '--help'], { env: helpEnv, encoding: 'utf8' });
  assert.equal(fromModules.status, 0);
  assert.equal(fromModules.stdout, fromSnapshot.stdout);
  // the Kubernetes client is not in the snapshot: `stack convert` is handed to the modules, arguments and exit code kept
  const convert = spawnSync(gantry, ['stack', '-f', join(PROJECT_ROOT, 'examples', 'scaled-workers', 'compose.yaml'), 'convert', '--to', 'kubernetes'], { env: helpEnv, encoding: 'utf8' });
  assert.equal(convert.status, 0, convert.stderr);
  assert.match(convert.stdout, /kind: Deployment/);
  const missing = spawnSync(gantry, ['stack', '-f', join(dir, 'missing.yaml'), 'convert', '--to', 'kubernetes'], { env: helpEnv, encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /missing\.yaml/);
});

/**
 * A tree of its own for bin/gantry: the wrapper, the real `blob` with the node that built it and its V8 flags (its
 * stamp with that binary's mtime), and a bin/gantry.js stand-in whose source is `modules`. Removed after `body`.
 */
function withWrapperTree(blob: string, modules: string, body: (tree: string) => void): void {
  const tree = mkdtempSync(join(tmpdir(), 'gantry-wrapper-'));
  try {
    mkdirSync(join(tree, 'bin'));
    mkdirSync(join(tree, 'dist', 'cli'), { recursive: true });
    copyFileSync(join(PROJECT_ROOT, 'bin', 'gantry'), join(tree, 'bin', 'gantry'));
    chmodSync(join(tree, 'bin', 'gantry'), 0o755);
    writeFileSync(join(tree, 'bin', 'gantry.js'), modules);
    copyFileSync(join(PROJECT_ROOT, 'dist', 'cli', blob), join(tree, 'dist', 'cli', blob));
    // The binary (line 1) and the V8 flags the blobs were made under (line 2), as the build wrote them.
    copyFileSync(join(PROJECT_ROOT, 'dist', 'cli', 'node'), join(tree, 'dist', 'cli', 'node'));
    const stamp = join(tree, 'dist', 'cli', 'node.stamp');
    writeFileSync(stamp, '');
    const { atime, mtime } = statSync(process.execPath);
    utimesSync(stamp, atime, mtime);
    body(tree);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

test('bin/gantry runs the blob only with the node binary that built it, unchanged; else the modules', () => {
  withWrapperTree('gantry.blob', 'console.log("from the modules");\n', (tree) => {
    const stamp = join(tree, 'dist', 'cli', 'node.stamp');
    const { atime, mtime } = statSync(process.execPath);
    const run = (): string => spawnSync(join(tree, 'bin', 'gantry'), ['--help'], { env: helpEnv, encoding: 'utf8' }).stdout;
    assert.match(run(), /^Usage: gantry/m, 'the same node binary: the snapshot');
    utimesSync(stamp, atime, new Date(mtime.getTime() - 86_400_000));
    assert.equal(run(), 'from the modules\n', 'the node binary changed since the build (an upgrade)');
    utimesSync(stamp, atime, mtime);
    writeFileSync(join(tree, 'dist', 'cli', 'node'), '/nonexistent/node\n');
    assert.equal(run(), 'from the modules\n', 'the node that built it is gone');
  });
});

test('bin/gantry hands NODE_EXTRA_CA_CERTS on to what the CLI starts, though its own node does not load it', () => {
  // the module build stand-in prints what it was given: `stack convert` is handed to it by the snapshot's main
  withWrapperTree('gantry-stack.blob', 'console.log(`${process.env.NODE_EXTRA_CA_CERTS} ${process.env.GANTRY_NODE_EXTRA_CA_CERTS ?? "-"}`);\n', (tree) => {
    const certs = join(tree, 'extra-ca.pem');
    writeFileSync(certs, '');
    const r = spawnSync(join(tree, 'bin', 'gantry'), ['stack', 'convert'], { env: { ...helpEnv, NODE_EXTRA_CA_CERTS: certs }, encoding: 'utf8' });
    assert.equal(r.stdout, `${certs} -\n`, r.stderr);
  });
});

test('output into a pipe whose reader left ends quietly (gantry … | head), through both entries', async () => {
  const big = join(dir, 'big-stack.yaml');
  const lines = ['name: piped', 'services:'];
  for (let i = 0; i < 400; i++) lines.push(`  svc${i}:`, `    image: "registry.local/svc${i}:1"`, `    command: ["/bin/server", "--id", "${i}"]`, '    environment: [A=1, B=2]');
  writeFileSync(big, `${lines.join('\n')}\n`);
  for (const [entry, command] of ENTRIES) {
    const [file, argv] = command(['stack', '-f', big, 'config']);
    const { spawn } = await import('node:child_process');
    const child = spawn(file, argv, { env: helpEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.stdout.once('data', () => child.stdout.destroy()); // read a little, then leave, like head
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    assert.equal(stderr, '', `${entry}: nothing on stderr`);
    assert.equal(status, 141, entry);
  }
});

test('gantry --version (-v) and version --client print the client\'s version without a daemon, like docker --version', () => {
  const GANTRY_VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const [entry, command] of ENTRIES) {
    for (const flag of ['--version', '-v']) {
      const [file, argv] = command([flag]);
      const r = spawnSync(file, argv, { env: helpEnv, encoding: 'utf8' });
      assert.equal(r.status, 0, `${entry} ${flag}: ${r.stderr}`);
      assert.equal(r.stdout, `Gantry version ${GANTRY_VERSION}\n`, `${entry} ${flag}`);
    }
    const [file, argv] = command(['version', '--client']);
    const r = spawnSync(file, argv, { env: helpEnv, encoding: 'utf8' });
    assert.equal(r.status, 0, `${entry} version --client: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Client:\\n Version: +${GANTRY_VERSION.replaceAll('.', '\\.')}\\n Node: +${process.version}\\n$`), entry);
    const bad = spawnSync(...command(['version', '--bogus']), { env: helpEnv, encoding: 'utf8' });
    assert.notEqual(bad.status, 0, `${entry}: version --bogus is refused`);
  }
  assert.equal(existsSync(socket), false, 'no daemon was started for the client\'s version');
});
