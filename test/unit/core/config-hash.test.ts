// The service config hash decides recreation, and containers carry it in their `gantry.config-hash` label: it
// must stay the same across upgrades for services that did not change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceConfigHash } from '../../../src/stack/hash.js';
import type { ServiceModel } from '../../../src/stack/model.js';
import { PROJECT_ROOT } from '../../helpers/daemon.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'root-v0');

/** Services as a stored stack keeps them, with the hashes the code of a540d4f gave them (see the fixture's README). */
const v0 = JSON.parse(readFileSync(join(FIXTURE, 'hash', 'services.json'), 'utf8')) as { services: Record<string, ServiceModel>; hashes: Record<string, string> };
const web = v0.services['web']!;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Sets `value` at `path` in a deep copy of `obj`. */
function setAt(obj: unknown, path: readonly (string | number)[], value: unknown): ServiceModel {
  const copy = structuredClone(obj) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1]!] = value;
  return copy as unknown as ServiceModel;
}

/** Every leaf of a JSON value, with its path. */
function leaves(v: Json, path: (string | number)[] = []): [(string | number)[], Json][] {
  if (Array.isArray(v)) return v.length === 0 ? [[path, v]] : v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    return keys.length === 0 ? [[path, v]] : keys.flatMap((k) => leaves(v[k]!, [...path, k]));
  }
  return [[path, v]];
}

/** Another value of the same kind. */
function changed(v: Json): Json {
  if (typeof v === 'string') return `${v}-changed`;
  if (typeof v === 'number') return v + 1;
  if (typeof v === 'boolean') return !v;
  if (Array.isArray(v)) return ['added'];
  if (v === null) return 'set';
  return { added: 'x' };
}

describe('serviceConfigHash across upgrades', () => {
  test('gives the hashes today\'s containers carry (computed by the code before this hash was made upgrade-stable)', () => {
    for (const [name, svc] of Object.entries(v0.services)) assert.equal(serviceConfigHash(svc), v0.hashes[name], name);
    // The fixture root's stored stack and its container's label agree too.
    const stack = JSON.parse(readFileSync(join(FIXTURE, 'stacks', 'fxstack.json'), 'utf8')) as { model: { services: Record<string, ServiceModel> } };
    assert.equal(serviceConfigHash(stack.model.services['web']!), '94d161dbce458048c9bade3f37e4dc76732732d9038099c673ef21a9bfa38624');
  });

  test('a member added later with a default value leaves the hash unchanged, at any depth', () => {
    const h = serviceConfigHash(web);
    const defaults: [string, unknown][] = [['undefined', undefined], ['null', null], ['false', false], ['[]', []], ['{}', {}], ['{a: [], b: false}', { a: [], b: false }]];
    const places: (string | number)[][] = [
      ['new_member'], ['ports', 0, 'new_member'], ['volumes', 1, 'bind', 'new_member'], ['networks', 'front', 'new_member'],
      ['healthcheck', 'new_member'], ['deploy', 'new_member'], ['deploy', 'limits', 'new_member'], ['ulimits', 'nofile', 'new_member'],
      ['secrets', 0, 'new_member'],
    ];
    for (const place of places) {
      for (const [label, value] of defaults) assert.equal(serviceConfigHash(setAt(web, place, value)), h, `${place.join('.')} = ${label}`);
    }
  });

  test('a member added later changes the hash once it is set (0 and "" count as set)', () => {
    const h = serviceConfigHash(web);
    for (const value of [true, 0, '', 'x', [0], { a: 1 }]) {
      assert.notEqual(serviceConfigHash(setAt(web, ['new_member'], value)), h, JSON.stringify(value));
      assert.notEqual(serviceConfigHash(setAt(web, ['ports', 0, 'new_member'], value)), h, JSON.stringify(value));
    }
  });

  test('changing any value the service has changes the hash (except what must not recreate containers)', () => {
    const h = serviceConfigHash(web);
    const ignored = ['depends_on', 'profiles', 'pull_policy', 'deploy.replicas'];
    const all = leaves(web as unknown as Json);
    assert.ok(all.length > 100, `${all.length} leaves`);
    for (const [path, value] of all) {
      const name = path.join('.');
      const same = serviceConfigHash(setAt(web, path, changed(value))) === h;
      assert.equal(same, ignored.some((p) => name === p || name.startsWith(`${p}.`)), name);
    }
  });

  test('the order of map keys does not matter; the order of lists does', () => {
    const h = serviceConfigHash(web);
    const reversed = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).reverse()) as T;
    assert.equal(serviceConfigHash({ ...reversed(web), environment: reversed(web.environment), labels: reversed(web.labels) }), h);
    assert.notEqual(serviceConfigHash({ ...web, ports: [...web.ports].reverse() }), h);
  });
});
