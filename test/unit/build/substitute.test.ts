// Variable substitution as the reference (and BuildKit's lexer) define it, and ARG scoping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  substitute, parseDockerfile, GlobalScope, StageScope, parseBuildArgs, platformArgs, unusedBuildArgsWarning, planStages, declaredArgs,
  DockerfileError, type Instruction,
} from '../../../src/engine/build/index.js';

const vars: Record<string, string> = { foo: '/bar', empty: '', name: 'file.tar.gz' };
const sub = (text: string, escape = '\\'): string => {
  const r = substitute(text, (n) => vars[n], { escape });
  if (!r.ok) return `ERROR: ${r.problem}`;
  return r.value;
};

test('substitution: the reference examples and modifiers', () => {
  const cases: [string, string][] = [
    ['$foo', '/bar'], ['${foo}', '/bar'], ['${foo}_x', '/bar_x'], ['$foo_x', ''], ['\\$foo', '$foo'], ['\\${foo}', '${foo}'],
    ['${foo:-x}', '/bar'], ['${nope:-x}', 'x'], ['${empty:-x}', 'x'], ['${empty-x}', ''], ['${nope-x}', 'x'],
    ['${foo:+x}', 'x'], ['${empty:+x}', ''], ['${empty+x}', 'x'], ['${nope+x}', ''], ['${nope:-$foo}', '/bar'],
    ['${nope:-${foo}/y}', '/bar/y'], ["'$foo'", '$foo'], ['"$foo"', '/bar'], ['"a b"', 'a b'], ['a\\ b', 'a b'],
    ['"\\$foo"', '$foo'], ['$', '$'], ['a$', 'a$'], ['$1', ''], ['$999aaa', 'aaa'], ['${@:-bbb}', 'bbb'], ['$@@@', '@@'], ['hello\\', 'hello'], ['hello\\\\', 'hello\\'],
    ['${empty?}', ''], ['${empty:?}', 'ERROR: empty: is not allowed to be empty'], ['${nope?}', 'ERROR: nope: is not allowed to be unset'], ['$.', '$.'], ['he$1x', 'hex'], ['${name#*.}', 'tar.gz'], ['${name##*.}', 'gz'],
    ['${name%.*}', 'file.tar'], ['${name%%.*}', 'file'], ['${name/tar/zip}', 'file.zip.gz'], ['${name//a/o}', 'file.tor.gz'],
    ['${nope:?must be set}', 'ERROR: nope: must be set'], ['${foo?x}', '/bar'], ['${foo', "ERROR: missing '}' after ${foo"],
    ['${}', 'ERROR: bad substitution: ${ needs a variable name'], ['${foo:x}', 'ERROR: unsupported modifier (:x) in ${foo}'], ['"open', 'ERROR: unexpected end of text while looking for the matching double quote'],
  ];
  for (const [input, expected] of cases) assert.equal(sub(input), expected, input);
  assert.equal(sub('`$foo', '`'), '$foo');
  assert.equal(sub('\\$foo', '`'), '\\/bar');
});

test('substitution reports the variables it read', () => {
  const r = substitute('${a:-$b}/$c', () => undefined, { escape: '\\' });
  assert.ok(r.ok);
  assert.deepEqual([...r.used].sort(), ['a', 'b', 'c']);
});

test('property: substitution never throws, whatever the text', () => {
  const piece = fc.constantFrom('$', '{', '}', ':', '-', '+', '?', '#', '%', '/', '\\', '`', '"', "'", 'foo', 'name', '[', ']', '*');
  fc.assert(fc.property(fc.array(fc.oneof(piece, fc.string()), { maxLength: 40 }), fc.constantFrom('\\', '`'), (parts, escape) => {
    const r = substitute(parts.join(''), (n) => vars[n], { escape });
    assert.equal(typeof r.ok, 'boolean');
  }), { numRuns: 3000 });
});

