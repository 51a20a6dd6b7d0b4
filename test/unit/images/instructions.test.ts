// Config instructions as `import --change` / `commit --change` read them (Docker's parser rules).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import { applyChanges, parseConfigInstruction, splitWords, expandWord } from '../../../src/engine/images/instructions.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('config instructions', () => {
  test('CMD and ENTRYPOINT: JSON form only when it parses as a string array, else shell form', () => {
    assert.deepEqual(applyChanges({}, ['CMD ["sh", "-c", "echo hi"]']).Cmd, ['sh', '-c', 'echo hi']);
    assert.deepEqual(applyChanges({}, ['CMD [ -s "$X" ] || exit 1']).Cmd, ['/bin/sh', '-c', '[ -s "$X" ] || exit 1']);
    assert.deepEqual(applyChanges({}, ['CMD [1, 2]']).Cmd, ['/bin/sh', '-c', '[1, 2]']);
    assert.deepEqual(applyChanges({}, ['entrypoint top -b']).Entrypoint, ['/bin/sh', '-c', 'top -b']);
  });

  test('ENTRYPOINT resets CMD unless CMD came before it in the same batch', () => {
    assert.equal(applyChanges({ Cmd: ['old'] }, ['ENTRYPOINT ["/e"]']).Cmd, undefined);
    assert.deepEqual(applyChanges({ Cmd: ['old'] }, ['CMD ["new"]', 'ENTRYPOINT ["/e"]']).Cmd, ['new']);
  });

  test('ENV sets several variables, replaces in place, keeps the legacy form, expands variables', () => {
    assert.deepEqual(applyChanges({ Env: [PATH] }, ['ENV A=1 B=2']).Env, [PATH, 'A=1', 'B=2']);
    assert.deepEqual(applyChanges({ Env: ['A=0', 'Z=9'] }, ['ENV A=1']).Env, ['A=1', 'Z=9']);
    assert.deepEqual(applyChanges({}, ['ENV A 1 2']).Env, ['A=1 2']);
    assert.deepEqual(applyChanges({}, ['ENV MSG="hello world" Q=\'$A\' E=a\\ b']).Env, ['MSG=hello world', 'Q=$A', 'E=a b']);
    assert.deepEqual(applyChanges({ Env: ['HOME=/root'] }, ['ENV P=$HOME/bin D=${NOPE:-dflt} S=${HOME:+set}']).Env,
      ['HOME=/root', 'P=/root/bin', 'D=dflt', 'S=set']);
    assert.throws(() => applyChanges({}, ['ENV A=1 B']), /can't find = in "B"/);
  });

  test('LABEL, EXPOSE, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR', () => {
    const c = applyChanges({ WorkingDir: '/srv' }, [
      'LABEL a=1 "b c"="d e"', 'EXPOSE 80 53/udp 8000-8002', 'ONBUILD RUN echo hi', 'STOPSIGNAL SIGQUIT',
      'USER app:app', 'VOLUME /data /logs', 'VOLUME ["/json"]', 'WORKDIR sub', 'WORKDIR ../www',
    ]);
    assert.deepEqual(c.Labels, { a: '1', 'b c': 'd e' });
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
    assert.deepEqual(c.OnBuild, ['RUN echo hi']);
    assert.equal(c.StopSignal, 'SIGQUIT');
    assert.equal(c.User, 'app:app');
    assert.deepEqual(Object.keys(c.Volumes ?? {}), ['/data', '/logs', '/json']);
    assert.equal(c.WorkingDir, '/srv/www');
    assert.equal(applyChanges({}, ['WORKDIR /abs']).WorkingDir, '/abs');
  });

  test('wrong instructions are refused naming them, and nothing is applied', () => {
    const bad: Array<[string, RegExp]> = [
      ['RUN echo hi', /RUN is not a valid change command/],
      ['FROM busybox', /FROM is not a valid change command/],
      ['CMD', /CMD needs an argument/],
      ['EXPOSE 70000', /invalid port "70000"/],
      ['EXPOSE 90-80', /invalid port/],
      ['STOPSIGNAL SIGNOPE', /"SIGNOPE" is not a signal/],
      ['ONBUILD ONBUILD CMD x', /isn't allowed as an ONBUILD trigger/],
      ['ENV A="unterminated', /unmatched "/],
      ['ENV A', /gives no value/],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => applyChanges({}, ['CMD ["ok"]', text]), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT' && re.test(e.message), text);
    }
    assert.equal(parseConfigInstruction('  cmd   ["a"]  ').name, 'CMD');
  });

  test('words: quotes and escapes', () => {
    assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g`), ['a', '"b c"', "'d e'", 'f\\ g']);
    assert.equal(expandWord(`"$X"'$X'\\$X`, new Map([['X', 'v']])), 'v$X$X');
  });
});
