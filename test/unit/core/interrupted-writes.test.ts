// A crash between an atomic write's temp file and its rename leaves the temp behind: the daemon's start removes
// those of every record directory, and nothing else (not a volume's data, not a record, not a look-alike name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../src/common/atomic-file.js';
import { sweepInterruptedWrites } from '../../../src/daemon/interrupted-writes.js';

test('temp files of interrupted writes are swept from record dirs; records, volume data and other names stay', () => {
  const root = mkdtempSync(join(tmpdir(), 'gantry-sweep-'));
  try {
    const put = (rel: string): string => {
      const p = join(root, rel);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, 'x');
      return p;
    };
    const temps = ['containers/abc/.container.json.123.0.tmp', 'volumes/data/.volume.json.9.2.tmp', 'stacks/.web.json.77.1.tmp',
      'stacks/web/.token.5.0.tmp', 'images/.index.json.41.3.tmp', 'deploy/sources/.shop.json.8.0.tmp'].map(put);
    const kept = ['containers/abc/container.json', 'volumes/data/_data/.notes.1.2.tmp', 'stacks/web.json', 'images/index.json',
      'containers/abc/.container.json.tmp', 'containers/abc/upper/.x.1.1.tmp', 'deploy/cache/shop/checkouts/abc/.f.1.1.tmp'].map(put);
    writeFileAtomic(join(root, 'images', 'index.json'), '{}');

    const swept = sweepInterruptedWrites(root).sort();
    assert.deepEqual(swept, ['containers/abc/.container.json.123.0.tmp', 'deploy/sources/.shop.json.8.0.tmp', 'images/.index.json.41.3.tmp', 'stacks/.web.json.77.1.tmp',
      'stacks/web/.token.5.0.tmp', 'volumes/data/.volume.json.9.2.tmp']);
    for (const p of temps) assert.equal(existsSync(p), false, p);
    for (const p of kept) assert.equal(existsSync(p), true, p);
    assert.deepEqual(sweepInterruptedWrites(root), [], 'a second start finds nothing');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a fresh root (no record dirs yet) sweeps nothing and does not fail', () => {
  const root = mkdtempSync(join(tmpdir(), 'gantry-sweep-'));
  try {
    assert.deepEqual(sweepInterruptedWrites(root), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
