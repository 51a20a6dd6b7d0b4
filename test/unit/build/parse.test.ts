// The Dockerfile parser against the reference: directives, continuations, heredocs, JSON vs shell form,
// flags, every instruction; errors located FILE:LINE:COL with the instruction and a caret, never more text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDockerfile, DockerfileError, formatDockerfileDiagnostic, runProgram, type Instruction } from '../../../src/engine/build/index.js';

const parse = (text: string): readonly Instruction[] => parseDockerfile(text, 'Dockerfile').instructions;
const second = (text: string): Instruction => parse(`FROM alpine\n${text}`)[1] as Instruction;

function error(text: string): DockerfileError {
  try {
    parseDockerfile(text, 'Dockerfile');
  } catch (e) {
    assert.ok(e instanceof DockerfileError, `expected DockerfileError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

test('directives: escape and syntax only at the top, case-insensitive, once', () => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\n# ESCAPE = `\nFROM alpine\nRUN echo a `\n  b\n', 'Dockerfile');
  assert.equal(df.directives.escape, '`');
  assert.equal(df.directives.syntax, 'docker/dockerfile:1');
  assert.deepEqual((df.instructions[1] as { command: unknown }).command, { form: 'shell', command: 'echo a   b' });
  // After a comment or an instruction, a directive is a comment.
  const late = parseDockerfile('# hello\n# escape=`\nFROM alpine\nRUN echo a \\\n b\n', 'Dockerfile');
  assert.equal(late.directives.escape, '\\');
  assert.equal(late.instructions.length, 2);
  const e = error('# escape=\\\n# escape=`\nFROM a\n');
  assert.match(e.message, /only one escape parser directive/);
  assert.match(error('# escape=x\nFROM a\n').message, /invalid escape/);
});

test('continuations skip comment and empty lines; empty continuation lines warn', () => {
  const df = parseDockerfile('FROM alpine\nRUN echo a \\\n# a comment\n\n    b \\\n  c\nRUN next\n', 'Dockerfile');
  const run = df.instructions[1] as Extract<Instruction, { kind: 'RUN' }>;
  assert.deepEqual(run.command, { form: 'shell', command: 'echo a     b   c' });
  assert.deepEqual(run.range, { line: 2, col: 1, endLine: 6 });
  assert.equal(run.original, 'RUN echo a \\\n# a comment\n\n    b \\\n  c');
  assert.ok(df.warnings.some((w) => /empty continuation/.test(w.message) && w.line === 2));
  assert.equal(df.instructions[2]?.range.line, 7);
});

test('a continuation at the end of the file: a warning when the instruction is complete, an error when empty', () => {
  const df = parseDockerfile('FROM alpine\nRUN echo hi \\\n', 'Dockerfile');
  assert.ok(df.warnings.some((w) => /ends inside a line continuation/.test(w.message)));
  const e = error('FROM alpine\nRUN \\\n');
  assert.equal(e.code, 'DOCKERFILE_SYNTAX');
  assert.match(e.message, /^Dockerfile:2:1: RUN: the file ends inside a line continuation/);
});

test('heredocs: <<EOF, <<-EOF strips tabs, quoted delimiters do not expand, several on one line', () => {
  const run = second('RUN <<EOF cat >/a <<-"EOT"\necho $HOME\nEOF\n\tx\n\tEOT\n') as Extract<Instruction, { kind: 'RUN' }>;
  assert.deepEqual(run.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp]), [['EOF', 'echo $HOME\n', true, false], ['EOT', 'x\n', false, true]]);
  assert.deepEqual(run.range, { line: 2, col: 1, endLine: 6 });
  const copy = second("COPY <<'EOF' /etc/motd\nhi $USER\nEOF\n") as Extract<Instruction, { kind: 'COPY' }>;
  assert.deepEqual(copy.sources, []);
  assert.equal(copy.dest, '/etc/motd');
  assert.deepEqual(copy.heredocs.map((h) => [h.name, h.content, h.expand]), [['EOF', 'hi $USER\n', false]]);
  const fd = second('RUN 3<<EOF cat <&3\nx\nEOF\n') as Extract<Instruction, { kind: 'RUN' }>;
  assert.equal(fd.heredocs[0]?.fd, 3);
  // Not heredocs: a here-string, `<<` inside quotes, and the exec form.
  assert.deepEqual((second('RUN cat <<<word') as Extract<Instruction, { kind: 'RUN' }>).heredocs, []);
  assert.deepEqual((second('RUN echo "<<EOF"') as Extract<Instruction, { kind: 'RUN' }>).heredocs, []);
  assert.deepEqual((second('RUN ["cat", "<<EOF"]') as Extract<Instruction, { kind: 'RUN' }>).heredocs, []);
  // Not in other instructions.
  assert.deepEqual((second('LABEL a=<<EOF') as Extract<Instruction, { kind: 'LABEL' }>).pairs, [{ key: 'a', value: '<<EOF' }]);
});

