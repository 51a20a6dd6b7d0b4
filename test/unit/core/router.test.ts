import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Router, boolParam, intParam } from '../../../src/api/router.js';

function makeRouter(): Router {
  const r = new Router();
  r.add('GET', '/_ping', () => 'OK');
  r.add('GET', '/containers/json', () => 'list');
  r.add('POST', '/containers/create', () => 'create', { status: 201 });
  r.add('GET', '/containers/{id}/json', () => 'inspect');
  r.add('POST', '/containers/{id}/start', () => 'start');
  r.add('DELETE', '/containers/{id}', () => 'rm');
  r.add('GET', '/images/{name}/json', () => 'image-inspect');
  r.add('DELETE', '/images/{name}', () => 'rmi');
  r.add('POST', '/images/{name}/tag', () => 'tag');
  return r;
}

const hit = (r: Router, method: string, path: string): [string, Record<string, string>] | undefined => {
  const m = r.match(method, path);
  return m ? [String(m.route.handler({} as never)), m.params] : undefined;
};

describe('Router', () => {
  const r = makeRouter();

  test('plain paths, with and without an API version prefix', () => {
    assert.deepEqual(hit(r, 'GET', '/_ping'), ['OK', {}]);
    assert.deepEqual(hit(r, 'GET', '/v1.43/_ping'), ['OK', {}]);
    assert.deepEqual(hit(r, 'GET', '/v1.41/containers/json'), ['list', {}]);
    assert.deepEqual(hit(r, 'GET', '/v1/containers/json'), ['list', {}]);
  });

  test('a version-looking segment is only stripped at the start', () => {
    assert.equal(hit(r, 'GET', '/containers/v1.43/json')?.[1].id, 'v1.43');
    assert.equal(hit(r, 'GET', '/v1.43'), undefined);
  });

  test('params are captured and URL-decoded', () => {
    assert.deepEqual(hit(r, 'GET', '/v1.43/containers/abc123/json'), ['inspect', { id: 'abc123' }]);
    assert.deepEqual(hit(r, 'POST', '/containers/my%20box/start'), ['start', { id: 'my box' }]);
    assert.deepEqual(hit(r, 'DELETE', '/containers/web'), ['rm', { id: 'web' }]);
  });

  test('an {id} does not span slashes', () => {
    assert.equal(hit(r, 'GET', '/containers/a/b/json'), undefined);
  });

  test('{name} may contain slashes and a registry port (image references)', () => {
    assert.deepEqual(hit(r, 'GET', '/v1.43/images/registry:5000/a/b/json'), ['image-inspect', { name: 'registry:5000/a/b' }]);
    assert.deepEqual(hit(r, 'GET', '/images/library/busybox:latest/json'), ['image-inspect', { name: 'library/busybox:latest' }]);
    assert.deepEqual(hit(r, 'DELETE', '/images/registry:5000/a/b:1.0'), ['rmi', { name: 'registry:5000/a/b:1.0' }]);
    assert.deepEqual(hit(r, 'POST', '/images/ghcr.io%2Fo%2Fimg:1/tag'), ['tag', { name: 'ghcr.io/o/img:1' }]);
    assert.deepEqual(hit(r, 'GET', '/images/sha256:0123abcd/json'), ['image-inspect', { name: 'sha256:0123abcd' }]);
  });

  test('an image literally named "json" under a path still resolves to inspect of the whole name', () => {
    assert.deepEqual(hit(r, 'GET', '/images/acme/json/json'), ['image-inspect', { name: 'acme/json' }]);
  });

  test('a method mismatch does not match; unknown paths do not match', () => {
    assert.equal(hit(r, 'POST', '/containers/json'), undefined);
    assert.equal(hit(r, 'GET', '/containers/abc/start'), undefined);
    assert.equal(hit(r, 'GET', '/nope'), undefined);
    assert.equal(hit(r, 'GET', '/containers/json/extra'), undefined);
  });

  test('the route keeps its declared success status', () => {
    assert.equal(r.match('POST', '/v1.43/containers/create')?.route.status, 201);
    assert.equal(r.match('GET', '/_ping')?.route.status, 200);
  });

  test('a malformed percent-escape in a param is not an internal crash (no plain URIError)', () => {
    let result: unknown;
    try {
      result = r.match('GET', '/containers/%E0%A4%A/json');
    } catch (e) {
      assert.ok(!(e instanceof URIError), `match threw a URIError: ${(e as Error).message}`);
      return;
    }
    assert.equal(result, undefined);
  });
});

describe('query helpers', () => {
  test('boolParam: 1/true (any case) are true, anything else false, missing → default', () => {
    const q = new URLSearchParams('a=1&b=true&c=TRUE&d=0&e=false&f=yes');
    assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => boolParam(q, k)), [true, true, true, false, false, false]);
    assert.equal(boolParam(q, 'missing'), false);
    assert.equal(boolParam(q, 'missing', true), true);
  });

  test('intParam: numbers parsed; missing, empty or not a number → undefined', () => {
    const q = new URLSearchParams('t=10&n=-1&e=&x=abc');
    assert.equal(intParam(q, 't'), 10);
    assert.equal(intParam(q, 'n'), -1);
    assert.equal(intParam(q, 'e'), undefined);
    assert.equal(intParam(q, 'x'), undefined);
    assert.equal(intParam(q, 'missing'), undefined);
  });
});
