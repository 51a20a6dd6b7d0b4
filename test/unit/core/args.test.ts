import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bool, list, parseArgs, str, type FlagSpec } from '../../../src/cli/args.js';
import { EXIT_USAGE, exitStatusFor } from '../../../src/common/errors.js';
import { isCode } from './helpers.js';

// A subset of `run`'s flags, spelled like the CLI's own table.
const RUN: FlagSpec[] = [
  { name: 'detach', short: 'd', kind: 'bool' }, { name: 'rm', kind: 'bool' }, { name: 'name', kind: 'string' },
  { name: 'env', short: 'e', kind: 'list' }, { name: 'publish', short: 'p', kind: 'list' },
  { name: 'interactive', short: 'i', kind: 'bool' }, { name: 'tty', short: 't', kind: 'bool' },
  { name: 'memory', short: 'm', kind: 'string' }, { name: 'network', kind: 'list', aliases: ['net'] },
];

const parse = (argv: string[], stop?: number) => parseArgs(argv, RUN, stop === undefined ? {} : { stopAfterPositionals: stop });

describe('parseArgs', () => {
  test('long flags: bool, string with a separate value, string with =value', () => {
    const p = parse(['--detach', '--name', 'web', '--memory=64m', 'busybox']);
    assert.equal(bool(p, 'detach'), true);
    assert.equal(str(p, 'name'), 'web');
    assert.equal(str(p, 'memory'), '64m');
    assert.deepEqual(p.positionals, ['busybox']);
  });

  test('--bool=false and --bool=0 turn a flag off; other values turn it on', () => {
    assert.equal(bool(parse(['--rm=false']), 'rm'), false);
    assert.equal(bool(parse(['--rm=0']), 'rm'), false);
    assert.equal(bool(parse(['--rm=true']), 'rm'), true);
    assert.equal(bool(parse([]), 'rm'), false);
  });

  test('a value after = may itself contain =', () => {
    assert.deepEqual(list(parse(['--env=A=b=c']), 'env'), ['A=b=c']);
  });

  test('an alias fills the canonical name', () => {
    assert.deepEqual(list(parse(['--net', 'front', '--network=back']), 'network'), ['front', 'back']);
  });

  test('short flags: combined booleans (-it), attached values (-p80:80, -m=64m), separate values (-e K=V)', () => {
    const p = parse(['-it', '-p80:80', '-p', '443:443', '-m=64m', '-e', 'K=V', '-eX=1', 'img']);
    assert.equal(bool(p, 'interactive'), true);
    assert.equal(bool(p, 'tty'), true);
    assert.deepEqual(list(p, 'publish'), ['80:80', '443:443']);
    assert.equal(str(p, 'memory'), '64m');
    assert.deepEqual(list(p, 'env'), ['K=V', 'X=1']);
    assert.deepEqual(p.positionals, ['img']);
  });

  test('a value-taking short flag at the end of a group takes the rest or the next word (-dp 80:80, -dp80)', () => {
    const a = parse(['-dp', '8080:80']);
    assert.equal(bool(a, 'detach'), true);
    assert.deepEqual(list(a, 'publish'), ['8080:80']);
    const b = parse(['-dp8080:80']);
    assert.deepEqual(list(b, 'publish'), ['8080:80']);
  });

  test('lists keep order and repeat; a string flag given twice keeps the last value', () => {
    const p = parse(['-e', 'A=1', '--env', 'B=2', '-e', 'A=3', '--name', 'x', '--name', 'y']);
    assert.deepEqual(list(p, 'env'), ['A=1', 'B=2', 'A=3']);
    assert.equal(str(p, 'name'), 'y');
    assert.deepEqual(list(p, 'publish'), []);
    assert.equal(str(p, 'memory'), undefined);
  });

  test('flags and positionals interleave without stopAfterPositionals', () => {
    const p = parse(['a', '-d', 'b', '--rm', 'c']);
    assert.deepEqual(p.positionals, ['a', 'b', 'c']);
    assert.equal(bool(p, 'detach'), true);
    assert.equal(bool(p, 'rm'), true);
  });

  test('-- ends flags: everything after it is positional', () => {
    const p = parse(['-d', '--', '-e', '--rm', 'x']);
    assert.equal(bool(p, 'detach'), true);
    assert.deepEqual(p.positionals, ['-e', '--rm', 'x']);
    assert.deepEqual(list(p, 'env'), []);
  });

  test('a lone "-" and negative numbers are positionals', () => {
    assert.deepEqual(parse(['-', '-1', '-5s']).positionals, ['-', '-1', '-5s']);
  });

  test('stopAfterPositionals: `run -d busybox sh -c "x" -e` keeps -e and -c as command arguments', () => {
    const p = parse(['-d', 'busybox', 'sh', '-c', 'echo x', '-e'], 1);
    assert.equal(bool(p, 'detach'), true);
    assert.deepEqual(p.positionals, ['busybox', 'sh', '-c', 'echo x', '-e']);
    assert.deepEqual(list(p, 'env'), []);
  });

  test('stopAfterPositionals: flags before the image are still parsed, even an unknown-looking command flag after', () => {
    const p = parse(['--name', 'web', '-e', 'A=1', 'nginx', '--unknown-to-us', '-zz'], 1);
    assert.equal(str(p, 'name'), 'web');
    assert.deepEqual(list(p, 'env'), ['A=1']);
    assert.deepEqual(p.positionals, ['nginx', '--unknown-to-us', '-zz']);
  });

  test('stopAfterPositionals: a -- after the image is kept as an argument of the command', () => {
    const p = parse(['busybox', '--', 'x'], 1);
    assert.deepEqual(p.positionals, ['busybox', '--', 'x']);
  });

  const usageCases: Array<[string, string[], RegExp]> = [
    ['unknown long flag', ['--bogus'], /unknown flag: --bogus/],
    ['unknown long flag with a value', ['--bogus=1'], /unknown flag: --bogus/],
    ['unknown short flag', ['-z'], /unknown shorthand flag: 'z'/],
    ['unknown short flag inside a group', ['-dz'], /unknown shorthand flag: 'z' in -dz/],
    ['string flag without its value', ['--name'], /flag needs an argument: --name/],
    ['short value flag without its value', ['-e'], /flag needs an argument/],
  ];
  for (const [what, argv, re] of usageCases) {
    test(`${what} is a usage error (exit status 2): ${argv.join(' ')}`, () => {
      let caught: unknown;
      assert.throws(() => { try { parse(argv); } catch (e) { caught = e; throw e; } }, isCode('USAGE', re));
      assert.equal(exitStatusFor(caught), EXIT_USAGE);
    });
  }
});