test('an unterminated heredoc is located at its delimiter', () => {
  const e = error('FROM alpine\nRUN cat <<EOF\nline\n');
  assert.equal(e.code, 'DOCKERFILE_SYNTAX');
  assert.match(e.message, /^Dockerfile:2:9: RUN: unterminated heredoc/);
  assert.equal(formatDockerfileDiagnostic(e.diagnostic, { cwd: '/' }).split('\n').slice(1, 5).join('\n'), [
    '  --> Dockerfile:2:9',
    '  |',
    '2 | RUN cat <<EOF',
    '  |         ^^^^^',
  ].join('\n'));
});

test('JSON form vs shell form: a broken JSON array is the shell form, as Docker does', () => {
  assert.deepEqual((second('CMD ["a", "b c"]') as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'exec', args: ['a', 'b c'] });
  assert.deepEqual((second("CMD ['a']") as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'shell', command: "['a']" });
  assert.deepEqual((second('ENTRYPOINT ["a",') as Extract<Instruction, { kind: 'ENTRYPOINT' }>).command, { form: 'shell', command: '["a",' });
  assert.deepEqual((second('CMD []') as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'exec', args: [] });
  assert.match(error('FROM a\nCMD ["a", 1]\n').message, /only strings/);
});

test('FROM: --platform, AS name (lower-cased), one or three arguments, valid names', () => {
  assert.deepEqual(parse('FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\n').map((i) => ({ ...i, range: undefined, original: undefined })),
    [{ kind: 'FROM', image: 'golang:1.22', platform: '$BUILDPLATFORM', stageName: 'build', range: undefined, original: undefined }]);
  assert.match(error('FROM a b\n').message, /one argument, or three/);
  assert.match(error('FROM a AS 1x\n').message, /invalid name for a build stage/);
  assert.match(error('FROM a AS x\nFROM b AS X\n').message, /^Dockerfile:2:\d+: FROM: duplicate stage name "x" \(first defined at line 1\)/);
});

test('RUN: --mount types with BuildKit defaults, --network, exec and shell forms', () => {
  const run = second('RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=npmrc --mount=type=bind,source=src,target=/src,rw \\\n    --mount=type=tmpfs,target=/tmp,size=64m --mount=type=secret,id=tok,env=TOKEN,required --network=none make') as Extract<Instruction, { kind: 'RUN' }>;
  assert.deepEqual(run.mounts, [
    { type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'locked', from: undefined, source: undefined, readonly: false, mode: 0o755, uid: 0, gid: 0 },
    { type: 'secret', id: 'npmrc', target: '/run/secrets/npmrc', env: undefined, required: false, mode: 0o400, uid: 0, gid: 0 },
    { type: 'bind', target: '/src', source: 'src', from: undefined, readonly: false },
    { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 },
    { type: 'secret', id: 'tok', target: undefined, env: 'TOKEN', required: true, mode: 0o400, uid: 0, gid: 0 },
  ]);
  assert.equal(run.network, 'none');
  assert.deepEqual(run.command, { form: 'shell', command: 'make' });
  const bind = second('RUN --mount=target=/x cat /x/y') as Extract<Instruction, { kind: 'RUN' }>;
  assert.deepEqual(bind.mounts[0], { type: 'bind', target: '/x', source: '/', from: undefined, readonly: true });
  assert.match(error('FROM a\nRUN --mount=type=nfs,target=/x true\n').message, /^Dockerfile:2:5: RUN: --mount: unsupported mount type "nfs"/);
  assert.match(error('FROM a\nRUN --mount=type=cache true\n').message, /needs target/);
  assert.match(error('FROM a\nRUN --mount=type=tmpfs,target=/t,id=x true\n').message, /unexpected key "id"/);
  assert.match(error('FROM a\nRUN --network=bridge true\n').message, /expected default, none or host/);
});

