// Each store's answer to a record it cannot use: written by a newer gantry (left exactly as it is, its object
// left alone) or damaged (moved to quarantine, reported, never acted on).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { refusedRecords } from '../../../src/common/versioned-record.js';
import { StackStore, type StackRecord } from '../../../src/daemon/stack-store.js';
import { ImageIndexFile } from '../../../src/engine/images/image-index.js';
import { LayerStore } from '../../../src/engine/images/layers.js';
import { sweepInterruptedWrites } from '../../../src/daemon/interrupted-writes.js';
import { NetworkStore, type NetworkRecord } from '../../../src/engine/network/store.js';
import { VolumeStore } from '../../../src/engine/volumes/store.js';
import { DEFAULT_UP_OPTIONS } from '../../../src/reconcile/types.js';
import { isCode, removeDir, tempDir } from './helpers.js';

const FUTURE = JSON.stringify({ version: 999, whatever: 'a newer layout' });
const NET_ID = 'aa11bb22' + '3'.repeat(56);

function netRecord(id: string, name: string): NetworkRecord {
  return { id, name, driver: 'bridge', created: '2024-01-01T00:00:00.000Z', subnet: '10.9.0.0/24', gateway: '10.9.0.1', internal: false, bridge: 'gtbr-x', labels: {}, options: {}, isDefault: false };
}

