// `gantry stack convert` / `stack deploy` as a user runs them: exit codes, what goes to stdout and stderr.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PROJECT_ROOT } from '../../helpers/daemon.js';

const tmp = mkdtempSync(join(tmpdir(), 'gantry-kube-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const env = { ...process.env, GANTRY_AUTOSTART: '0', NO_COLOR: '1', REGISTRY: 'registry.example.com', KUBECONFIG: join(tmp, 'none') };
const gantry = (cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(join(PROJECT_ROOT, 'bin', 'gantry'), args, { cwd, env, encoding: 'utf8', timeout: 30_000 });

test('convert prints the objects on stdout and the warnings, located, on stderr', () => {
  const r = gantry(join(PROJECT_ROOT, 'examples', 'scaled-workers'), 'stack', 'convert', '--to', 'kubernetes');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'kube', 'golden', 'example-scaled-workers.yaml'), 'utf8'));
  assert.match(r.stderr, /warning\[KUBE_UNMAPPED_KEY\]: `ulimits` is not converted.*\n  --> compose\.yaml:15:5/);
});

test('a host bind mount is a located error: exit 1, nothing on stdout', () => {
  const r = gantry(join(PROJECT_ROOT, 'examples', 'visits'), 'stack', 'convert', '--to', 'kubernetes');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /error\[KUBE_HOST_BIND\]: service "app" bind-mounts a host path at \/app.*\n  --> compose\.yaml:24:9/);
  assert.match(r.stderr, /hint: put a file into a config/);
  assert.match(r.stderr, /2 errors; nothing was converted/);
});

test('-o DIR writes one file per object and removes files of objects gone since', () => {
  const out = join(tmp, 'out');
  const cwd = join(PROJECT_ROOT, 'examples', 'scaled-workers');
  assert.equal(gantry(cwd, 'stack', 'convert', '--to', 'kubernetes', '-o', out).status, 0);
  writeFileSync(join(out, '9-service-gone.yaml'), 'stale');
  writeFileSync(join(out, 'notes.txt'), 'mine');
  assert.equal(gantry(cwd, 'stack', 'convert', '--to', 'kubernetes', '-o', out).status, 0);
  assert.deepEqual(readdirSync(out).sort(), ['1-configmap-worker-env.yaml', '2-service-monitor.yaml', '3-service-worker.yaml', '4-deployment-monitor.yaml', '5-deployment-worker.yaml', 'notes.txt']);
  assert.match(readFileSync(join(out, '5-deployment-worker.yaml'), 'utf8'), /^apiVersion: apps\/v1\nkind: Deployment\nmetadata:\n  name: worker\n/);
});

test('usage errors: no --to, an unknown target, a bad --dry-run (exit 2)', () => {
  const cwd = join(PROJECT_ROOT, 'examples', 'scaled-workers');
  const none = gantry(cwd, 'stack', 'convert');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /missing --to/);
  assert.equal(gantry(cwd, 'stack', 'convert', '--to', 'nomad').status, 2);
  const dry = gantry(cwd, 'stack', 'deploy', '--to', 'kubernetes', '--dry-run=maybe');
  assert.equal(dry.status, 2);
  assert.match(dry.stderr, /--dry-run=server or --dry-run=client/);
});

test('deploy without a usable kubeconfig says which file and what to do', () => {
  const r = gantry(join(PROJECT_ROOT, 'examples', 'scaled-workers'), 'stack', 'deploy', '--to', 'kubernetes', '--kubeconfig', join(tmp, 'missing.yaml'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /Error: cannot load the kubeconfig .*missing\.yaml/);
  assert.match(r.stderr, /hint: give --kubeconfig FILE/);
});

test('--to swarm: inline secrets need -o DIR, which writes stack.yaml and the secret files (0600)', () => {
  const cwd = join(PROJECT_ROOT, 'examples', 'migrate-then-serve');
  const r = gantry(cwd, 'stack', 'convert', '--to', 'swarm');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /secrets\/token, configs\/app_conf must be written beside the stack file: convert with -o DIR/);
  const out = join(tmp, 'swarm');
  const ok = gantry(cwd, 'stack', 'convert', '--to', 'swarm', '-o', out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['configs', 'secrets', 'stack.yaml']);
  assert.equal(statSync(join(out, 'secrets', 'token')).mode & 0o777, 0o600);
  assert.match(readFileSync(join(out, 'stack.yaml'), 'utf8'), /token:\n    name: migrate_token\n    file: \.\/secrets\/token\n/);
  assert.match(ok.stderr, /docker stack deploy -c .*stack\.yaml migrate/);
});
