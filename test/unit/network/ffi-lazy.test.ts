// The CLI imports engine modules for their types and pure helpers; koffi must not load until a syscall is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

test('importing the network modules does not load koffi', async () => {
  await import('../../../src/engine/network/bridge.js');
  await import('../../../src/sys/netlink.js');
  await import('../../../src/sys/netns.js');
  const ffi = await import('../../../src/sys/ffi.js');
  const cache = createRequire(import.meta.url).cache;
  assert.ok(!Object.keys(cache).some((k) => k.includes('/koffi/')), 'koffi is not loaded yet');
  assert.equal(ffi.errnoName(17), 'EEXIST'); // first use loads it
  assert.ok(Object.keys(cache).some((k) => k.includes('/koffi/')), 'and now it is');
});
