// The host-side IPv6 switch only ever writes per-interface keys of our own links: the host-wide keys are refused
// before anything is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disableIPv6OnLink } from '../../../src/engine/network/ipv6-off.js';

test('disableIPv6OnLink refuses the host-wide keys all, default and lo', () => {
  for (const name of ['all', 'default', 'lo']) assert.throws(() => disableIPv6OnLink(name), /refusing host-wide key/);
});
