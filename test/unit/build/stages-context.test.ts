// The stage planner, .dockerignore, the context walker and step cache keys.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { GantryError } from '../../../src/common/errors.js';
import {
  parseDockerfile, planStages, platformArgs, IgnoreMatcher, walkContext, selectSources, contextPath, digestSources, stepCacheKey,
  GlobalScope, StageScope, DockerfileError, ignoreFileCandidates, loadDockerignore, type Instruction,
} from '../../../src/engine/build/index.js';

const platform = platformArgs({ os: 'linux', arch: 'amd64', variant: undefined });
const plan = (text: string, target?: string) => planStages(parseDockerfile(text, 'Dockerfile'), { buildArgs: new Map(), platform, target });

const MULTI = [
  'ARG BASE=alpine', 'FROM $BASE AS deps', 'RUN fetch', 'FROM golang AS build', 'COPY --from=deps /d /d', 'RUN make',
  'FROM alpine AS docs', 'RUN mkdocs', 'FROM build AS test', 'RUN test', 'FROM scratch', 'COPY --from=build /app /app', 'COPY --from=2 /site /site',
].join('\n');

test('planner: target needs, dependency order, parallel waves, skipped stages', () => {
  const p = plan(MULTI);
  assert.equal(p.stages[0]?.from.image, 'alpine');
  assert.equal(p.target.index, 4);
  assert.deepEqual(p.order, [0, 1, 2, 4]);
  assert.deepEqual(p.waves, [[0, 2], [1], [4]]);
  assert.deepEqual(p.skipped, [3]);
  const t = plan(MULTI, 'TEST');
  assert.deepEqual([t.order, t.waves, t.skipped], [[0, 1, 3], [[0], [1], [3]], [2, 4]]);
  assert.deepEqual(p.dependencies.get(1)?.map((d) => (d.kind === 'stage' ? d.index : d.ref)), ['golang', 0]);
  // FROM names only a stage above it: `FROM node AS node` is the image node.
  assert.deepEqual(plan('FROM node AS node\nRUN x\n').dependencies.get(0)?.map((d) => d.kind), ['image']);
});

test('planner: unknown target, unknown stage index, close stage name, cycles are located errors', () => {
  assert.throws(() => plan(MULTI, 'buidl'), (e: unknown) => e instanceof GantryError && /target stage "buidl" could not be found \(did you mean build\?\)/.test(e.message));
  assert.throws(() => plan('FROM a\nCOPY --from=3 /x /x\n'), (e: unknown) => e instanceof DockerfileError && /^Dockerfile:2:1: COPY: --from=3: invalid stage index 3/.test(e.message));
  assert.throws(() => plan('FROM a AS build\nFROM b\nCOPY --from=buidl /x /x\n'), (e: unknown) => e instanceof DockerfileError && /no stage named "buidl" \(did you mean build\?\)/.test(e.message));
  // A stage can use only the stages above it (as in BuildKit), so a loop is reported where it would start.
  assert.throws(() => plan('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n'),
    (e: unknown) => e instanceof DockerfileError && e.code === 'DOCKERFILE_INVALID' && e.message === 'Dockerfile:2:1: COPY: cannot copy from stage "two", it needs to be defined before current stage "one"');
  assert.throws(() => plan('FROM a AS self\nRUN --mount=from=self,target=/s true\n'), (e: unknown) => e instanceof DockerfileError && /circular dependency: stage "self" cannot use itself/.test(e.message));
  assert.throws(() => plan('FROM a\nCOPY --from=0 /x /y\n'), (e: unknown) => e instanceof DockerfileError && /circular dependency: stage "0" cannot use itself/.test(e.message));
  assert.throws(() => plan('ARG S=a\nFROM a AS a1\nFROM b\nCOPY --from=${S}1 /x /y\n'), (e: unknown) => e instanceof DockerfileError && /variable expansion is not supported for --from/.test(e.message));
  // An image reference in --from is an image dependency.
  assert.deepEqual(plan('FROM a\nCOPY --from=nginx:1.25 /etc/nginx /n\n').dependencies.get(0)?.map((d) => d.kind === 'image' && d.ref), ['a', 'nginx:1.25']);
});

