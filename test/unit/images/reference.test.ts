import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GantryError } from '../../../src/common/errors.js';
import { familiarReference, normalizeReference, parseReference } from '../../../src/engine/images/index.js';

describe('image references', () => {
  test('normalise like Docker', () => {
    const cases: Array<[string, string, string]> = [
      ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
      ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
      ['docker.io/library/busybox:musl', 'docker.io/library/busybox:musl', 'busybox:musl'],
      ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
      ['team/app:v2', 'docker.io/team/app:v2', 'team/app:v2'],
      ['registry:5000/repo/name:tag', 'registry:5000/repo/name:tag', 'registry:5000/repo/name:tag'],
      ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
      ['localhost:5000/a/b/c', 'localhost:5000/a/b/c:latest', 'localhost:5000/a/b/c:latest'],
      ['registry.example.com/x', 'registry.example.com/x:latest', 'registry.example.com/x:latest'],
      ['my_app.v2-x__y', 'docker.io/library/my_app.v2-x__y:latest', 'my_app.v2-x__y:latest'],
    ];
    for (const [input, full, familiar] of cases) {
      assert.equal(normalizeReference(input), full, input);
      assert.equal(familiarReference(input), familiar, input);
    }
  });

  test('digest references keep their digest and get no default tag', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const ref = parseReference(`busybox@${digest}`);
    assert.deepEqual(ref, { domain: 'docker.io', path: 'library/busybox', tag: undefined, digest });
    assert.equal(familiarReference(`busybox@${digest}`), `busybox@${digest}`);
    assert.equal(parseReference(`localhost:5000/app:1@${digest}`).tag, '1');
  });

  test('invalid references are INVALID_ARGUMENT errors with a hint', () => {
    for (const bad of ['', 'Busybox', 'busybox:', 'busybox:-bad', 'a//b', '-x', 'x@sha256:123', `busybox:${'t'.repeat(129)}`,
      'bad host/x', ':tag', `${'ab'.repeat(32)}`]) {
      assert.throws(() => parseReference(bad), (e: unknown) => {
        assert.ok(e instanceof GantryError, bad);
        assert.equal(e.code, 'INVALID_ARGUMENT', bad);
        assert.ok(e.hint !== undefined && e.hint.length > 0, bad);
        return true;
      }, bad);
    }
  });

  test('an uppercase repository name says it must be lowercase', () => {
    assert.throws(() => parseReference('Busybox'), /must be lowercase/);
  });
});
