// `stack convert --to swarm`: the same cases as the Kubernetes golden files, converted to a stack file that
// Docker's own CLI accepts (`docker stack config -c`, no daemon needed), and whose services come back from
// Docker's normalisation as the model has them (image, command after docker's interpolation, replicas).
// The stack files are golden too (test/fixtures/kube/golden/NAME.swarm.yaml; GANTRY_UPDATE_GOLDEN=1 rewrites).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { convertToSwarm } from '../../../src/swarm/convert.js';
import { loadStack, type LoadOptions } from '../../../src/stack/index.js';
import { toYaml } from '../../../src/stack/yaml-out.js';
import { repoRoot } from '../stack/helpers.js';

interface Case { readonly name: string; readonly dir?: string; readonly fixture?: string; readonly env?: Record<string, string>; readonly convert?: unknown }

const root = repoRoot();
const kubeDir = join(root, 'test', 'fixtures', 'kube');
const cases = (JSON.parse(readFileSync(join(kubeDir, 'cases.json'), 'utf8')) as { cases: Case[] }).cases.filter((c) => c.convert === undefined);
const update = process.env['GANTRY_UPDATE_GOLDEN'] === '1';
const docker = ['/usr/local/bin/docker', '/usr/bin/docker'].find((p) => existsSync(p));
const tmp = mkdtempSync(join(tmpdir(), 'gantry-swarm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const c of cases) {
  test(`swarm: ${c.name}`, { skip: docker === undefined && process.env['GANTRY_REQUIRE_PRIVILEGED'] !== '1' ? 'no docker CLI on this machine' : false }, async () => {
    assert.ok(docker !== undefined, 'the docker CLI is required (GANTRY_REQUIRE_PRIVILEGED=1)');
    let dir = join(root, c.dir ?? '.');
    let options: Omit<LoadOptions, 'cwd'> = {};
    if (c.fixture !== undefined) {
      dir = join(root, 'test', 'fixtures', 'stack', c.fixture);
      const { cwd, ...rest } = (JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { options?: Omit<LoadOptions, 'cwd'> & { cwd?: string } }).options ?? {};
      options = rest;
      if (cwd !== undefined) dir = join(dir, cwd);
    }
    const r = await loadStack({ ...options, env: { ...(options.env ?? {}), ...(c.env ?? {}) }, cwd: dir });
    const model = { ...r.model, secrets: Object.fromEntries(Object.entries(r.model.secrets).map(([k, o]) => [k, o.environment !== undefined ? { ...o, content: c.env?.[o.environment] ?? '' } : o])) };
    const out = convertToSwarm(model, r.source);
    const text = toYaml(out.stack);
    const golden = join(kubeDir, 'golden', `${c.name}.swarm.yaml`);
    // Host paths in the file are absolute: the golden file holds them relative to the repository.
    const portable = text.replaceAll(`${root}/`, '$ROOT/');
    if (update) writeFileSync(golden, portable);
    else assert.equal(portable, readFileSync(golden, 'utf8'), `differs from ${relative(root, golden)} (GANTRY_UPDATE_GOLDEN=1 regenerates)`);
    const work = join(tmp, c.name);
    mkdirSync(work, { recursive: true });
    writeFileSync(join(work, 'stack.yaml'), text);
    for (const [name, content] of out.files) {
      mkdirSync(dirname(join(work, name)), { recursive: true });
      writeFileSync(join(work, name), content);
    }
    const d = spawnSync(docker, ['stack', 'config', '-c', join(work, 'stack.yaml')], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${join(tmp, 'no-daemon.sock')}` } });
    assert.equal(d.status, 0, `docker stack config refused it: ${d.stderr}`);
    const back = parse(d.stdout) as { services: Record<string, { image?: string; command?: string[]; deploy?: { replicas?: number } }> };
    for (const [name, s] of Object.entries(model.services)) {
      const got = back.services[name];
      assert.ok(got !== undefined, `service ${name} is in docker's view`);
      assert.equal(got.image, s.image);
      assert.deepEqual(got.command, s.command === undefined ? undefined : [...s.command], `${name}: the command survives docker's interpolation`);
      assert.equal(got.deploy?.replicas, s.deploy.replicas);
    }
  });
}