test('.dockerignore: Docker rules', () => {
  const m = IgnoreMatcher.fromText(['# comment', ' #not-a-comment', '*.go', '**/*.md', '!README.md', 'docs', '!docs/keep.txt', './build/', '/tmp', 'a\\*b', '  spaced  ', 'x/**/y', 'Case'].join('\n'));
  const cases: [string, boolean][] = [
    ['main.go', true], ['pkg/main.go', false], ['a.md', true], ['sub/b.md', true], ['README.md', false], ['docs', true], ['docs/x', true],
    ['docs/keep.txt', false], ['build', true], ['build/out/x', true], ['tmp/x', true], ['a*b', true], ['axb', false], ['spaced', true],
    ['x/y', true], ['x/a/b/y', true], ['case', false], ['Case', true], ['#not-a-comment', true], ['#comment', false],
  ];
  for (const [path, excluded] of cases) assert.equal(m.excludes(path), excluded, path);
  assert.equal(m.verdict('docs/x').by?.line, 6);
  assert.throws(() => IgnoreMatcher.fromText('!\n'), /illegal exclusion pattern/);
  assert.deepEqual(ignoreFileCandidates('/ctx', '/ctx/sub/Dockerfile.prod'), ['/ctx/sub/Dockerfile.prod.dockerignore', '/ctx/.dockerignore']);
});

