import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkMembers, quarantineRecord, readRecord, refusedRecords, SAME_LAYOUT, writeRecord, type RecordFile, type RecordFormat,
} from '../../../src/common/versioned-record.js';
import { removeDir, tempDir } from './helpers.js';

interface Pet { name: string; legs: number; sound: string }

// Format 0: { name, legs }; 1 added `sound` (default "none"); 2 is the same layout as 1.
const PET: RecordFormat<Pet> = {
  what: 'pet record',
  version: 2,
  upgrades: { 0: (d) => ({ ...d, sound: 'none' }), 1: SAME_LAYOUT },
  check: (d) => checkMembers(d, { name: 'string', legs: 'number', sound: 'string' }),
};

describe('versioned records', () => {
  let root = '';
  let f: RecordFile = { root: '', rel: '' };
  beforeEach(() => {
    root = tempDir();
    f = { root, rel: 'pets/rex.json' };
    mkdirSync(join(root, 'pets'));
  });
  afterEach(() => removeDir(root));
  const put = (value: unknown): void => writeFileSync(join(root, f.rel), typeof value === 'string' ? value : JSON.stringify(value));

  test('written with the current version first, read back as the record without it', () => {
    writeRecord(f, PET, { name: 'rex', legs: 4, sound: 'woof' });
    assert.equal(readFileSync(join(root, f.rel), 'utf8'), '{\n  "version": 2,\n  "name": "rex",\n  "legs": 4,\n  "sound": "woof"\n}\n');
    assert.deepEqual(readRecord(f, PET), { status: 'ok', value: { name: 'rex', legs: 4, sound: 'woof' }, fromVersion: 2 });
    assert.deepEqual(readdirSync(join(root, 'pets')), ['rex.json']);
  });

  test('a record without a version is format 0 and is upgraded in memory step by step; the file is untouched until a save', () => {
    put({ name: 'rex', legs: 4 });
    assert.deepEqual(readRecord(f, PET), { status: 'ok', value: { name: 'rex', legs: 4, sound: 'none' }, fromVersion: 0 });
    put({ version: 1, name: 'rex', legs: 3, sound: 'yap' });
    assert.deepEqual(readRecord(f, PET), { status: 'ok', value: { name: 'rex', legs: 3, sound: 'yap' }, fromVersion: 1 });
    assert.equal(JSON.parse(readFileSync(join(root, f.rel), 'utf8')).version, 1);
  });

  test('a missing file is "missing", not an error', () => {
    assert.deepEqual(readRecord({ root, rel: 'pets/none.json' }, PET), { status: 'missing' });
  });

  test('a newer format is refused with STATE_TOO_NEW naming the file, both formats and what to do', () => {
    put({ version: 3, name: 'rex', anything: true });
    const r = readRecord(f, PET);
    assert.equal(r.status, 'refused');
    assert.ok(r.status === 'refused');
    assert.equal(r.error.code, 'STATE_TOO_NEW');
    assert.equal(r.error.message, 'pets/rex.json was written by a newer gantry (format 3, this build reads up to 2)');
    assert.equal(r.error.hint, 'upgrade gantry, or move the file aside');
    assert.deepEqual(refusedRecords(root).map((e) => e.code), ['STATE_TOO_NEW']);
  });

  test('damage is STATE_CORRUPT with the reason, never the content', () => {
    const cases: [unknown, string][] = [
      ['{"name": "rex", "le', 'not valid JSON'],
      ['', 'empty'],
      ['[1, 2]', 'not a JSON object'],
      ['null', 'not a JSON object'],
      [{ version: 'two', name: 'rex', legs: 4 }, 'its "version" is not a format number'],
      [{ version: -1, name: 'rex', legs: 4 }, 'its "version" is not a format number'],
      [{ version: 1.5, name: 'rex', legs: 4 }, 'its "version" is not a format number'],
      [{ version: 2, name: 'rex', sound: 'x' }, 'no "legs"'],
      [{ version: 2, name: 'rex', legs: 'four', sound: 'x' }, '"legs" is not a number'],
    ];
    for (const [content, reason] of cases) {
      put(content);
      const r = readRecord(f, PET);
      assert.ok(r.status === 'refused', JSON.stringify(content));
      assert.equal(r.error.code, 'STATE_CORRUPT');
      assert.equal(r.error.message, `pets/rex.json is damaged (${reason})`);
    }
  });

  test('a format with no upgrade step to the current one is damaged, not guessed at', () => {
    const strict: RecordFormat<Pet> = { ...PET, upgrades: { 1: SAME_LAYOUT } };
    put({ name: 'rex', legs: 4 });
    const r = readRecord(f, strict);
    assert.ok(r.status === 'refused');
    assert.equal(r.error.message, 'pets/rex.json is damaged (format 0 is not one this build can read)');
  });

  test('quarantine moves the file under <root>/quarantine with its path in the name, and never overwrites an earlier copy', () => {
    put('garbage 1');
    const first = quarantineRecord(f);
    put('garbage 2');
    const second = quarantineRecord(f);
    assert.match(first, /^quarantine\/\d{4}-\d\d-\d\dT\d{9}Z-pets-rex\.json$/);
    assert.notEqual(first, second);
    assert.equal(existsSync(join(root, f.rel)), false);
    assert.equal(readFileSync(join(root, first), 'utf8'), 'garbage 1');
    assert.equal(readFileSync(join(root, second), 'utf8'), 'garbage 2');
  });

  test('the refusal list follows the file: a record fixed (or gone) is no longer reported', () => {
    put({ version: 9 });
    readRecord(f, PET);
    assert.equal(refusedRecords(root).length, 1);
    writeRecord(f, PET, { name: 'rex', legs: 4, sound: 'woof' });
    readRecord(f, PET);
    assert.deepEqual(refusedRecords(root), []);
  });
});
