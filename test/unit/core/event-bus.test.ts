import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus, type EngineEvent } from '../../../src/engine/events/bus.js';

describe('EventBus', () => {
  test('every subscriber gets each event in Docker\'s shape', () => {
    const bus = new EventBus();
    const a: EngineEvent[] = [];
    const b: EngineEvent[] = [];
    bus.subscribe((e) => a.push(e));
    bus.subscribe((e) => b.push(e));
    const before = Date.now();
    bus.emit('container', 'start', 'abc', { name: 'web', image: 'nginx' });
    assert.equal(a.length, 1);
    assert.deepEqual(b, a);
    const e = a[0]!;
    assert.equal(e.Type, 'container');
    assert.equal(e.Action, 'start');
    assert.deepEqual(e.Actor, { ID: 'abc', Attributes: { name: 'web', image: 'nginx' } });
    assert.equal(e.scope, 'local');
    assert.ok(e.time >= Math.floor(before / 1000) && e.time <= Math.ceil(Date.now() / 1000));
    assert.equal(Math.floor(e.timeNano / 1e9), e.time);
  });

  test('a throwing subscriber does not stop the others or the emitter', () => {
    const bus = new EventBus();
    const got: string[] = [];
    bus.subscribe(() => { throw new Error('broken subscriber'); });
    bus.subscribe((e) => got.push(e.Action));
    assert.doesNotThrow(() => bus.emit('volume', 'create', 'v1'));
    bus.emit('volume', 'destroy', 'v1');
    assert.deepEqual(got, ['create', 'destroy']);
  });

  test('unsubscribe stops delivery to that subscriber only', () => {
    const bus = new EventBus();
    const a: string[] = [];
    const b: string[] = [];
    const offA = bus.subscribe((e) => a.push(e.Action));
    bus.subscribe((e) => b.push(e.Action));
    bus.emit('network', 'create', 'n');
    offA();
    bus.emit('network', 'destroy', 'n');
    assert.deepEqual(a, ['create']);
    assert.deepEqual(b, ['create', 'destroy']);
  });

  test('attributes default to an empty object; events are emitted in order', () => {
    const bus = new EventBus();
    const got: EngineEvent[] = [];
    bus.subscribe((e) => got.push(e));
    for (const action of ['create', 'start', 'die', 'destroy']) bus.emit('container', action, 'c');
    assert.deepEqual(got.map((e) => e.Action), ['create', 'start', 'die', 'destroy']);
    assert.deepEqual(got[0]!.Actor.Attributes, {});
  });
});