const dir = mkdtempSync(join(tmpdir(), 'gantry-build-ctx-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const outside = mkdtempSync(join(tmpdir(), 'gantry-build-outside-'));
after(() => rmSync(outside, { recursive: true, force: true }));

function makeContext(): string {
  const ctx = join(dir, `ctx-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(ctx, 'src', 'lib'), { recursive: true });
  mkdirSync(join(ctx, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM a\n');
  writeFileSync(join(ctx, '.dockerignore'), 'node_modules\n*.log\nDockerfile\n.dockerignore\nsecret.txt\n');
  writeFileSync(join(ctx, 'src', 'a.js'), 'a');
  writeFileSync(join(ctx, 'src', 'lib', 'b.js'), 'b');
  writeFileSync(join(ctx, 'node_modules', 'dep', 'x.js'), 'x');
  writeFileSync(join(ctx, 'debug.log'), 'log');
  writeFileSync(join(ctx, 'secret.txt'), 's');
  writeFileSync(join(outside, 'host-file'), 'host');
  symlinkSync(outside, join(ctx, 'out-link'));
  symlinkSync('src/a.js', join(ctx, 'rel-link'));
  return ctx;
}

test('walker: .dockerignore applied, symlinks listed as links (never followed), Dockerfile kept when asked', async () => {
  const ctx = makeContext();
  const ignore = IgnoreMatcher.fromText('node_modules\n*.log\nDockerfile\n.dockerignore\nsecret.txt\n');
  const listing = await walkContext(ctx, { ignore });
  assert.deepEqual(listing.entries.map((e) => `${e.type}:${e.path}${e.linkTarget === undefined ? '' : `->${e.linkTarget}`}`), [
    `symlink:out-link->${outside}`, 'symlink:rel-link->src/a.js', 'dir:src', 'file:src/a.js', 'dir:src/lib', 'file:src/lib/b.js',
  ]);
  const sent = await walkContext(ctx, { ignore, keep: ['Dockerfile', '.dockerignore'] });
  assert.ok(sent.entries.some((e) => e.path === 'Dockerfile') && sent.entries.some((e) => e.path === '.dockerignore'));
  await assert.rejects(walkContext(ctx, { ignore, limits: { maxEntries: 3, maxBytes: 1e9 } }), (e: unknown) => e instanceof GantryError && e.code === 'TOO_LARGE' && /more than 3 entries \(limit maxEntries/.test(e.message));
  await assert.rejects(walkContext(ctx, { limits: { maxEntries: 1000, maxBytes: 2 } }), (e: unknown) => e instanceof GantryError && /limit maxBytes/.test(e.message));
});

test('sources: ../x refused, globs, missing source explained (and .dockerignore named)', async () => {
  const ctx = makeContext();
  const listing = await walkContext(ctx, { ignore: IgnoreMatcher.fromText('node_modules\n*.log\nsecret.txt\n') });
  assert.throws(() => contextPath('../x'), (e: unknown) => e instanceof GantryError && e.code === 'BUILD_CONTEXT_INVALID' && /outside the build context/.test(e.message));
  assert.equal(contextPath('./src/../src/a.js'), 'src/a.js');
  assert.equal(contextPath('.'), '');
  assert.deepEqual(selectSources(listing, 'src').map((e) => e.path), ['src', 'src/a.js', 'src/lib', 'src/lib/b.js']);
  assert.deepEqual(selectSources(listing, 'src/*.js').map((e) => e.path), ['src/a.js']);
  assert.throws(() => selectSources(listing, 'secret.txt'), (e: unknown) => e instanceof GantryError && e.code === 'BUILD_SOURCE_NOT_FOUND'
    && e.message === 'COPY secret.txt: the file is excluded by .dockerignore (pattern "secret.txt" on line 3)');
  assert.throws(() => selectSources(listing, 'nope.txt'), (e: unknown) => e instanceof GantryError && /no such file or directory in the build context/.test(e.message));
});

test('cache keys: a changed source changes only its COPY and what follows; mtime is not part of it', async () => {
  const ctx = makeContext();
  writeFileSync(join(ctx, 'package.json'), '{}');
  const dockerfile = parseDockerfile('FROM alpine\nCOPY package.json /app/\nRUN npm ci\nCOPY src /app/src\nRUN build\n', 'Dockerfile');
  const keys = async (): Promise<string[]> => {
    const listing = await walkContext(ctx);
    const input = { dockerfile, buildArgs: new Map<string, string>(), platform };
    const scope = new StageScope(input, new GlobalScope(input), []);
    let parent = 'sha256:base';
    const out: string[] = [];
    for (const inst of dockerfile.instructions.slice(1)) {
      const applied = scope.apply(inst);
      const i = applied.instruction as Instruction;
      const sourcesDigest = i.kind === 'COPY' ? await digestSources(listing, i.sources.flatMap((s) => selectSources(listing, s))) : undefined;
      parent = stepCacheKey({ parent, instruction: i, args: applied.args, sourcesDigest });
      out.push(parent);
    }
    return out;
  };
  const first = await keys();
  assert.deepEqual(await keys(), first);
  writeFileSync(join(ctx, 'src', 'lib', 'b.js'), 'b');
  assert.deepEqual(await keys(), first, 'rewriting the same content (new mtime) keeps every key');
  writeFileSync(join(ctx, 'src', 'lib', 'b.js'), 'changed');
  const second = await keys();
  assert.deepEqual(second.slice(0, 2), first.slice(0, 2));
  assert.notEqual(second[2], first[2]);
  assert.notEqual(second[3], first[3]);
  chmodSync(join(ctx, 'package.json'), 0o600);
  assert.notEqual((await keys())[0], second[0], 'a mode change is a change');
  // Position and comments do not matter; the instruction after substitution and the args do.
  const moved = parseDockerfile('FROM alpine\n# comment\n\nRUN  npm ci\n', 'Dockerfile').instructions[1] as Instruction;
  const orig = parseDockerfile('FROM alpine\nRUN  npm ci\n', 'Dockerfile').instructions[1] as Instruction;
  assert.equal(stepCacheKey({ parent: 'p', instruction: moved, args: new Map() }), stepCacheKey({ parent: 'p', instruction: orig, args: new Map() }));
  assert.notEqual(stepCacheKey({ parent: 'p', instruction: orig, args: new Map([['A', '1']]) }), stepCacheKey({ parent: 'p', instruction: orig, args: new Map([['A', '2']]) }));
});

test('sources through symlinks: resolved inside the context, refused when they point out', async () => {
  const ctx = makeContext();
  symlinkSync('../../etc', join(ctx, 'src', 'up'));
  symlinkSync('src', join(ctx, 'src-link'));
  symlinkSync(join(ctx, 'src', 'lib'), join(ctx, 'abs-in'));
  const listing = await walkContext(ctx, {});
  assert.deepEqual(selectSources(listing, 'rel-link').map((e) => e.path), ['src/a.js']);
  assert.deepEqual(selectSources(listing, 'src-link/lib/b.js').map((e) => e.path), ['src/lib/b.js']);
  assert.deepEqual(selectSources(listing, 'abs-in').map((e) => e.path), ['src/lib', 'src/lib/b.js']);
  for (const bad of ['out-link', 'out-link/host-file', 'src/up/passwd']) {
    assert.throws(() => selectSources(listing, bad), (e: unknown) => e instanceof GantryError && e.code === 'BUILD_CONTEXT_INVALID' && /points outside the build context/.test(e.message), bad);
  }
  // A directory copied whole keeps its links as links (listed, never followed).
  assert.ok(selectSources(listing, 'src').some((e) => e.path === 'src/up' && e.type === 'symlink'));
  // --exclude, relative to the source.
  assert.deepEqual(selectSources(listing, 'src', { exclude: IgnoreMatcher.fromText('lib\nup\n') }).map((e) => e.path), ['src', 'src/a.js']);
});

test('NAME.dockerignore beside -f NAME wins over the context .dockerignore', async () => {
  const ctx = makeContext();
  mkdirSync(join(ctx, 'docker'));
  writeFileSync(join(ctx, 'docker', 'app.Dockerfile'), 'FROM a\n');
  writeFileSync(join(ctx, 'docker', 'app.Dockerfile.dockerignore'), 'src\n');
  const own = await loadDockerignore(ctx, join(ctx, 'docker', 'app.Dockerfile'));
  assert.equal(own?.file, join(ctx, 'docker', 'app.Dockerfile.dockerignore'));
  assert.equal(own?.matcher.excludes('src/a.js'), true);
  assert.equal(own?.matcher.excludes('secret.txt'), false);
  const ctxFile = await loadDockerignore(ctx, join(ctx, 'Dockerfile'));
  assert.equal(ctxFile?.file, join(ctx, '.dockerignore'));
  assert.equal(await loadDockerignore(join(ctx, 'src')), undefined);
});

test('FROM whose image substitutes to nothing is a located error', () => {
  assert.throws(() => plan('ARG BASE\nFROM $BASE\n'), (e: unknown) => e instanceof DockerfileError && e.message === 'Dockerfile:2:1: FROM: base name ($BASE) should not be blank');
});

test('property: parse → plan → substitute every stage throws only typed errors', () => {
  const line = fc.constantFrom(
    'FROM a', 'FROM a AS x', 'FROM x AS y', 'FROM $B', 'ARG B=b', 'ARG B', 'COPY --from=x /a /b', 'COPY --from=y /a /b', 'COPY --from=0 /a /b', 'COPY --from=9 /a /b', 'COPY --from=$B /a /b',
    'RUN --mount=from=x,target=/m true', 'ENV A=${B:-z}', 'LABEL l=${A:?no}', 'WORKDIR ${A%/*}', 'USER ${U:+u}', 'RUN echo', 'EXPOSE $P', 'ONBUILD RUN x',
  );
  fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 12 }), fc.option(fc.constantFrom('x', 'y', 'z')), (lines, target) => {
    try {
      const dockerfile = parseDockerfile(lines.join('\n'), 'Dockerfile');
      const p = planStages(dockerfile, { buildArgs: new Map(), platform, target: target ?? undefined });
      for (const index of p.order) {
        const scope = new StageScope({ dockerfile, buildArgs: new Map(), platform }, p.globals, []);
        for (const inst of p.stages[index]?.instructions ?? []) scope.apply(inst);
      }
    } catch (e) {
      if (!(e instanceof GantryError)) throw e;
    }
  }), { numRuns: 1500 });
});

test('.dockerignore: patternmatcher match kinds (prefix, suffix, classes) and bad patterns', () => {
  const m = (pattern: string, path: string): boolean => IgnoreMatcher.fromText(pattern).excludes(path);
  assert.equal(m('**foo', 'barfoo'), true);
  assert.equal(m('**foo', 'a/barfoo'), true);
  assert.equal(m('**/foo', 'foo'), true);
  assert.equal(m('**/foo', 'xfoo'), false);
  assert.equal(m('a**', 'abc/d'), true);
  assert.equal(m('a/**', 'a'), false);
  assert.equal(m('**', 'anything/at/all'), true);
  assert.equal(m('[^a]x', 'bx'), true);
  assert.equal(m('[^a]x', 'ax'), false);
  assert.equal(m('[a-c]?', 'b1'), true);
  assert.equal(m('a.b', 'axb'), false);
  assert.equal(m('(x)', '(x)'), true);
  assert.throws(() => IgnoreMatcher.fromText('ok\n[z-a]\n'), (e: unknown) => e instanceof GantryError && /:2: syntax error in pattern/.test(e.message));
});
