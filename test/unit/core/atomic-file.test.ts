import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from '../../../src/common/atomic-file.js';
import { removeDir, tempDir } from './helpers.js';

describe('atomic files', () => {
  let dir = '';
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => removeDir(dir));

  test('writeJsonAtomic writes readable JSON and leaves no temp files, even when rewritten many times', () => {
    const p = join(dir, 'rec.json');
    for (let i = 0; i < 20; i++) writeJsonAtomic(p, { n: i, name: 'web' });
    assert.deepEqual(readdirSync(dir), ['rec.json']);
    assert.deepEqual(readJsonFile(p), { n: 19, name: 'web' });
    assert.ok(readFileSync(p, 'utf8').endsWith('}\n'));
  });

  test('records are private to the daemon (mode 0600) by default', () => {
    const p = join(dir, 'secret.json');
    writeJsonAtomic(p, { a: 1 });
    assert.equal(statSync(p).mode & 0o777, 0o600);
    writeFileAtomic(join(dir, 'pub'), 'x', 0o644);
    assert.equal(statSync(join(dir, 'pub')).mode & 0o777, 0o644);
  });

  test('writeFileAtomic replaces the whole content (never appends or leaves a tail)', () => {
    const p = join(dir, 'f');
    writeFileAtomic(p, 'a long first version\n');
    writeFileAtomic(p, Buffer.from('short'));
    assert.equal(readFileSync(p, 'utf8'), 'short');
  });

  test('readJsonFile: undefined for a missing file; a broken file is an error, not silence', () => {
    assert.equal(readJsonFile(join(dir, 'missing.json')), undefined);
    writeFileSync(join(dir, 'bad.json'), '{"torn": ');
    assert.throws(() => readJsonFile(join(dir, 'bad.json')), SyntaxError);
  });

  test('a write into a missing directory fails and creates nothing', () => {
    assert.throws(() => writeJsonAtomic(join(dir, 'nope', 'x.json'), {}), /ENOENT/);
    assert.deepEqual(readdirSync(dir), []);
  });
});