const df = (text: string) => parseDockerfile(text, 'Dockerfile');
const platform = platformArgs({ os: 'linux', arch: 'amd64', variant: undefined });

function runStage(text: string, buildArgs: Record<string, string> = {}, baseEnv: string[] = []): { applied: Instruction[]; args: ReadonlyMap<string, string>[]; scope: StageScope } {
  const dockerfile = df(text);
  const input = { dockerfile, buildArgs: new Map(Object.entries(buildArgs)), platform };
  const globals = new GlobalScope(input);
  const scope = new StageScope(input, globals, baseEnv);
  const firstFrom = dockerfile.instructions.findIndex((i) => i.kind === 'FROM');
  const results = dockerfile.instructions.slice(firstFrom).map((i) => scope.apply(i));
  return { applied: results.map((r) => r.instruction), args: results.map((r) => r.args), scope };
}

test('which instructions expand: ENV ADD COPY FROM LABEL STOPSIGNAL USER VOLUME WORKDIR EXPOSE ARG, never RUN CMD ONBUILD', () => {
  const { applied } = runStage([
    'ARG TAG=3.19', 'FROM alpine:$TAG', 'ENV foo=/bar', 'WORKDIR ${foo}', 'ADD . $foo', 'COPY \\$foo /quux', 'LABEL x=$foo', 'USER ${U:-app}',
    'VOLUME $foo', 'EXPOSE ${P:-80}', 'STOPSIGNAL ${S:-SIGTERM}', 'RUN echo $foo', 'CMD echo $foo', 'ONBUILD RUN echo $foo', 'ARG d=$foo/x', 'ENV abc=hello', 'ENV abc=bye def=$abc',
  ].join('\n'));
  const pick = (k: string): Instruction[] => applied.filter((i) => i.kind === k);
  assert.equal((pick('FROM')[0] as { image: string }).image, 'alpine:3.19');
  assert.equal((pick('WORKDIR')[0] as { path: string }).path, '/bar');
  assert.equal((pick('ADD')[0] as { dest: string }).dest, '/bar');
  assert.deepEqual((pick('COPY')[0] as unknown as { sources: string[] }).sources, ['$foo']);
  assert.deepEqual((pick('LABEL')[0] as { pairs: unknown }).pairs, [{ key: 'x', value: '/bar' }]);
  assert.equal((pick('USER')[0] as { user: string }).user, 'app');
  assert.deepEqual((pick('VOLUME')[0] as unknown as { paths: string[] }).paths, ['/bar']);
  assert.deepEqual((pick('EXPOSE')[0] as unknown as { ports: string[] }).ports, ['80']);
  assert.equal((pick('STOPSIGNAL')[0] as { signal: string }).signal, 'SIGTERM');
  assert.deepEqual((pick('RUN')[0] as { command: unknown }).command, { form: 'shell', command: 'echo $foo' });
  assert.deepEqual((pick('CMD')[0] as { command: unknown }).command, { form: 'shell', command: 'echo $foo' });
  assert.equal(((pick('ONBUILD')[0] as { trigger: { command: { command: string } } }).trigger.command.command), 'echo $foo');
  assert.deepEqual((pick('ARG')[0] as { args: unknown }).args, [{ name: 'd', defaultValue: '/bar/x' }]);
  // "ENV abc=bye def=$abc" sees the value from before the instruction.
  assert.deepEqual((pick('ENV')[2] as { pairs: unknown }).pairs, [{ key: 'abc', value: 'bye' }, { key: 'def', value: 'hello' }]);
});

