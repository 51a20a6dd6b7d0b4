// The teardown gate: what removals leave to do (shims' unmounts, cgroup and file deletions) waits while removals
// are in flight, and goes once none has been for a moment; bounded in time and in count.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HELD, MAX_HOLD_MS, QUIET_MS, TeardownGate } from '../../../src/engine/containers/teardown-gate.js';
import { FakeClock } from '../../fakes/fake-clock.js';

describe('teardown gate', () => {
  test('work waits while a removal is in flight and goes a moment after the last one answered', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    const done: string[] = [];
    const first = gate.begin();
    const second = gate.begin();
    gate.later(() => done.push('a'));
    await clock.advance(QUIET_MS * 4);
    first();
    gate.later(() => done.push('b'));
    await clock.advance(QUIET_MS * 4);
    assert.deepEqual(done, [], 'nothing goes while the second removal is in flight');
    second();
    await clock.advance(QUIET_MS - 1);
    assert.deepEqual(done, []);
    await clock.advance(1);
    assert.deepEqual(done, ['a', 'b'], 'in the order it was held');
    assert.equal(gate.size, 0);
  });

  test('a removal that starts within the quiet moment keeps holding', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    let ran = 0;
    gate.begin()();
    gate.later(() => ran++);
    await clock.advance(QUIET_MS - 5);
    const next = gate.begin();
    await clock.advance(QUIET_MS * 2);
    assert.equal(ran, 0);
    next();
    await clock.advance(QUIET_MS);
    assert.equal(ran, 1);
  });

  test('with no removal in flight (a --rm exit) work goes after the quiet moment', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    let ran = false;
    gate.later(() => { ran = true; });
    await clock.advance(QUIET_MS);
    assert.ok(ran);
  });

  test('bounded in time: held work goes MAX_HOLD_MS after the oldest, even while removals go on', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    const ran: number[] = [];
    gate.begin(); // never answers
    gate.later(() => ran.push(1));
    await clock.advance(MAX_HOLD_MS / 2);
    gate.later(() => ran.push(2));
    await clock.advance(MAX_HOLD_MS / 2 - 1);
    assert.equal(ran.join(), '');
    await clock.advance(1);
    assert.equal(ran.join(), '1,2');
    gate.later(() => ran.push(3)); // a new oldest: its own bound
    await clock.advance(MAX_HOLD_MS - 1);
    assert.equal(ran.join(), '1,2');
    await clock.advance(1);
    assert.equal(ran.join(), '1,2,3');
  });

  test('bounded in count, and flush() lets everything go at once (shutdown)', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    gate.begin();
    let ran = 0;
    for (let i = 0; i < MAX_HELD - 1; i++) gate.later(() => ran++);
    assert.equal(ran, 0);
    gate.later(() => ran++);
    assert.equal(ran, MAX_HELD, 'the one that reaches the bound lets all go');
    gate.later(() => ran++);
    gate.flush();
    assert.equal(ran, MAX_HELD + 1);
  });

  test('one failing piece of work does not keep the others', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    let ran = false;
    gate.later(() => { throw new Error('boom'); });
    gate.later(() => { ran = true; });
    gate.flush();
    assert.ok(ran);
  });

  test('an answered removal counted once, however often its end is called', async () => {
    const clock = new FakeClock();
    const gate = new TeardownGate(clock);
    const a = gate.begin();
    gate.begin();
    a(); a();
    let ran = false;
    gate.later(() => { ran = true; });
    await clock.advance(QUIET_MS * 2);
    assert.equal(ran, false, 'the second removal is still in flight');
  });
});
