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
