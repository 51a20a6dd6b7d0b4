import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKOFF_MAX_MS, BACKOFF_RESET_AFTER_MS, BACKOFF_START_MS, nextBackoff, parseRestartPolicy, shouldRestart, type ExitFacts,
} from '../../../src/engine/containers/restart-policy.js';
import type { RestartPolicy } from '../../../src/engine/containers/record.js';

const policy = (name: RestartPolicy['name'], maximumRetryCount = 0): RestartPolicy => ({ name, maximumRetryCount });
const exit = (exitCode: number, more: Partial<ExitFacts> = {}): ExitFacts => ({ exitCode, manuallyStopped: false, restartCount: 0, ...more });

describe('shouldRestart', () => {
  // [policy, facts, restart?, why]
  const cases: Array<[RestartPolicy, ExitFacts, boolean, string]> = [
    [policy('no'), exit(1), false, 'no: never, even on failure'],
    [policy('no'), exit(0, { daemonStarting: true }), false, 'no: not at daemon start either'],
    [policy('always'), exit(0), true, 'always: after a clean exit'],
    [policy('always'), exit(137), true, 'always: after a failure'],
    [policy('always'), exit(0, { manuallyStopped: true }), false, 'always: a manual stop holds'],
    [policy('always'), exit(0, { manuallyStopped: true, daemonStarting: true }), true, 'always: comes back at daemon start even after a manual stop'],
    [policy('always'), exit(1, { restartCount: 1000 }), true, 'always: no retry limit'],
    [policy('unless-stopped'), exit(0), true, 'unless-stopped: after a clean exit'],
    [policy('unless-stopped'), exit(2), true, 'unless-stopped: after a failure'],
    [policy('unless-stopped'), exit(0, { manuallyStopped: true }), false, 'unless-stopped: a manual stop holds'],
    [policy('unless-stopped'), exit(0, { manuallyStopped: true, daemonStarting: true }), false, 'unless-stopped: a manual stop holds across a daemon restart'],
    [policy('unless-stopped'), exit(1, { daemonStarting: true }), true, 'unless-stopped: not stopped by hand, back at daemon start'],
    [policy('on-failure'), exit(0), false, 'on-failure: not after exit 0'],
    [policy('on-failure'), exit(1), true, 'on-failure: after exit 1'],
    [policy('on-failure'), exit(137, { restartCount: 50 }), true, 'on-failure without a maximum: unlimited'],
    [policy('on-failure'), exit(1, { manuallyStopped: true }), false, 'on-failure: not after a manual stop/kill'],
    [policy('on-failure', 3), exit(1, { restartCount: 0 }), true, 'on-failure:3 first retry'],
    [policy('on-failure', 3), exit(1, { restartCount: 2 }), true, 'on-failure:3 third retry'],
    [policy('on-failure', 3), exit(1, { restartCount: 3 }), false, 'on-failure:3 gives up after three retries'],
    [policy('on-failure', 3), exit(0, { restartCount: 0 }), false, 'on-failure:3 not after exit 0'],
  ];
  for (const [p, f, want, why] of cases) {
    test(why, () => assert.equal(shouldRestart(p, f), want));
  }
});

describe('nextBackoff', () => {
  test('starts at 100 ms and doubles while the container keeps failing fast', () => {
    let d = 0;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) { d = nextBackoff(d, 50); seen.push(d); }
    assert.deepEqual(seen, [100, 200, 400, 800, 1600, 3200]);
  });

  test('is capped at one minute', () => {
    let d = 0;
    for (let i = 0; i < 40; i++) d = nextBackoff(d, 0);
    assert.equal(d, BACKOFF_MAX_MS);
    assert.equal(BACKOFF_MAX_MS, 60_000);
    assert.equal(nextBackoff(40_000, 0), 60_000);
  });

  test('resets to 100 ms after a run of at least 10 s, not before', () => {
    assert.equal(BACKOFF_START_MS, 100);
    assert.equal(BACKOFF_RESET_AFTER_MS, 10_000);
    assert.equal(nextBackoff(60_000, 10_000), 100);
    assert.equal(nextBackoff(60_000, 3_600_000), 100);
    assert.equal(nextBackoff(6400, 9_999), 12_800);
  });
});

describe('parseRestartPolicy', () => {
  const ok: Array<[string, RestartPolicy]> = [
    ['no', policy('no')], ['always', policy('always')], ['unless-stopped', policy('unless-stopped')],
    ['on-failure', policy('on-failure')], ['on-failure:3', policy('on-failure', 3)], ['on-failure:0', policy('on-failure', 0)],
  ];
  for (const [text, want] of ok) test(`"${text}"`, () => assert.deepEqual(parseRestartPolicy(text), want));
  for (const text of ['', 'sometimes', 'always:3', 'no:1', 'unless-stopped:2', 'on-failure:', 'on-failure:-1', 'on-failure:x', 'ALWAYS', ' always']) {
    test(`"${text}" is not a policy`, () => assert.equal(parseRestartPolicy(text), undefined));
  }
});
