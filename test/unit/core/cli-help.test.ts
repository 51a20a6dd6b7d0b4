// Every command answers --help with its own flags (exit 0), without a daemon: GANTRY_HOST points at a socket
// that does not exist, so a command that tried to reach one would fail instead of starting it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../helpers/daemon.js';

const COMMANDS = [
  'run', 'create', 'start', 'stop', 'restart', 'kill', 'rm', 'wait', 'pause', 'unpause', 'ps', 'logs', 'exec', 'top', 'stats',
  'inspect', 'images', 'import', 'tag', 'rmi', 'port', 'version', 'info', 'events', 'daemon', 'help', 'up', 'down',
  'volume', 'volume create', 'volume ls', 'volume rm', 'volume inspect',
  'network', 'network create', 'network ls', 'network rm', 'network inspect', 'network connect', 'network disconnect', 'network prune',
  'stack', 'stack up', 'stack down', 'stack ps', 'stack logs', 'stack config', 'stack exec', 'stack run', 'stack ls', 'stack events',
];

test('every command answers --help with a usage line and exit 0, without a daemon', () => {
  const env = { ...process.env, GANTRY_HOST: 'unix:///nonexistent/gantry-help-test.sock' };
  const wrong: string[] = [];
  for (const c of COMMANDS) {
    const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), ...c.split(' '), '--help'], { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0 || !/^Usage: gantry/m.test(r.stdout)) wrong.push(`gantry ${c} --help: exit ${r.status}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  }
  assert.deepEqual(wrong, []);
});

test('a flag-taking command lists its own flags', () => {
  const env = { ...process.env, GANTRY_HOST: 'unix:///nonexistent/gantry-help-test.sock' };
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), 'up', '--help'], { env, encoding: 'utf8' });
  assert.match(r.stdout, /-V, --renew-anon-volumes/);
  assert.match(r.stdout, /-f, --file VALUE +repeatable/);
  const ps = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'gantry.js'), 'ps', '--help'], { env, encoding: 'utf8' });
  assert.match(ps.stdout, /-a, --all/);
});
