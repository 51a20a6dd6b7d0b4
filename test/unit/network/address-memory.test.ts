// Sticky addresses: the network side's index of the addresses containers had last (their records keep them).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressMemory } from '../../../src/engine/network/address-memory.js';

describe('AddressMemory', () => {
  test('remembers the last address per network, and a daemon restart finds it again in the records', () => {
    const m = new AddressMemory();
    m.remember('c1', { netA: '172.20.0.5', netB: '172.21.0.9' });
    m.remember('c2', { netA: '172.20.0.6' });
    assert.equal(m.preferred('c1', 'netA'), '172.20.0.5');
    const again = new AddressMemory();
    again.load([
      { id: 'c1', state: { lastAddresses: { netA: '172.20.0.5', netB: '172.21.0.9' } } },
      { id: 'c2', state: { lastAddresses: { netA: '172.20.0.6' } } },
      { id: 'c3', state: {} },
    ]);
    assert.equal(again.preferred('c1', 'netA'), '172.20.0.5');
    assert.equal(again.preferred('c1', 'netB'), '172.21.0.9');
    assert.equal(again.preferred('c2', 'netB'), undefined);
    assert.equal(again.preferred('c3', 'netA'), undefined);
    assert.deepEqual(again.wantedByOthers('netA', 'c1'), ['172.20.0.6']);
  });

  test('forgets removed containers, disconnected networks and removed networks', () => {
    const m = new AddressMemory();
    m.remember('c1', { netA: '172.20.0.5' });
    m.remember('c2', { netA: '172.20.0.6' });
    m.remember('c3', { netA: '172.20.0.7', netB: '172.21.0.7' });
    m.forgetContainer('c1');
    m.forget('c3', 'netA');
    assert.equal(m.preferred('c1', 'netA'), undefined);
    assert.equal(m.preferred('c3', 'netA'), undefined);
    assert.equal(m.preferred('c3', 'netB'), '172.21.0.7');
    m.forgetNetwork('netB');
    assert.equal(m.preferred('c3', 'netB'), undefined);
    assert.deepEqual(m.wantedByOthers('netA', 'x'), ['172.20.0.6']);
  });
});