test('flags: unknown (with did you mean), duplicate, boolean values, missing values', () => {
  const e = error('FROM alpine\nCOPY --form=builder a b\n');
  assert.equal(e.code, 'DOCKERFILE_SYNTAX');
  assert.equal(e.message, 'Dockerfile:2:6: COPY: unknown flag: --form');
  assert.match(e.hint ?? '', /did you mean --from\?/);
  assert.match(error('FROM a\nCOPY --from=a --from=b x y\n').message, /duplicate flag/);
  assert.match(error('FROM a\nCOPY --link=maybe x y\n').message, /boolean/);
  assert.match(error('FROM a\nCOPY --from x y\n').message, /missing a value on flag --from/);
  assert.match(error('FROM a\nEXPOSE --x 80\n').message, /EXPOSE: unknown flag: --x/);
  const copy = second('COPY --from=build --chown=app:app --chmod=0755 --link --exclude=*.md --exclude=tmp ["a b", "c", "/dst/"]') as Extract<Instruction, { kind: 'COPY' }>;
  assert.deepEqual([copy.from, copy.chown, copy.chmod, copy.link, copy.exclude, copy.sources, copy.dest], ['build', 'app:app', '0755', true, ['*.md', 'tmp'], ['a b', 'c'], '/dst/']);
  const add = second('ADD --checksum=sha256:abc --keep-git-dir=false https://x/y.tgz /y') as Extract<Instruction, { kind: 'ADD' }>;
  assert.deepEqual([add.checksum, add.keepGitDir, add.sources], ['sha256:abc', false, ['https://x/y.tgz']]);
  assert.match(error('FROM a\nCOPY onlyone\n').message, /at least two arguments/);
});

test('ENV and LABEL: both forms; ARG with and without defaults', () => {
  assert.deepEqual((second('ENV a=1 b="x y" c=x\\ y') as Extract<Instruction, { kind: 'ENV' }>).pairs, [{ key: 'a', value: '1' }, { key: 'b', value: '"x y"' }, { key: 'c', value: 'x\\ y' }]);
  const legacy = parseDockerfile('FROM a\nENV PATH /usr/local/bin:$PATH with spaces\n', 'Dockerfile');
  assert.deepEqual((legacy.instructions[1] as Extract<Instruction, { kind: 'ENV' }>).pairs, [{ key: 'PATH', value: '/usr/local/bin:$PATH with spaces' }]);
  assert.ok(legacy.warnings.some((w) => /legacy/.test(w.message)));
  assert.match(error('FROM a\nENV a=1 b\n').message, /cannot find = in "b"/);
  assert.match(error('FROM a\nENV onlykey\n').message, /has no value/);
  assert.match(error('FROM a\nLABEL =x\n').message, /cannot be blank/);
  assert.deepEqual((second('LABEL "com.example.vendor"="ACME" version=1.0') as Extract<Instruction, { kind: 'LABEL' }>).pairs, [{ key: '"com.example.vendor"', value: '"ACME"' }, { key: 'version', value: '1.0' }]);
  assert.deepEqual((second('ARG a b=2 c="x y"') as Extract<Instruction, { kind: 'ARG' }>).args, [{ name: 'a', defaultValue: undefined }, { name: 'b', defaultValue: '2' }, { name: 'c', defaultValue: '"x y"' }]);
});