test('ARG scope: global ARGs are for FROM only unless redeclared; build args override defaults; ENV wins over ARG', () => {
  const text = ['ARG VERSION=1', 'ARG OTHER=o', 'FROM busybox:$VERSION', 'RUN echo', 'LABEL a=${VERSION:-none}', 'ARG VERSION', 'LABEL b=$VERSION', 'ARG X=dflt', 'LABEL c=$X', 'ENV X=env', 'LABEL d=$X'].join('\n');
  const labels = (r: ReturnType<typeof runStage>): string[] => r.applied.filter((i) => i.kind === 'LABEL').map((i) => (i as unknown as { pairs: { value: string }[] }).pairs[0]?.value as string);
  assert.deepEqual(labels(runStage(text)), ['none', '1', 'dflt', 'env']);
  const given = runStage(text, { VERSION: '2', X: 'cli' });
  assert.equal((given.applied[0] as { image: string }).image, 'busybox:2');
  assert.deepEqual(labels(given), ['none', '2', 'cli', 'env']);
  // The args a step depends on (its cache key): LABEL c used X (an ARG); LABEL d used X shadowed by ENV.
  assert.deepEqual([...(given.args[6] ?? new Map())], [['X', 'cli']]);
  assert.deepEqual([...(given.args[8] ?? new Map())], []);
  // RUN depends on every ARG in scope at that point (and proxy args given).
  const run = runStage('FROM a\nARG A=1\nARG B\nRUN true\n', { HTTP_PROXY: 'http://p:3128', B: 'b' });
  assert.deepEqual([...(run.args[3] ?? new Map())], [['HTTP_PROXY', 'http://p:3128'], ['A', '1'], ['B', 'b']]);
  assert.deepEqual(run.scope.environment(), []);
});

test('platform args: global automatically, in a stage once declared; base image Env is visible', () => {
  const r = runStage('FROM --platform=$BUILDPLATFORM golang AS b\nLABEL a=${TARGETARCH:-unset}\nARG TARGETARCH\nLABEL b=$TARGETARCH\nWORKDIR $GOPATH/src\n', {}, ['GOPATH=/go']);
  assert.equal((r.applied[0] as { platform: string }).platform, 'linux/amd64');
  assert.deepEqual(r.applied.filter((i) => i.kind === 'LABEL').map((i) => (i as unknown as { pairs: { value: string }[] }).pairs[0]?.value), ['unset', 'amd64']);
  assert.equal((r.applied[4] as { path: string }).path, '/go/src');
});

test('a bad substitution is a located error', () => {
  assert.throws(() => runStage('FROM a\n\nWORKDIR ${X:?set X}\n'), (e: unknown) => e instanceof DockerfileError && e.message === 'Dockerfile:3:1: WORKDIR: X: set X');
});

test('build args: K=V, K from the environment, unused ones warned like Docker', () => {
  const args = parseBuildArgs(['A=1', 'B', 'C', 'A=2', 'D='], { B: 'from-env' });
  assert.deepEqual([...args], [['A', '2'], ['B', 'from-env'], ['D', '']]);
  const plan = planStages(df('ARG A\nFROM x AS one\nARG B\nFROM y\nARG D\n'), { buildArgs: args, platform });
  const declared = declaredArgs(plan);
  assert.equal(unusedBuildArgsWarning(new Map([...args, ['HTTP_PROXY', 'x'], ['ZZ', '1'], ['E', '1']]), declared), '[Warning] One or more build-args [B E ZZ] were not consumed');
  assert.equal(unusedBuildArgsWarning(new Map([['A', '1']]), declared), undefined);
});

test('ARG as BuildKit dispatches it: a build arg skips the default (even a failing one); the applied ARG holds the default as written (Docker\'s history), the values in effect are its args', () => {
  const r = runStage('ARG G=global\nFROM a\nARG X=${NOPE:?never}\nARG G\nARG U\nARG D=${G}-d\n', { X: 'given' });
  assert.deepEqual(r.applied.filter((i) => i.kind === 'ARG').map((i) => (i as Extract<Instruction, { kind: 'ARG' }>).args[0]), [
    { name: 'X', defaultValue: '${NOPE:?never}' }, { name: 'G', defaultValue: undefined }, { name: 'U', defaultValue: undefined }, { name: 'D', defaultValue: 'global-d' },
  ]);
});
