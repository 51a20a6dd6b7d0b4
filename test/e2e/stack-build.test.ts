// The build check on real images: a multi-stage Dockerfile on the Debian python image (the build stage
// compiles app.py, the final stage copies the .pyc), a stack with `build:` and depends_on a healthy postgres comes
// up with `up --build --wait`, the app answers from postgres; one changed source file rebuilds from its COPY on
// (asserted from the build's own `--progress json` reports) and `up --build` recreates only the app.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, serverImage, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { haveRegistryTools, skopeo, TestRegistry } from '../helpers/registry.js';

const skip = skipReason('root', 'busybox', 'overlayfs') ?? haveRegistryTools() ?? skipReason('mmdebstrap');

const APP = (answer: number): string => `import os, time, psycopg2
for attempt in range(30):
    try:
        conn = psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3)
        break
    except psycopg2.OperationalError:
        time.sleep(1)
cur = conn.cursor()
cur.execute("select ${answer}")
print("answer", cur.fetchone()[0], "from postgres", flush=True)
while True:
    time.sleep(3600)
`;

describe('stack build on real images', { skip }, () => {
  const d = new TestDaemon('e2e-stack-build');
  let registry: TestRegistry | undefined;
  let project = '';
  let base = '';
  const up = (...extra: string[]): string => d.ok(['up', '-d', '--wait', '--project-directory', project, '-f', join(project, 'compose.yaml'), ...extra], { timeoutMs: 240_000 });
  const id = (service: string): string => d.ok(['ps', '-q', '--filter', `label=gantry.service=${service}`]).trim();
  before(async () => {
    registry = await TestRegistry.start();
    const tags: Record<string, string> = {};
    for (const name of ['postgres', 'python'] as const) {
      const image = serverImage(name);
      tags[name] = image.tag;
      skopeo(['copy', '--quiet', ...registry.skopeoFlags('dest'), `oci:${image.ociLayout}:${image.tag}`, `docker://${registry.host}/${name}:${image.tag}`]);
    }
    await d.start();
    base = `${registry.host}/python:${tags['python']}`;
    project = join(d.dir, 'answers');
    mkdirSync(join(project, 'app'), { recursive: true });
    writeFileSync(join(project, 'app', 'app.py'), APP(42));
    writeFileSync(join(project, 'app', 'Dockerfile'), [
      'ARG BASE', 'FROM ${BASE} AS build', 'COPY app.py /src/app.py',
      'RUN mkdir /out && python3 -c "import py_compile; py_compile.compile(\'/src/app.py\', cfile=\'/out/app.pyc\', doraise=True)"',
      'FROM ${BASE}', 'COPY --from=build /out/app.pyc /app/app.pyc', 'CMD ["python3", "/app/app.pyc"]', '',
    ].join('\n'));
    writeFileSync(join(project, 'compose.yaml'), [
      'name: answers',
      'services:',
      '  db:',
      `    image: ${registry.host}/postgres:${tags['postgres']}`,
      '    environment: { POSTGRES_PASSWORD: test-only }',
      '    healthcheck: { test: ["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-U", "postgres"], interval: 1s, timeout: 3s, retries: 60 }',
      '  app:',
      `    build: { context: ./app, args: { BASE: "${registry.host}/python:${tags['python']}" } }`,
      '    environment: { DATABASE_URL: "postgresql://postgres:test-only@db:5432/postgres" }',
      '    depends_on: { db: { condition: service_healthy } }',
      '',
    ].join('\n'));
  });
  after(async () => {
    if (project !== '') d.gantry(['down', '-v', '-t', '0', '--project-directory', project, '-f', join(project, 'compose.yaml')]);
    await d.dispose();
    await registry?.dispose();
  });

  test('up --build --wait builds the multi-stage app on python, it answers from postgres; a changed file rebuilds from its COPY', async () => {
    const first = up('--build');
    assert.match(first, /Step 2\/6 : COPY app.py \/src\/app.py/);
    assert.match(first, /Successfully tagged answers-app/);
    const app = id('app');
    const db = id('db');
    await eventually(() => assert.match(d.ok(['logs', app]), /answer 42 from postgres/), 60_000, 'the app to answer');

    writeFileSync(join(project, 'app', 'app.py'), APP(43));
    // the build's own JSON progress: the steps before the changed COPY are cached, it and every step after it ran
    const rebuilt = d.ok(['build', '--progress', 'json', '-t', 'answers-app', '--build-arg', `BASE=${base}`, join(project, 'app')], { timeoutMs: 240_000 });
    const reports = rebuilt.trim().split('\n').map((l) => JSON.parse(l) as { step?: number; instruction?: string; cached?: boolean }).filter((r) => r.step !== undefined);
    assert.deepEqual(reports.map((r) => [r.instruction, r.cached]), [
      ['FROM ${BASE} AS build', true],
      ['COPY app.py /src/app.py', false],
      ['RUN mkdir /out && python3 -c "import py_compile; py_compile.compile(\'/src/app.py\', cfile=\'/out/app.pyc\', doraise=True)"', false],
      ['FROM ${BASE}', true],
      ['COPY --from=build /out/app.pyc /app/app.pyc', false],
      ['CMD ["python3", "/app/app.pyc"]', false],
    ], rebuilt);
    const second = up('--build');
    assert.equal((second.match(/ ---> Running in /g) ?? []).length, 0, `up --build finds it all in the cache:\n${second}`);
    const third = up('--build');
    assert.equal((third.match(/ ---> Running in /g) ?? []).length, 0, 'unchanged: nothing runs');
    assert.equal((third.match(/ ---> Using cache/g) ?? []).length, 4, third);
    assert.equal(id('db'), db, 'postgres was not recreated');
    const newApp = id('app');
    assert.notEqual(newApp, app);
    await eventually(() => assert.match(d.ok(['logs', newApp]), /answer 43 from postgres/), 60_000, 'the rebuilt app to answer');
  });
});
