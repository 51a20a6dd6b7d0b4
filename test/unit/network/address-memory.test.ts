// Sticky addresses: what the network manager remembers per container and network, persisted in a temp root.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressMemory } from '../../../src/engine/network/address-memory.js';
import { NetworkStore } from '../../../src/engine/network/store.js';

function withRoot(fn: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'gantry-addr-'));
  try { fn(root); } finally { rmSync(root, { recursive: true, force: true }); }
}

describe('AddressMemory', () => {
  test('remembers the last address per network and survives a daemon restart', () => withRoot((root) => {
    const m = new AddressMemory(new NetworkStore(root));
    m.remember('c1', 'netA', '172.20.0.5');
    m.remember('c1', 'netB', '172.21.0.9');
    m.remember('c2', 'netA', '172.20.0.6');
    const again = new AddressMemory(new NetworkStore(root));
    again.load(() => true);
    assert.equal(again.preferred('c1', 'netA'), '172.20.0.5');
    assert.equal(again.preferred('c1', 'netB'), '172.21.0.9');
    assert.equal(again.preferred('c2', 'netB'), undefined);
    assert.deepEqual(again.wantedByOthers('netA', 'c1'), ['172.20.0.6']);
  }));

  test('forgets removed containers (at load too), disconnected networks and removed networks', () => withRoot((root) => {
    const store = new NetworkStore(root);
    const m = new AddressMemory(store);
    m.remember('c1', 'netA', '172.20.0.5');
    m.remember('c2', 'netA', '172.20.0.6');
    m.remember('c3', 'netA', '172.20.0.7');
    m.remember('c3', 'netB', '172.21.0.7');
    m.forgetContainer('c1');
    m.forget('c3', 'netA');
    assert.equal(m.preferred('c1', 'netA'), undefined);
    assert.equal(m.preferred('c3', 'netA'), undefined);
    assert.equal(m.preferred('c3', 'netB'), '172.21.0.7');
    m.forgetNetwork('netB');
    assert.equal(m.preferred('c3', 'netB'), undefined);
    assert.deepEqual(readdirSync(join(root, 'networks', 'addresses')).sort(), ['c2.json']);
    const again = new AddressMemory(store);
    again.load((id) => id !== 'c2');
    assert.equal(again.preferred('c2', 'netA'), undefined);
    assert.deepEqual(readdirSync(join(root, 'networks', 'addresses')), []);
  }));
});