test('EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, SHELL, MAINTAINER', () => {
  assert.deepEqual((second('EXPOSE 80 443/tcp 53/udp') as Extract<Instruction, { kind: 'EXPOSE' }>).ports, ['80', '443/tcp', '53/udp']);
  assert.deepEqual((second('VOLUME ["/data", "/logs"]') as Extract<Instruction, { kind: 'VOLUME' }>).paths, ['/data', '/logs']);
  assert.deepEqual((second('VOLUME /a /b') as Extract<Instruction, { kind: 'VOLUME' }>).paths, ['/a', '/b']);
  assert.equal((second('USER app:app') as Extract<Instruction, { kind: 'USER' }>).user, 'app:app');
  assert.match(error('FROM a\nUSER a b\n').message, /exactly one argument/);
  assert.equal((second('WORKDIR /my app') as Extract<Instruction, { kind: 'WORKDIR' }>).path, '/my app');
  assert.equal((second('STOPSIGNAL SIGTERM') as Extract<Instruction, { kind: 'STOPSIGNAL' }>).signal, 'SIGTERM');
  assert.deepEqual((second('SHELL ["/bin/bash", "-o", "pipefail", "-c"]') as Extract<Instruction, { kind: 'SHELL' }>).shell, ['/bin/bash', '-o', 'pipefail', '-c']);
  assert.match(error('FROM a\nSHELL /bin/bash -c\n').message, /JSON form/);
  const df = parseDockerfile('FROM a\nMAINTAINER Jane <j@x>\n', 'Dockerfile');
  assert.equal((df.instructions[1] as Extract<Instruction, { kind: 'MAINTAINER' }>).maintainer, 'Jane <j@x>');
  assert.ok(df.warnings.some((w) => /deprecated/.test(w.message)));
});

test('HEALTHCHECK: NONE, CMD with durations and retries', () => {
  const hc = second('HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD ["curl", "-f", "http://localhost/"]');
  assert.deepEqual({ ...hc, range: undefined, original: undefined }, {
    kind: 'HEALTHCHECK', mode: 'cmd', command: { form: 'exec', args: ['curl', '-f', 'http://localhost/'] }, range: undefined, original: undefined,
    intervalNs: 30e9, timeoutNs: 3e9, startPeriodNs: 60e9, startIntervalNs: 5e8, retries: 3,
  });
  assert.equal((second('HEALTHCHECK none') as { mode: string }).mode, 'none');
  assert.match(error('FROM a\nHEALTHCHECK --interval=5 CMD true\n').message, /missing a unit/);
  assert.match(error('FROM a\nHEALTHCHECK --retries=-1 CMD true\n').message, /--retries/);
  assert.match(error('FROM a\nHEALTHCHECK CURL x\n').message, /unknown type "CURL" in HEALTHCHECK \(try CMD\)/);
  assert.match(error('FROM a\nHEALTHCHECK NONE x\n').message, /no other arguments/);
});

test('ONBUILD parses its trigger; ONBUILD ONBUILD, FROM and MAINTAINER triggers are refused', () => {
  const ob = second('ONBUILD COPY --chown=1 . /app') as Extract<Instruction, { kind: 'ONBUILD' }>;
  assert.equal(ob.trigger.kind, 'COPY');
  assert.equal(ob.triggerText, 'COPY --chown=1 . /app');
  assert.match(error('FROM a\nONBUILD ONBUILD RUN x\n').message, /ONBUILD ONBUILD/);
  assert.match(error('FROM a\nONBUILD FROM x\n').message, /not allowed as an ONBUILD trigger/);
  assert.match(error('FROM a\nONBUILD RUNN x\n').message, /^Dockerfile:2:9: unknown instruction: RUNN \(did you mean RUN\?\)/);
});