describe('stores and records they cannot use', () => {
  let root = '';
  beforeEach(() => { root = tempDir(); });
  afterEach(() => removeDir(root));
  const write = (rel: string, text: string): void => { mkdirSync(join(root, rel, '..'), { recursive: true }); writeFileSync(join(root, rel), text); };
  const read = (rel: string): string => readFileSync(join(root, rel), 'utf8');
  const quarantined = (): string[] => (existsSync(join(root, 'quarantine')) ? readdirSync(join(root, 'quarantine')) : []);

  test('volumes: a newer record holds the volume: not listed, not created over, not removed, data kept', () => {
    write('volumes/future/volume.json', FUTURE);
    write('volumes/future/_data/keep', 'x');
    const s = new VolumeStore(root);
    assert.deepEqual(s.list(), []);
    assert.throws(() => s.create('future'), isCode('STATE_TOO_NEW', /^volume future cannot be used: volumes\/future\/volume.json was written by a newer gantry \(format 999, this build reads up to 1\)/));
    assert.throws(() => s.remove('future', []), isCode('STATE_TOO_NEW'));
    assert.equal(read('volumes/future/volume.json'), FUTURE);
    assert.equal(read('volumes/future/_data/keep'), 'x');
    assert.deepEqual(refusedRecords(root).map((e) => e.code), ['STATE_TOO_NEW']);
  });

  test('volumes: a damaged record is quarantined, the volume held with its data; one without a record is held too', () => {
    write('volumes/broken/volume.json', '{"name": "bro');
    write('volumes/broken/_data/keep', 'x');
    mkdirSync(join(root, 'volumes', 'bare', '_data'), { recursive: true });
    const s = new VolumeStore(root);
    assert.equal(quarantined().length, 1);
    assert.throws(() => s.create('broken'), isCode('STATE_CORRUPT', /volumes\/broken\/volume.json is damaged \(not valid JSON\); moved to quarantine\//));
    assert.throws(() => s.get('bare'), isCode('STATE_CORRUPT', /volume bare has no record/));
    assert.equal(read('volumes/broken/_data/keep'), 'x');
    // Today's format (no version) is read, and a new record is written in the current one.
    write('volumes/old/volume.json', JSON.stringify({ name: 'old', createdAt: '2024-01-01T00:00:00.000Z', labels: { a: 'b' }, options: {}, anonymous: false }));
    const again = new VolumeStore(root);
    assert.deepEqual(again.get('old').labels, { a: 'b' });
    again.create('fresh');
    assert.equal(JSON.parse(read('volumes/fresh/volume.json')).version, 1);
  });

  test('networks: a newer record is not loaded, never rewritten or deleted, and its bridge is reported to keep', () => {
    write(`networks/${NET_ID}.json`, FUTURE);
    write('networks/endpoints/c1.json', FUTURE);
    const s = new NetworkStore(root);
    assert.deepEqual(s.loadNetworks(), []);
    assert.deepEqual(s.loadStates(), []);
    assert.deepEqual([...s.refusedNetworkIds()], [NET_ID]);
    assert.throws(() => s.saveNetwork(netRecord(NET_ID, 'x')), isCode('STATE_TOO_NEW', /refusing to overwrite/));
    s.deleteNetwork(NET_ID);
    s.deleteState('c1');
    assert.equal(read(`networks/${NET_ID}.json`), FUTURE);
    assert.equal(read('networks/endpoints/c1.json'), FUTURE);
  });

  test('networks: damaged records are quarantined; today\'s records are read; saves are versioned', () => {
    write('networks/bad.json', '');
    write('networks/old.json', JSON.stringify(netRecord('old', 'oldnet')));
    const s = new NetworkStore(root);
    assert.deepEqual(s.loadNetworks().map((n) => n.name), ['oldnet']);
    assert.deepEqual(quarantined().map((q) => q.replace(/^\S+?Z-/, '')), ['networks-bad.json']);
    assert.match(refusedRecords(root)[0]!.message, /^networks\/bad.json is damaged \(empty\); moved to quarantine\/\S+; the network is not managed by this build/);
    s.saveNetwork(netRecord('n2', 'two'));
    assert.equal(JSON.parse(read('networks/n2.json')).version, 1);
  });

  test('networks: temp files of writes a crash interrupted are removed at start; records and other files are kept', () => {
    write('networks/endpoints/.c1.json.4242.0.tmp', '{"containerId": "c1", "pi');
    write(`networks/.${NET_ID}.json.4242.7.tmp`, '{');
    write(`networks/${NET_ID}.json`, JSON.stringify(netRecord(NET_ID, 'kept')));
    write('networks/endpoints/notes.tmp', 'not ours');
    assert.deepEqual(sweepInterruptedWrites(root).sort(), [`networks/.${NET_ID}.json.4242.7.tmp`, 'networks/endpoints/.c1.json.4242.0.tmp']);
    const s = new NetworkStore(root);
    assert.deepEqual(readdirSync(join(root, 'networks', 'endpoints')), ['notes.tmp']);
    assert.deepEqual(s.loadNetworks().map((n) => n.name), ['kept']);
    assert.deepEqual(sweepInterruptedWrites(root), [], 'nothing left the second time');
    s.saveNetwork(netRecord('n3', 'three'));
    assert.deepEqual(readdirSync(join(root, 'networks')).filter((n) => n.endsWith('.tmp')), [], 'a save leaves no temp file');
  });

  test('stacks: a newer stored stack is left out of the list, and get/save/delete refuse it', () => {
    write('stacks/future.json', FUTURE);
    const s = new StackStore(root);
    assert.deepEqual(s.list(), []);
    assert.throws(() => s.get('future'), isCode('STATE_TOO_NEW', /stacks\/future.json was written by a newer gantry.*stack future is left alone/));
    const rec = { project: 'future', model: { services: {}, networks: {}, volumes: {} }, options: DEFAULT_UP_OPTIONS, held: false, updated: '' } as unknown as StackRecord;
    assert.throws(() => s.save(rec), isCode('STATE_TOO_NEW'));
    assert.throws(() => s.delete('future'), isCode('STATE_TOO_NEW'));
    assert.equal(read('stacks/future.json'), FUTURE);
  });

  test('stacks: a damaged stored stack is quarantined and the project has no stored state', () => {
    write('stacks/broken.json', '{"project": "broken", "model": {}, "options": {}, "held": false}');
    const s = new StackStore(root);
    assert.equal(s.get('broken'), undefined);
    assert.match(refusedRecords(root)[0]!.message, /^stacks\/broken.json is damaged \(no "services"\); moved to quarantine/);
    assert.equal(existsSync(join(root, 'stacks', 'broken.json')), false);
    assert.equal(quarantined().length, 1);
  });

  test('image index: newer or damaged stops the daemon (everything would look unreferenced), nothing moved', () => {
    write('images/index.json', FUTURE);
    assert.throws(() => new ImageIndexFile(root).load(), isCode('STATE_TOO_NEW', /^images\/index.json was written by a newer gantry \(format 999, this build reads up to 1\); the daemon does not start without its image index$/));
    write('images/index.json', '{"images": {}, "refs": {}}'); // the index always had a version: none is damage
    assert.throws(() => new ImageIndexFile(root).load(), isCode('STATE_CORRUPT', /format 0 is not one this build can read/));
    assert.equal(read('images/index.json'), '{"images": {}, "refs": {}}');
    assert.deepEqual(quarantined(), []);
    write('images/index.json', '{"version": 1, "images": {}, "refs": {"docker.io/library/a:latest": "sha256:1"}}');
    assert.deepEqual(new ImageIndexFile(root).load(), { images: {}, refs: { 'docker.io/library/a:latest': 'sha256:1' } });
  });

  test('layers: a newer layer record is refused; a damaged one is quarantined (the layer counts as not extracted)', () => {
    const hex = 'c'.repeat(64);
    write(`layers/${hex}/layer.json`, FUTURE);
    const layers = new LayerStore(root);
    assert.throws(() => layers.get(`sha256:${hex}`), isCode('STATE_TOO_NEW'));
    write(`layers/${hex}/layer.json`, '{');
    assert.throws(() => layers.get(`sha256:${hex}`), isCode('STATE_CORRUPT', /moved to quarantine\/.*the layer counts as not extracted/));
    assert.equal(layers.get(`sha256:${hex}`), undefined);
    write(`layers/${hex}/layer.json`, JSON.stringify({ chainId: `sha256:${hex}`, diffId: `sha256:${hex}`, parent: null, size: 3 }));
    assert.equal(layers.get(`sha256:${hex}`)?.size, 3);
  });
});
