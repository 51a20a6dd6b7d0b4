// Every load path of the daemon's state, fed a sample record (written by the previous main:
// test/fixtures/root-v0) cut at every byte: nothing throws but what must stop the daemon (the image index, with
// a message naming the file), a cut record is never taken as valid, and its object is left alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { StackStore } from '../../../src/daemon/stack-store.js';
import { ContainerStore } from '../../../src/engine/containers/store.js';
import { ImageIndexFile } from '../../../src/engine/images/image-index.js';
import { LayerStore } from '../../../src/engine/images/layers.js';
import { NetworkStore } from '../../../src/engine/network/store.js';
import { VolumeStore } from '../../../src/engine/volumes/store.js';
import { PROJECT_ROOT } from '../../helpers/daemon.js';
import { removeDir, tempDir } from './helpers.js';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'root-v0');
const CONTAINER = '1c89697ab8f90e153cc17f61098d10baccf4d25276a85d8214840658b1bdd81a';
const NETWORK = '15487b47de569315b8b4400e79d6712cb39ed6d4681b0994b572b3d999655865';
const LAYER = '896f68656c46e6ab1b8abe2c90f9d1519e20fa8a541a8b619bef66acaebc755e';

/** Runs `load` on a fresh root holding `rel` cut to every length 0..n; `whole`: nothing but trailing space was cut. */
function everyCut(rel: string, load: (root: string, whole: boolean) => void): number {
  const sample = readFileSync(join(FIXTURE, rel));
  for (let n = 0; n <= sample.length; n++) {
    const root = tempDir();
    try {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), sample.subarray(0, n));
      load(root, sample.subarray(0, n).toString('utf8').trimEnd() === sample.toString('utf8').trimEnd());
    } catch (e) {
      throw new Error(`${rel} cut at byte ${n} of ${sample.length}: ${e instanceof Error ? e.stack : String(e)}`);
    } finally {
      removeDir(root);
    }
  }
  return sample.length;
}

describe('damaged state, cut at every byte of a sample record', () => {
  test('container.json: loads without throwing; a cut record holds the container (never listed, never acted on)', () => {
    everyCut(`containers/${CONTAINER}/container.json`, (root, whole) => {
      const s = new ContainerStore(root);
      s.load();
      if (whole) assert.equal(s.find(CONTAINER)?.id, CONTAINER);
      else {
        assert.equal(s.find(CONTAINER), undefined, 'a cut record is not taken as valid');
        assert.ok(s.held().has(CONTAINER), 'its container is held: recovery leaves its processes alone');
      }
    });
  });

  test('network record and endpoint state: load without throwing; a cut one is not taken', () => {
    everyCut(`networks/${NETWORK}.json`, (root, whole) => {
      const ids = new NetworkStore(root).loadNetworks().map((n) => n.id);
      assert.deepEqual(ids, whole ? [NETWORK] : []);
    });
    everyCut(`networks/endpoints/${CONTAINER}.json`, (root, whole) => {
      assert.equal(new NetworkStore(root).loadStates().length, whole ? 1 : 0);
    });
  });

  test('volume.json: loads without throwing; a cut one holds the volume and keeps its data', () => {
    everyCut('volumes/fxdata/volume.json', (root, whole) => {
      const s = new VolumeStore(root);
      assert.deepEqual(s.list().map((v) => v.name), whole ? ['fxdata'] : []);
    });
  });

  test('stored stack: list never throws; a cut one is left out', () => {
    everyCut('stacks/fxstack.json', (root, whole) => {
      const s = new StackStore(root);
      assert.deepEqual(s.list().map((r) => r.project), whole ? ['fxstack'] : []);
    });
  });

  test('layer record: a cut one is refused with a typed error, never taken', () => {
    everyCut(`layers/${LAYER}/layer.json`, (root, whole) => {
      const layers = new LayerStore(root);
      try {
        const rec = layers.get(`sha256:${LAYER}`);
        assert.ok(whole ? rec !== undefined : rec === undefined);
      } catch (e) {
        assert.ok(!whole && e instanceof GantryError && ['STATE_CORRUPT', 'STATE_TOO_NEW'].includes(e.code), String(e));
      }
    });
  });

  test('image index: a cut one stops the daemon with a typed error naming the file, never a crash', () => {
    everyCut('images/index.json', (root, whole) => {
      const index = new ImageIndexFile(root);
      if (whole) { index.load(); return; }
      // An empty file (cut at 0) or a cut that still parses as nothing must not pass for an empty store either.
      assert.throws(() => index.load(), (e: unknown) => e instanceof GantryError && e.code === 'STATE_CORRUPT' && e.message.includes('images/index.json'));
    });
  });

  test('a container record with a status no build knows is damage: held, never listed (ps -a used to crash on it)', () => {
    const root = tempDir();
    try {
      const rel = `containers/${CONTAINER}/container.json`;
      const rec = JSON.parse(readFileSync(join(FIXTURE, rel), 'utf8')) as { state: { status: string } };
      rec.state.status = 'levitating';
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), JSON.stringify(rec));
      const s = new ContainerStore(root);
      s.load();
      assert.equal(s.find(CONTAINER), undefined);
      assert.match(s.heldContainers()[0]?.reason.message ?? '', /no known "state.status"/);
    } finally {
      removeDir(root);
    }
  });
});