test('unknown instruction with did you mean; instruction before FROM; missing FROM; case-insensitive keywords', () => {
  const e = error('FROM alpine\n\n  COPPY a b\n');
  assert.equal(e.message, 'Dockerfile:3:3: unknown instruction: COPPY (did you mean COPY?)');
  assert.equal(formatDockerfileDiagnostic(e.diagnostic, { cwd: '/' }), [
    'error[DOCKERFILE_SYNTAX]: unknown instruction: COPPY (did you mean COPY?)',
    '  --> Dockerfile:3:3',
    '  |',
    '3 |   COPPY a b',
    '  |   ^^^^^',
    'hint: instructions are ADD, ARG, CMD, COPY, ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR',
  ].join('\n'));
  assert.equal(error('FROM a\nFOOBAR x\n').hint?.includes('did you mean'), false);
  const before = error('ARG V=1\nRUN echo\nFROM a\n');
  assert.equal(before.code, 'DOCKERFILE_INVALID');
  assert.match(before.message, /^Dockerfile:2:1: RUN: this instruction comes before the first FROM/);
  assert.match(error('ARG a\n').message, /no FROM instruction/);
  assert.match(error('# only a comment\n\n').message, /empty/);
  assert.deepEqual(parse('from alpine\nrun echo\n').map((i) => i.kind), ['FROM', 'RUN']);
});

test('errors never echo more than the offending line', () => {
  const secret = 'SECRET_LINE_CONTENT';
  const e = error(`FROM alpine\nRUN echo ${secret}\nBADINSTR x\nRUN ${secret}\n`);
  const shown = `${e.message}\n${formatDockerfileDiagnostic(e.diagnostic)}\n${e.hint ?? ''}`;
  assert.equal(shown.includes(secret), false);
  assert.ok(shown.includes('BADINSTR x'));
});

test('property: the parser throws nothing but DockerfileError on any input', () => {
  const piece = fc.constantFrom('FROM a', 'RUN x', '\\', '`', '<<EOF', 'EOF', '<<-"T"', 'T', '\t', '#', '# escape=`', '[', ']', '"', "'", '--mount=type=cache', '--x=', 'COPY', 'ONBUILD', 'HEALTHCHECK', 'CMD', 'ENV a=', '=', ' ', '\n', 'AS b', 'ARG', 'SHELL []', '$', '${');
  fc.assert(fc.property(fc.array(fc.oneof(piece, fc.string()), { maxLength: 30 }), (parts) => {
    try {
      parseDockerfile(parts.join(''), 'Dockerfile');
    } catch (e) {
      if (!(e instanceof DockerfileError)) throw e;
    }
  }), { numRuns: 2000 });
});

test('what RUN executes: exec form, a lone heredoc as the script (or a #! file), heredocs appended for the shell', () => {
  const prog = (text: string) => runProgram(second(text) as Extract<Instruction, { kind: 'RUN' }>);
  assert.deepEqual(prog('RUN ["echo", "hi"]'), { kind: 'exec', args: ['echo', 'hi'] });
  assert.deepEqual(prog('RUN <<EOF\necho a\necho b\nEOF\n'), { kind: 'shell', script: 'echo a\necho b\n' });
  assert.deepEqual(prog('RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n'), { kind: 'file', name: 'EOF', content: '#!/usr/bin/env python3\nprint(1)\n' });
  assert.deepEqual(prog("RUN cat <<'A' >/x && cat <<B >/y\n$a\nA\n$b\nB\n"), { kind: 'shell', script: "cat <<'A' >/x && cat <<B >/y\n$a\nA\n$b\nB" });
  assert.deepEqual(prog('RUN echo hi'), { kind: 'shell', script: 'echo hi' });
});

