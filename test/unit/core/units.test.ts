import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAgo, formatBytes, parseCpus, parseDurationNs, parseMemorySize, parseSignal, readDuration, signalName } from '../../../src/common/units.js';
import { isCode } from './helpers.js';

const K = 1024;
const M = 1024 ** 2;
const G = 1024 ** 3;

describe('parseMemorySize', () => {
  const ok: Array<[string, number]> = [
    ['64m', 64 * M], ['64M', 64 * M], ['64mb', 64 * M], ['64MiB', 64 * M], ['1.5g', Math.floor(1.5 * G)],
    ['512k', 512 * K], ['512KB', 512 * K], ['1048576', 1048576], ['100b', 100], ['2t', 2 * 1024 ** 4],
    [' 6m ', 6 * M], ['0', 0], ['1.5', 1],
  ];
  for (const [text, bytes] of ok) {
    test(`"${text}" is ${bytes} bytes (binary units, like docker)`, () => assert.equal(parseMemorySize(text), bytes));
  }
  for (const text of ['', 'm', '-1m', '64x', '1.2.3m', 'sixty', '.5g', '64 m b']) {
    test(`"${text}" is a usage error`, () => {
      assert.throws(() => parseMemorySize(text), isCode('USAGE', new RegExp(`invalid memory size "${text.replace(/\./g, '\\.')}"`)));
    });
  }
  test('the error names what was being parsed', () => {
    assert.throws(() => parseMemorySize('lots', 'shm size'), isCode('USAGE', /invalid shm size "lots"/));
  });
});

describe('parseCpus', () => {
  for (const [text, n] of [['0.5', 0.5], ['2', 2], ['.25', 0.25], ['1.50', 1.5]] as const) {
    test(`"${text}" is ${n} CPUs`, () => assert.equal(parseCpus(text), n));
  }
  for (const text of ['0', '0.0', '-1', 'abc', '', '1e3', 'Infinity', '1,5']) {
    test(`"${text}" is a usage error`, () => assert.throws(() => parseCpus(text), isCode('USAGE', /invalid CPU value/)));
  }
});

describe('readDuration / parseDurationNs (Go duration syntax, as Docker)', () => {
  const ok: Array<[string | number, number]> = [
    ['1m30s', 90e9], ['500ms', 500e6], ['1h', 3600e9], ['1.5s', 1.5e9], ['2us', 2e3], ['2µs', 2e3], ['2μs', 2e3],
    ['1000000ns', 1e6], ['1h2m3s4ms5us6ns', 3723e9 + 4e6 + 5e3 + 6], ['.5s', 0.5e9], ['1.s', 1e9], ['+5s', 5e9],
    ['0', 0], ['10', 10e9], ['0.5', 0.5e9], [2, 2e9], [1.5, 1.5e9],
  ];
  for (const [text, ns] of ok) {
    test(`${JSON.stringify(text)} is ${ns} ns`, () => {
      assert.deepEqual(readDuration(text), { ns });
      if (typeof text === 'string') assert.equal(parseDurationNs(text, '--health-interval'), ns);
    });
  }
  const bad: Array<[string | number, RegExp]> = [
    ['', /empty/], ['s', /expected a number at "s"/], ['1m30', /missing unit after "30"/], ['10x', /unknown unit "x"/],
    ['1d', /unknown unit "d"/], ['5 s', /contains a space/], ['1m 30s', /contains a space/], [' 5s', /contains a space/], ['-5s', /negative/], [-1, /negative/],
    ['.', /expected a number/], ['ms', /expected a number at "ms"/], ['9999999999h', /too long/], [Number.NaN, /not a finite number/],
  ];
  for (const [text, why] of bad) {
    test(`${JSON.stringify(text)} is refused: ${why.source}`, () => {
      const r = readDuration(text);
      assert.ok('problem' in r && why.test(r.problem), JSON.stringify(r));
    });
  }
  test('the CLI error names the flag, quotes the text and says why', () => {
    assert.throws(() => parseDurationNs('1m30', '--health-timeout'), isCode('USAGE', /^invalid duration for --health-timeout: "1m30" \(missing unit after "30"\)$/));
  });
});

describe('parseSignal / signalName', () => {
  const ok: Array<[string, number]> = [
    ['TERM', 15], ['SIGTERM', 15], ['term', 15], ['sigkill', 9], ['KILL', 9], ['9', 9], ['HUP', 1], ['SIGUSR1', 10],
    ['INT', 2], ['1', 1], ['64', 64],
  ];
  for (const [text, n] of ok) {
    test(`"${text}" is signal ${n}`, () => assert.equal(parseSignal(text), n));
  }
  for (const text of ['', 'BOGUS', 'SIG', '0', '65', '-9', 'SIGTERM2', '9x']) {
    test(`"${text}" is a usage error`, () => assert.throws(() => parseSignal(text), isCode('USAGE', /invalid signal/)));
  }
  test('signalName maps numbers back to names, unknown numbers to their digits', () => {
    assert.equal(signalName(9), 'SIGKILL');
    assert.equal(signalName(15), 'SIGTERM');
    assert.equal(signalName(200), '200');
  });
});

describe('formatBytes', () => {
  const cases: Array<[number, string]> = [
    [0, '0B'], [512, '512B'], [1023, '1023B'], [10 * K, '10.0KiB'], [64 * M, '64.0MiB'], [200 * G, '200.0GiB'],
    [1024 ** 5, '1024.0TiB'],
  ];
  for (const [n, text] of cases) test(`${n} bytes → ${text}`, () => assert.equal(formatBytes(n), text));

  test('1.5 MiB is shown as "1.5MiB", as the function documents (docker\'s %.4g style)', () => {
    assert.equal(formatBytes(1.5 * M), '1.5MiB');
  });

  test('every size renders as a number and one binary unit, the unit stepping up at 1024', () => {
    for (let n = 1; n < 1024 ** 4; n = Math.ceil(n * 1.37)) {
      const m = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|TiB)$/.exec(formatBytes(n));
      assert.ok(m, `${n} → ${formatBytes(n)}`);
      const unit = ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(m[2]!);
      assert.equal(unit, Math.floor(Math.log(n) / Math.log(1024) + 1e-12), `${n} → ${formatBytes(n)}`);
    }
  });
});

describe('formatAgo (docker\'s human durations)', () => {
  const S = 1000;
  const cases: Array<[number, string]> = [
    [0, 'Less than a second'], [-5 * S, 'Less than a second'], [1 * S, '1 second'], [3 * S, '3 seconds'],
    [59 * S, '59 seconds'], [60 * S, 'About a minute'], [5 * 60 * S, '5 minutes'], [3600 * S, 'About an hour'],
    [5 * 3600 * S, '5 hours'], [47 * 3600 * S, '47 hours'], [3 * 86400 * S, '3 days'],
    // truncated like Docker: 2 min 59 s is "2 minutes" (the CLI's Created column agrees with the Status)
    [179 * S, '2 minutes'], [59.9 * S, '59 seconds'], [90 * 60 * S, '2 hours'], [20 * 86400 * S, '2 weeks'], [800 * 86400 * S, '2 years'],
  ];
  for (const [ms, text] of cases) test(`${ms} ms → "${text}"`, () => assert.equal(formatAgo(ms), text));
});
