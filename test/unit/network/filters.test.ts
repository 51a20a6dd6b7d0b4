// `network ls --filter` and `network prune --filter` rules (pure): which networks each filter keeps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInspectInfo } from 'dockerode';
import { networkListFilter, networkPruneFilter, parseUntil } from '../../../src/engine/network/filters.js';

function net(name: string, extra: Partial<NetworkInspectInfo> = {}): NetworkInspectInfo {
  return {
    Name: name, Id: `${name.length.toString(16).padStart(2, '0')}${'a'.repeat(62)}`, Created: '2024-01-01T00:00:00.000Z', Scope: 'local',
    Driver: name === 'host' ? 'host' : name === 'none' ? 'null' : 'bridge', EnableIPv6: false, Internal: false, Attachable: false,
    Ingress: false, IPAM: { Driver: 'default', Config: [] }, Containers: {}, Options: {}, Labels: {}, ...extra,
  } as NetworkInspectInfo;
}

const busy = { c1: { Name: 'app', EndpointID: 'e', MacAddress: '', IPv4Address: '10.0.0.2/24', IPv6Address: '' } };
const all = [
  net('bridge'), net('host'), net('none'),
  net('web-front', { Labels: { env: 'prod', team: 'a' }, Containers: busy }),
  net('web-back', { Labels: { env: 'dev' }, Created: '2024-06-01T00:00:00.000Z' }),
  net('cache', { Labels: { team: '' } }),
];
const pick = (f: (n: NetworkInspectInfo) => boolean): string[] => all.filter(f).map((n) => n.Name);

describe('network ls filters', () => {
  test('no filters keep everything', () => {
    assert.equal(pick(networkListFilter({})).length, all.length);
  });

  test('name is a substring; values of one key are alternatives, different keys must all hold', () => {
    assert.deepEqual(pick(networkListFilter({ name: ['web'] })), ['web-front', 'web-back']);
    assert.deepEqual(pick(networkListFilter({ name: ['front', 'cache'] })), ['web-front', 'cache']);
    assert.deepEqual(pick(networkListFilter({ name: ['web'], label: ['env=dev'] })), ['web-back']);
  });

  test('label=KEY matches any value (also empty), label=KEY=VALUE that value only; several labels must all match', () => {
    assert.deepEqual(pick(networkListFilter({ label: ['team'] })), ['web-front', 'cache']);
    assert.deepEqual(pick(networkListFilter({ label: ['env=prod'] })), ['web-front']);
    assert.deepEqual(pick(networkListFilter({ label: ['env=prod', 'team=b'] })), []);
  });

  test('driver, id prefix, scope, type and dangling', () => {
    assert.deepEqual(pick(networkListFilter({ driver: ['null', 'host'] })), ['host', 'none']);
    assert.deepEqual(pick(networkListFilter({ id: ['05'] })), ['cache']);
    assert.deepEqual(pick(networkListFilter({ scope: ['swarm'] })), []);
    assert.deepEqual(pick(networkListFilter({ type: ['builtin'] })), ['bridge', 'host', 'none']);
    assert.deepEqual(pick(networkListFilter({ type: ['custom'] })), ['web-front', 'web-back', 'cache']);
    assert.deepEqual(pick(networkListFilter({ type: ['custom'], dangling: ['true'] })), ['web-back', 'cache']);
    assert.deepEqual(pick(networkListFilter({ type: ['custom'], dangling: ['0'] })), ['web-front']);
  });

  test('unknown keys and bad values are refused, naming them', () => {
    assert.throws(() => networkListFilter({ colour: ['red'] }), /invalid filter 'colour'/);
    assert.throws(() => networkListFilter({ type: ['shiny'] }), /invalid filter 'type=shiny'/);
    assert.throws(() => networkListFilter({ dangling: ['maybe'] }), /invalid filter 'dangling=maybe'/);
    assert.throws(() => networkListFilter({ until: ['1h'] }), /invalid filter 'until'/);
  });
});

describe('network prune filters', () => {
  const now = Date.parse('2024-07-01T00:00:00.000Z');

  test('never a pre-defined network or one with containers', () => {
    assert.deepEqual(pick(networkPruneFilter({}, now)), ['web-back', 'cache']);
  });

  test('label and label! select among the unused ones', () => {
    assert.deepEqual(pick(networkPruneFilter({ label: ['env'] }, now)), ['web-back']);
    assert.deepEqual(pick(networkPruneFilter({ 'label!': ['env'] }, now)), ['cache']);
    assert.deepEqual(pick(networkPruneFilter({ 'label!': ['env=prod'] }, now)), ['web-back', 'cache']);
  });

  test('until keeps networks created at or after the time', () => {
    assert.deepEqual(pick(networkPruneFilter({ until: ['2024-03-01'] }, now)), ['cache']);
    assert.deepEqual(pick(networkPruneFilter({ until: ['24h'] }, now)), ['web-back', 'cache']);
    assert.deepEqual(pick(networkPruneFilter({ until: ['4000h'] }, now)), ['cache']);
  });

  test('list-only keys are refused', () => {
    assert.throws(() => networkPruneFilter({ name: ['x'] }, now), /invalid filter 'name'/);
    assert.throws(() => networkPruneFilter({ until: ['soon'] }, now), /invalid filter 'until=soon'/);
  });
});

describe('parseUntil', () => {
  const now = 1_700_000_000_000;
  test('Go durations before now, Unix seconds, dates', () => {
    assert.equal(parseUntil('90m', now), now - 90 * 60_000);
    assert.equal(parseUntil('1h30m', now), now - 90 * 60_000);
    assert.equal(parseUntil('1.5h', now), now - 90 * 60_000);
    assert.equal(parseUntil('250ms', now), now - 250);
    assert.equal(parseUntil('1600000000', now), 1_600_000_000_000);
    assert.equal(parseUntil('1600000000.5', now), 1_600_000_000_500);
    assert.equal(parseUntil('2024-01-02T15:04:05Z', now), Date.parse('2024-01-02T15:04:05Z'));
  });
});