test('an instruction that starts after a line holding only the escape character', () => {
  const df = parseDockerfile('FROM a\n\\\n  RUN x\n', 'Dockerfile');
  assert.deepEqual((df.instructions[1] as Extract<Instruction, { kind: 'RUN' }>).command, { form: 'shell', command: 'x' });
  assert.equal(df.instructions[1]?.range.col, 3);
});

test('Docker\'s line rules: an escaped escape character ends the line; args are trimmed; indented directives', () => {
  const df = parseDockerfile('FROM a\nENV C trailing\\\\backslash\\\\\nENV D next\nENV E hello\\\n\\\nworld\nRUN something \\\n', 'Dockerfile');
  assert.deepEqual(df.instructions.slice(1).map((i) => (i.kind === 'ENV' ? i.pairs[0] : i.kind === 'RUN' ? i.command : undefined)), [
    { key: 'C', value: 'trailing\\\\backslash\\\\' }, { key: 'D', value: 'next' }, { key: 'E', value: 'helloworld' }, { form: 'shell', command: 'something' },
  ]);
  assert.equal(parseDockerfile('  # escape=`\nFROM a\n', 'Dockerfile').directives.escape, '`');
});

test('ONBUILD RUN with a heredoc; bare CMD and ENTRYPOINT are accepted as Docker does', () => {
  const ob = second('ONBUILD RUN <<EOF\necho hi\nEOF\n') as Extract<Instruction, { kind: 'ONBUILD' }>;
  assert.equal(ob.triggerText, 'RUN <<EOF\necho hi\nEOF');
  assert.equal(ob.trigger.kind === 'RUN' && ob.trigger.heredocs[0]?.content, 'echo hi\n');
  assert.deepEqual((second('ENTRYPOINT') as Extract<Instruction, { kind: 'ENTRYPOINT' }>).command, { form: 'shell', command: '' });
  assert.deepEqual((second('CMD []') as Extract<Instruction, { kind: 'CMD' }>).command, { form: 'exec', args: [] });
});

test('heredoc delimiters as BuildKit reads them: partly quoted, escaped quotes, spaces, blanks after <<', () => {
  const docs = (text: string) => (second(text) as Extract<Instruction, { kind: 'RUN' }>).heredocs.map((h) => [h.name, h.expand, h.content]);
  assert.deepEqual(docs("RUN <<eo'f'\necho foo\neof\n"), [['eof', false, 'echo foo\n']]);
  assert.deepEqual(docs("RUN <<eo\\'f\necho foo\neo'f\n"), [["eo'f", true, 'echo foo\n']]);
  assert.deepEqual(docs("RUN <<'e'o\\'f\necho foo\neo'f\n"), [["eo'f", false, 'echo foo\n']]);
  assert.deepEqual(docs("RUN <<'one two'\necho bar\none two\n"), [['one two', false, 'echo bar\n']]);
  assert.deepEqual(docs('RUN <<$EOF\n$EOF\n'), [['$EOF', true, '']]);
  assert.deepEqual(docs('RUN <<  EOF  > foo\nx\nEOF\n'), [['EOF', true, 'x\n']]);
  assert.deepEqual(docs('RUN <<COMPLEX python3\nprint(1)\nCOMPLEX\n'), [['COMPLEX', true, 'print(1)\n']]);
  assert.deepEqual(docs('RUN <<COMMENT\n# internal comment\necho hi # trailing\nCOMMENT\n'), [['COMMENT', true, '# internal comment\necho hi # trailing\n']]);
  const copy = second('COPY <<X <<Y /dest\nY\nX\nX\nY\n') as Extract<Instruction, { kind: 'COPY' }>;
  assert.deepEqual([copy.sources, copy.heredocs.map((h) => [h.name, h.content])], [[], [['X', 'Y\n'], ['Y', 'X\n']]]);
  const spaced = second('COPY << EOF a /dest\nhi\nEOF\n') as Extract<Instruction, { kind: 'COPY' }>;
  assert.deepEqual([spaced.sources, spaced.dest], [['a'], '/dest']);
});
