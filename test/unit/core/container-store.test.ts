import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore } from '../../../src/engine/containers/store.js';
import { isCode, makeRecord, removeDir, tempDir } from './helpers.js';

const ID_A = 'abc123' + '0'.repeat(58);
const ID_B = 'abc456' + '1'.repeat(58);
const ID_C = 'def789' + '2'.repeat(58);

describe('ContainerStore', () => {
  let root = '';
  beforeEach(() => { root = tempDir(); });
  afterEach(() => removeDir(root));

  test('save then load in a fresh store gives the same records, newest first', () => {
    const s1 = new ContainerStore(root);
    const a = makeRecord(ID_A, 'web', { created: '2024-01-01T00:00:00.000Z', state: { status: 'running', pid: 42, restartCount: 2 } });
    const b = makeRecord(ID_B, 'db', { created: '2024-02-01T00:00:00.000Z' });
    s1.save(a);
    s1.save(b);
    const s2 = new ContainerStore(root);
    assert.deepEqual(s2.load(), { orphanDirs: [], refused: [] });
    assert.deepEqual(s2.all(), [b, a]);
    assert.deepEqual(s2.get('web'), a);
  });

  test('each record is one container.json under containers/<id>, with no temp files left', () => {
    const s = new ContainerStore(root);
    s.save(makeRecord(ID_A, 'web'));
    s.save({ ...makeRecord(ID_A, 'web'), state: { ...makeRecord(ID_A, 'web').state, status: 'exited', exitCode: 3 } });
    assert.deepEqual(readdirSync(join(root, 'containers', ID_A)), ['container.json']);
    const onDisk = JSON.parse(readFileSync(join(root, 'containers', ID_A, 'container.json'), 'utf8')) as { state: { exitCode: number } };
    assert.equal(onDisk.state.exitCode, 3);
  });

  test('lookup by full id, by name (with or without /), and by a unique id prefix', () => {
    const s = new ContainerStore(root);
    for (const [id, name] of [[ID_A, 'web'], [ID_B, 'db'], [ID_C, 'cache']] as const) s.save(makeRecord(id, name));
    assert.equal(s.get(ID_B).name, 'db');
    assert.equal(s.get('cache').id, ID_C);
    assert.equal(s.get('/cache').id, ID_C);
    assert.equal(s.get('def').id, ID_C);
    assert.equal(s.get('abc1').id, ID_A);
    assert.equal(s.find('nothing-like-it'), undefined);
    assert.equal(s.find('fff'), undefined);
  });

  test('short ids (12 characters, as ps shows them) and longer prefixes; renames and removals leave no stale name or id', () => {
    const s = new ContainerStore(root);
    const twin = 'abc123' + '0'.repeat(6) + 'f'.repeat(52); // same 12 characters as ID_A
    s.save(makeRecord(ID_A, 'web'));
    s.save(makeRecord(ID_B, 'db'));
    assert.equal(s.get(ID_A.slice(0, 12)).id, ID_A);
    assert.equal(s.get(ID_B.slice(0, 20)).id, ID_B);
    s.save(makeRecord(twin, 'twin'));
    assert.throws(() => s.get(ID_A.slice(0, 12)), isCode('CONFLICT', /ambiguous \(2 containers match\)/));
    assert.equal(s.get(ID_A.slice(0, 13)).id, ID_A);
    s.save(makeRecord(ID_A, 'web2'));
    assert.equal(s.find('web'), undefined, 'the old name is free after a rename');
    assert.equal(s.get('web2').id, ID_A);
    s.delete(ID_A);
    assert.equal(s.find('web2'), undefined);
    assert.equal(s.get(ID_A.slice(0, 12)).id, twin, 'the removed one no longer makes the short id ambiguous');
    s.delete(twin);
    assert.equal(s.find(ID_A.slice(0, 12)), undefined);
  });

  test('an exact name wins over an id prefix that looks the same', () => {
    const s = new ContainerStore(root);
    s.save(makeRecord(ID_A, 'web'));
    s.save(makeRecord(ID_C, 'abc'));
    assert.equal(s.get('abc').id, ID_C);
  });

  test('an ambiguous prefix is a CONFLICT asking for more of the id', () => {
    const s = new ContainerStore(root);
    s.save(makeRecord(ID_A, 'web'));
    s.save(makeRecord(ID_B, 'db'));
    assert.throws(() => s.get('abc'), isCode('CONFLICT', /"abc" is ambiguous \(2 containers match\)/));
  });

  test('an unknown reference is CONTAINER_NOT_FOUND', () => {
    const s = new ContainerStore(root);
    assert.throws(() => s.get('ghost'), isCode('CONTAINER_NOT_FOUND', /no such container: ghost/));
  });

  test('a damaged record does not stop the daemon from loading the others; it is quarantined and its container held', () => {
    const s1 = new ContainerStore(root);
    s1.save(makeRecord(ID_A, 'web'));
    const bad = join(root, 'containers', ID_C);
    mkdirSync(join(bad, 'upper'), { recursive: true });
    writeFileSync(join(bad, 'container.json'), '{ not json');
    const s2 = new ContainerStore(root);
    const { orphanDirs, refused } = s2.load();
    assert.deepEqual(orphanDirs, []);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.code, 'STATE_CORRUPT');
    assert.match(refused[0]!.message, new RegExp(`^containers/${ID_C}/container.json is damaged \\(not valid JSON\\); moved to quarantine/\\S+-containers-${ID_C}-container.json; container def789222222 is left alone`));
    assert.deepEqual(s2.all().map((r) => r.id), [ID_A]);
    assert.deepEqual([...s2.held()], [ID_C]);
    // The damaged bytes are kept in quarantine; the container's files stay where they are.
    const [q] = readdirSync(join(root, 'quarantine'));
    assert.equal(readFileSync(join(root, 'quarantine', q!), 'utf8'), '{ not json');
    assert.ok(existsSync(join(bad, 'upper')));
    // Next start: still held (not an orphan to remove), still reported.
    const s3 = new ContainerStore(root);
    const again = s3.load();
    assert.deepEqual(again.orphanDirs, []);
    assert.match(again.refused[0]!.message, /was damaged and is in quarantine\/.*left alone/);
    assert.deepEqual([...s3.held()], [ID_C]);
    // A record put back (repaired) is used again.
    s1.save(makeRecord(ID_C, 'repaired'));
    const s4 = new ContainerStore(root);
    assert.deepEqual(s4.load(), { orphanDirs: [], refused: [] });
    assert.equal(s4.get('repaired').id, ID_C);
    assert.deepEqual(readdirSync(bad).sort(), ['container.json', 'upper']);
  });

  test('a record written by a newer gantry is refused with its format, held, and never rewritten or deleted', () => {
    const dir = join(root, 'containers', ID_B);
    mkdirSync(dir, { recursive: true });
    const text = JSON.stringify({ version: 999, id: ID_B, shape: 'from the future' });
    writeFileSync(join(dir, 'container.json'), text);
    const s = new ContainerStore(root);
    const { refused } = s.load();
    assert.equal(refused[0]!.code, 'STATE_TOO_NEW');
    assert.equal(refused[0]!.message, `containers/${ID_B}/container.json was written by a newer gantry (format 999, this build reads up to 1); container abc456111111 is left alone (its processes, cgroup and files are kept)`);
    assert.equal(refused[0]!.hint, 'upgrade gantry, or move the file aside');
    assert.equal(s.find(ID_B), undefined);
    assert.deepEqual([...s.held()], [ID_B]);
    s.delete(ID_B);
    assert.equal(readFileSync(join(dir, 'container.json'), 'utf8'), text);
  });

  test('reads records written before versioning (no "version") and writes the current format, version first', () => {
    const rec = makeRecord(ID_A, 'old');
    mkdirSync(join(root, 'containers', ID_A), { recursive: true });
    writeFileSync(join(root, 'containers', ID_A, 'container.json'), JSON.stringify(rec));
    const s = new ContainerStore(root);
    assert.deepEqual(s.load(), { orphanDirs: [], refused: [] });
    assert.deepEqual(s.get('old'), rec);
    s.save(rec);
    const text = readFileSync(join(root, 'containers', ID_A, 'container.json'), 'utf8');
    assert.match(text, /^\{\n  "version": 1,\n  "id": /);
  });

  test('load() reports a directory without container.json as an orphan and does not index it', () => {
    const s1 = new ContainerStore(root);
    s1.save(makeRecord(ID_A, 'web'));
    const half = join(root, 'containers', ID_C);
    mkdirSync(join(half, 'upper'), { recursive: true });
    writeFileSync(join(half, 'log.json'), '');
    const s2 = new ContainerStore(root);
    assert.deepEqual(s2.load(), { orphanDirs: [half], refused: [] });
    assert.deepEqual(s2.all().map((r) => r.id), [ID_A]);
    assert.equal(s2.find(ID_C), undefined);
  });

  test('delete removes the record and the container directory', () => {
    const s = new ContainerStore(root);
    s.save(makeRecord(ID_A, 'web'));
    writeFileSync(join(s.containerDir(ID_A), 'container-json.log'), 'x\n');
    s.delete(ID_A);
    assert.equal(s.find('web'), undefined);
    assert.equal(existsSync(join(root, 'containers', ID_A)), false);
    const again = new ContainerStore(root);
    again.load();
    assert.deepEqual(again.all(), []);
  });

  test('delete of an unknown id is harmless', () => {
    const s = new ContainerStore(root);
    s.delete(ID_B);
    assert.deepEqual(s.all(), []);
  });
});
