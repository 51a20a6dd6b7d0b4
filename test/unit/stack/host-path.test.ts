// Host paths a stack names (bind sources, env files, build contexts) resolve exactly as path.resolve resolves
// them, though resolveHostPath skips the walk over paths that are absolute and normal already.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { resolvedPath, resolveHostPath } from '../../../src/stack/host-path.js';

/** Paths made of the pieces path.resolve treats specially: separators, "." and ".." segments, dots in names. */
const pathLike = fc.array(fc.constantFrom('/', '.', '..', 'a', 'b.', '.c', '..d', '//', './', '../'), { maxLength: 8 }).map((parts) => parts.join(''));

test('resolveHostPath gives what path.resolve gives, for relative and absolute paths alike', () => {
  fc.assert(fc.property(pathLike, pathLike, (base, p) => {
    if (p === '~' || p.startsWith('~/')) return;
    const absBase = `/${base}`;
    assert.equal(resolveHostPath(absBase, p), resolve(absBase, p), `base ${JSON.stringify(absBase)}, path ${JSON.stringify(p)}`);
    assert.equal(resolvedPath(`/${p}`), resolve(`/${p}`), JSON.stringify(`/${p}`));
  }), { numRuns: 3000 });
  assert.equal(resolveHostPath('/srv/app', './data/svc0'), '/srv/app/data/svc0');
  assert.equal(resolveHostPath('/srv/app', 'data/../../etc'), '/srv/etc');
  assert.equal(resolveHostPath('/srv/app', '/var/run/docker.sock/'), '/var/run/docker.sock');
  assert.equal(resolveHostPath('/srv/app', 'C:\\data'), 'C:\\data');
});
