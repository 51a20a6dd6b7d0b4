// Real-world Dockerfiles parse to the expected instruction list (and plan as expected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDockerfile, planStages, platformArgs, type Instruction } from '../../../src/engine/build/index.js';

const dir = join(process.cwd(), 'test', 'fixtures', 'dockerfiles');
const load = (name: string) => parseDockerfile(readFileSync(join(dir, name), 'utf8'), name);
const summary = (i: Instruction): string => `${i.range.line}-${i.range.endLine} ${i.kind}`;

test('go-multistage: BuildKit mounts, platform args, two stages', () => {
  const df = load('go-multistage.Dockerfile');
  assert.equal(df.directives.syntax, 'docker/dockerfile:1');
  assert.deepEqual(df.instructions.map(summary), [
    '3-3 ARG', '4-4 FROM', '5-5 WORKDIR', '6-9 RUN', '10-10 ARG', '11-13 RUN', '15-15 FROM', '16-17 RUN', '18-18 ARG', '19-20 RUN',
    '21-21 USER', '22-22 COPY', '23-23 EXPOSE', '24-24 ENTRYPOINT',
  ]);
  const run = df.instructions[3] as Extract<Instruction, { kind: 'RUN' }>;
  assert.deepEqual(run.mounts.map((m) => `${m.type}:${m.target}`), ['cache:/go/pkg/mod', 'bind:go.sum', 'bind:go.mod']);
  assert.deepEqual(run.command, { form: 'shell', command: 'go mod download -x' });
  const plan = planStages(df, { buildArgs: new Map(), platform: platformArgs({ os: 'linux', arch: 'arm64', variant: 'v8' }) });
  assert.equal(plan.stages[0]?.from.image, 'golang:1.22-alpine');
  assert.equal(plan.stages[0]?.from.platform, 'linux/arm64/v8');
  assert.deepEqual(plan.waves, [[0], [1]]);
});

test('node-app: legacy continuations with a comment inside, LABEL and ENV pairs, HEALTHCHECK', () => {
  const df = load('node-app.Dockerfile');
  assert.deepEqual(df.instructions.map((i) => i.kind), ['FROM', 'LABEL', 'ENV', 'WORKDIR', 'COPY', 'RUN', 'COPY', 'USER', 'EXPOSE', 'HEALTHCHECK', 'STOPSIGNAL', 'CMD']);
  assert.deepEqual((df.instructions[5] as Extract<Instruction, { kind: 'RUN' }>).command, { form: 'shell', command: 'npm ci --omit=dev     && npm cache clean --force' });
  assert.deepEqual((df.instructions[2] as Extract<Instruction, { kind: 'ENV' }>).pairs, [{ key: 'NODE_ENV', value: 'production' }, { key: 'PORT', value: '3000' }]);
  const hc = df.instructions[9] as Extract<Instruction, { kind: 'HEALTHCHECK' }>;
  assert.ok(hc.mode === 'cmd' && hc.retries === 3 && hc.intervalNs === 30e9);
  assert.deepEqual((df.instructions[11] as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'exec', args: ['node', 'server.js'] });
});

test('python-heredoc: RUN and COPY heredocs, SHELL, ONBUILD triggers', () => {
  const df = load('python-heredoc.Dockerfile');
  assert.deepEqual(df.instructions.map(summary), ['2-2 FROM', '3-3 SHELL', '4-4 ENV', '5-10 RUN', '11-14 COPY', '15-15 VOLUME', '16-16 ONBUILD', '17-17 ONBUILD', '18-18 WORKDIR', '19-19 CMD']);
  const run = df.instructions[3] as Extract<Instruction, { kind: 'RUN' }>;
  assert.equal(run.heredocs[0]?.content, 'set -e\napt-get update\napt-get install -y --no-install-recommends curl\nrm -rf /var/lib/apt/lists/*\n');
  const copy = df.instructions[4] as Extract<Instruction, { kind: 'COPY' }>;
  assert.deepEqual([copy.dest, copy.heredocs[0]?.expand, copy.heredocs[0]?.content], ['/app/app.py', false, 'import os\nprint("hello", os.environ.get("NAME", "$world"))\n']);
  assert.deepEqual(df.instructions.filter((i) => i.kind === 'ONBUILD').map((i) => (i as Extract<Instruction, { kind: 'ONBUILD' }>).trigger.kind), ['COPY', 'RUN']);
});

test('escape-backtick: the escape directive changes continuations; backslashes are plain characters', () => {
  const df = load('escape-backtick.Dockerfile');
  assert.equal(df.directives.escape, '`');
  assert.deepEqual(df.instructions.map(summary), ['3-3 FROM', '4-4 SHELL', '5-5 ENV', '6-6 WORKDIR', '7-7 COPY', '8-11 RUN', '12-12 CMD']);
  assert.deepEqual((df.instructions[2] as Extract<Instruction, { kind: 'ENV' }>).pairs, [{ key: 'APP_HOME', value: 'C:\\app' }]);
  assert.deepEqual((df.instructions[4] as Extract<Instruction, { kind: 'COPY' }>).dest, 'c:\\');
  assert.deepEqual((df.instructions[5] as Extract<Instruction, { kind: 'RUN' }>).command, { form: 'shell', command: 'New-Item -ItemType Directory C:\\Example;     Write-Host "done"     ; dir c:\\' });
  assert.deepEqual((df.instructions[6] as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'exec', args: ['powershell', '-File', 'C:\\app\\run.ps1'] });
});

test('library-style: tab-indented continuations, legacy ENV, multi-source COPY', () => {
  const df = load('library-style.Dockerfile');
  assert.deepEqual(df.instructions.map(summary), [
    '1-1 FROM', '4-8 RUN', '10-10 ENV', '11-11 ENV', '12-13 ENV', '15-15 VOLUME', '16-16 COPY', '17-17 RUN', '18-18 ENTRYPOINT', '19-19 STOPSIGNAL', '20-20 EXPOSE', '21-21 CMD',
  ]);
  assert.match((df.instructions[1] as Extract<Instruction, { kind: 'RUN' }>).command.form === 'shell' ? (df.instructions[1] as { command: { command: string } }).command.command : '', /^set -eux; \tgroupadd -r postgres --gid=999; \tuseradd/);
  assert.equal(df.warnings.filter((w) => /legacy/.test(w.message)).length, 2);
  assert.deepEqual((df.instructions[6] as Extract<Instruction, { kind: 'COPY' }>).sources, ['docker-entrypoint.sh', 'docker-ensure-initdb.sh']);
});
