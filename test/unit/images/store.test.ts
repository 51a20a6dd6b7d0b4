import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { GantryError, type ErrorCode } from '../../../src/common/errors.js';
import {
  DEFAULT_PATH_ENV, ImageStore, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST, sha256Digest,
  type OciImageConfig,
} from '../../../src/engine/images/index.js';
import { makeTarball, removeDir, tempDir } from './fixtures.js';
import { BLOCK, encodeBodylessEntry, encodeHeader, paddedSize } from '../../../src/engine/images/tar.js';

const sha256File = (path: string): string => `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
const isCode = (code: ErrorCode) => (e: unknown): boolean => e instanceof GantryError && e.code === code;
const layerDirsOnDisk = (root: string): string[] => readdirSync(join(root, 'layers'));
const blobsOnDisk = (root: string): string[] => readdirSync(join(root, 'blobs', 'sha256')).sort();

describe('ImageStore', () => {
  let dir = '';
  let root = '';
  let rootfs = '';
  let store: ImageStore;

  beforeEach(() => {
    dir = tempDir();
    root = join(dir, 'root');
    rootfs = makeTarball(join(dir, 'rootfs.tar'), {
      'bin/sh': '#!fake shell\n',
      'bin/ls': { symlink: 'sh' },
      'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n',
      'tmp': { dir: true },
    });
    store = new ImageStore({ root });
  });
  afterEach(() => removeDir(dir));

  test('import makes a one-layer OCI image, stored by digest, tagged and listed', async () => {
    const image = await store.importTarball(rootfs, 'mybox');
    assert.deepEqual(image.repoTags, ['mybox:latest']);
    assert.equal(image.id, sha256File(join(root, 'blobs', 'sha256', image.id.slice(7))), 'the id is the config blob digest');
    assert.equal(image.manifestDigest, sha256File(join(root, 'blobs', 'sha256', image.manifestDigest.slice(7))));
    assert.equal(image.manifest.mediaType, MEDIA_TYPE_MANIFEST);
    assert.equal(image.manifest.config.mediaType, MEDIA_TYPE_CONFIG);
    assert.equal(image.manifest.layers.length, 1);
    const layerBlob = image.manifest.layers[0]!;
    assert.equal(layerBlob.mediaType, MEDIA_TYPE_LAYER_GZIP);
    assert.deepEqual([...readFileSync(join(root, 'blobs', 'sha256', layerBlob.digest.slice(7))).subarray(0, 2)], [0x1f, 0x8b], 'a plain tar is stored gzip-compressed');

    assert.deepEqual(image.config.rootfs, { type: 'layers', diff_ids: [sha256File(rootfs)] }, 'diff id = sha256 of the uncompressed tar');
    assert.equal(image.config.os, 'linux');
    assert.equal(image.config.architecture, process.arch === 'x64' ? 'amd64' : image.config.architecture);
    assert.deepEqual(store.config(image), { Env: [DEFAULT_PATH_ENV] }, 'no Cmd unless given, like docker import');
    assert.equal(image.config.history?.length, 1);
    assert.ok(!Number.isNaN(Date.parse(image.created)));

    const [diff] = store.layerDirs(image);
    assert.ok(diff !== undefined && diff.startsWith(join(root, 'layers')) && diff.endsWith('/diff'));
    assert.equal(readFileSync(join(diff, 'bin/sh'), 'utf8'), '#!fake shell\n');
    assert.equal(readlinkSync(join(diff, 'bin/ls')), 'sh');

    const list = store.list();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.Id, image.id);
    assert.deepEqual(list[0]!.RepoTags, ['mybox:latest']);
    assert.equal(list[0]!.Size, '#!fake shell\n'.length + 'root:x:0:0:root:/root:/bin/sh\n'.length);
    assert.equal(list[0]!.Created, Math.floor(Date.parse(image.created) / 1000));
  });

  test('a gzip tarball is accepted and its bytes are kept as the layer blob', async () => {
    const gz = join(dir, 'rootfs.tar.gz');
    writeFileSync(gz, gzipSync(readFileSync(rootfs)));
    const image = await store.importTarball(gz, 'gz:1');
    assert.equal(image.manifest.layers[0]!.digest, sha256File(gz));
    assert.deepEqual(image.config.rootfs.diff_ids, [sha256File(rootfs)]);
    assert.ok(existsSync(join(store.layerDirs(image)[0]!, 'etc/passwd')));
  });

  test('import applies changes and a message', async () => {
    const image = await store.importTarball(rootfs, 'conf', {
      changes: { Cmd: ['/bin/sh'], Env: ['PATH=/bin', 'A=1'], WorkingDir: '/tmp', Labels: { a: 'b' } },
      message: 'hello',
    });
    assert.deepEqual(store.config('conf'), { Cmd: ['/bin/sh'], Env: ['PATH=/bin', 'A=1'], WorkingDir: '/tmp', Labels: { a: 'b' } });
    const info = store.inspect('conf');
    assert.deepEqual(info.Config.Cmd, ['/bin/sh']);
    assert.equal(info.Comment, 'hello');
    assert.deepEqual(store.list()[0]!.Labels, { a: 'b' });
    assert.equal(image.id, info.Id);
  });

  test('importing the same tarball under two names shares one layer; rmi of one keeps it', async () => {
    const a = await store.importTarball(rootfs, 'one');
    const b = await store.importTarball(rootfs, 'two:x');
    assert.notEqual(a.id, b.id, 'two imports are two images (different created times)');
    assert.deepEqual(store.layerDirs(a), store.layerDirs(b));
    assert.equal(layerDirsOnDisk(root).length, 1);

    assert.deepEqual(await store.remove('one'), [{ Untagged: 'one:latest' }, { Deleted: a.id }]);
    assert.equal(layerDirsOnDisk(root).length, 1, 'the layer stays while two:x uses it');
    assert.ok(existsSync(join(store.layerDirs('two:x')[0]!, 'bin/sh')));
    assert.equal(store.resolve('one'), undefined);

    const layerChain = b.layers[0]!.chainId;
    assert.deepEqual(await store.remove('two:x'), [{ Untagged: 'two:x' }, { Deleted: b.id }, { Deleted: layerChain }]);
    assert.deepEqual(layerDirsOnDisk(root), []);
    assert.deepEqual(blobsOnDisk(root), [], 'manifests, configs and layer blobs go with the last image');
    assert.deepEqual(store.list(), []);
  });

  test('tag adds a reference; rmi of one tag only untags', async () => {
    const image = await store.importTarball(rootfs, 'busybox');
    const tagged = await store.tag('busybox', 'localhost:5000/team/box:v1');
    assert.deepEqual(tagged.repoTags, ['busybox:latest', 'localhost:5000/team/box:v1']);
    assert.equal(store.get('docker.io/library/busybox:latest').id, image.id);
    assert.deepEqual(await store.remove('busybox:latest'), [{ Untagged: 'busybox:latest' }]);
    assert.deepEqual(store.get(image.id).repoTags, ['localhost:5000/team/box:v1']);
    await assert.rejects(store.tag('nope', 'x'), isCode('IMAGE_NOT_FOUND'));
    await assert.rejects(store.tag(image.id, 'Bad Name'), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.tag(image.id, `x@sha256:${'0'.repeat(64)}`), isCode('INVALID_ARGUMENT'));
  });

  test('moving a tag leaves the old image dangling, still listed and removable by id', async () => {
    const old = await store.importTarball(rootfs, 'app');
    const fresh = await store.importTarball(rootfs, 'app');
    assert.deepEqual(store.get(old.id).repoTags, []);
    assert.deepEqual(store.list().map((i) => i.RepoTags), [['app:latest'], []]);
    assert.equal(store.get('app').id, fresh.id);
    assert.deepEqual(await store.remove(old.id.slice(7, 19)), [{ Deleted: old.id }]);
  });

  test('rmi by id: several tags need force, then all go', async () => {
    const image = await store.importTarball(rootfs, 'a');
    await store.tag('a', 'b');
    await assert.rejects(store.remove(image.id), isCode('CONFLICT'));
    const out = await store.remove(image.id, { force: true });
    assert.deepEqual(out.slice(0, 3), [{ Untagged: 'a:latest' }, { Untagged: 'b:latest' }, { Deleted: image.id }]);
    assert.equal(store.list().length, 0);
  });

  test('an image used by a container is not removed without force, and only untagged with it', async () => {
    const image = await store.importTarball(rootfs, 'busy');
    const inUse = (id: string): boolean => id === image.id;
    await assert.rejects(store.remove('busy', { isInUse: inUse }), (e: unknown) => {
      assert.ok(e instanceof GantryError && e.code === 'IMAGE_IN_USE');
      assert.match(e.message, new RegExp(image.id.slice(7, 19)));
      assert.ok(e.hint);
      return true;
    });
    await assert.rejects(store.remove(image.id, { isInUse: inUse }), isCode('IMAGE_IN_USE'));
    assert.deepEqual(await store.remove('busy', { isInUse: inUse, force: true }), [{ Untagged: 'busy:latest' }]);
    assert.equal(store.get(image.id).repoTags.length, 0, 'dangling but kept: a container still uses its layers');
    assert.ok(existsSync(store.layerDirs(image.id)[0]!));
    assert.deepEqual(await store.remove(image.id, { isInUse: () => false }), [{ Deleted: image.id }, { Deleted: image.layers[0]!.chainId }]);
  });

  test('resolve by reference, full id, short id prefix; get throws IMAGE_NOT_FOUND with a hint', async () => {
    const image = await store.importTarball(rootfs, 'reg:5000/x/y:z');
    const hex = image.id.slice(7);
    for (const key of ['reg:5000/x/y:z', image.id, hex, hex.slice(0, 12), hex.slice(0, 4), `sha256:${hex.slice(0, 6)}`]) {
      assert.equal(store.resolve(key)?.id, image.id, key);
    }
    assert.equal(store.resolve(hex.slice(0, 3)), undefined, 'prefixes shorter than 4 do not match');
    assert.equal(store.resolve('reg:5000/x/y'), undefined, 'reg:5000/x/y means tag latest');
    assert.throws(() => store.get('missing:1'), (e: unknown) => {
      assert.ok(e instanceof GantryError && e.code === 'IMAGE_NOT_FOUND');
      assert.equal(e.hint, 'gantry images lists local images; import one with `gantry import`');
      return true;
    });
    assert.throws(() => store.resolve('NOT VALID'), isCode('INVALID_ARGUMENT'));
  });

  test('an id prefix shared by two images is refused as ambiguous', async () => {
    const base = await store.importTarball(rootfs, 'base');
    // Find two configs whose digests share their first 4 hex digits (birthday search, in memory).
    const seen = new Map<string, OciImageConfig>();
    let pair: [OciImageConfig, OciImageConfig] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const config: OciImageConfig = { ...base.config, config: { Env: [`N=${i}`] } };
      const prefix = sha256Digest(JSON.stringify(config)).slice(7, 11);
      const other = seen.get(prefix);
      if (other !== undefined) pair = [other, config];
      seen.set(prefix, config);
    }
    const layers = [...base.manifest.layers];
    const x = await store.addImage({ config: pair[0], layers, refs: ['x'] });
    const y = await store.addImage({ config: pair[1], layers, refs: ['y'] });
    assert.equal(x.id.slice(0, 11), y.id.slice(0, 11));
    assert.throws(() => store.resolve(x.id.slice(7, 11)), isCode('INVALID_ARGUMENT'));
    assert.equal(store.resolve(x.id.slice(7, 30))?.id, x.id);
  });

  test('import errors: bad reference, missing file, not a tar — and nothing is left behind', async () => {
    await assert.rejects(store.importTarball(rootfs, 'UPPER'), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.importTarball(join(dir, 'nope.tar'), 'x'), isCode('NOT_FOUND'));
    const junk = join(dir, 'junk.tar');
    writeFileSync(junk, 'this is not a tarball at all\n'.repeat(100));
    await assert.rejects(store.importTarball(junk, 'x'), isCode('INVALID_IMAGE_ARCHIVE'));
    const xz = join(dir, 'rootfs.tar.xz');
    writeFileSync(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0, 0]));
    await assert.rejects(store.importTarball(xz, 'x'), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_IMAGE_ARCHIVE' && /xz/.test(e.message));
    assert.deepEqual(layerDirsOnDisk(root), []);
    assert.deepEqual(blobsOnDisk(root), []);
    assert.deepEqual(store.list(), []);
  });

  test('a layer cannot write outside its own dir (through a symlink or with ..)', async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const file = (name: string, body: string): Buffer => {
      const data = Buffer.from(body);
      return Buffer.concat([encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0, type: '0', linkname: '', devmajor: 0, devminor: 0 }),
        data, Buffer.alloc(paddedSize(data.length) - data.length)]);
    };
    const symlink = (name: string, target: string): Buffer =>
      encodeBodylessEntry({ name, mode: 0o777, uid: 0, gid: 0, mtime: 0, type: '2', linkname: target, devmajor: 0, devminor: 0 });
    const evil = join(dir, 'evil.tar');
    writeFileSync(evil, Buffer.concat([
      symlink('abs', outside), file('abs/pwned', 'x'),
      symlink('rel', '../../../outside'), file('rel/pwned', 'x'),
      file('../pwned', 'x'),
      Buffer.alloc(2 * BLOCK),
    ]));
    await assert.rejects(store.importTarball(evil, 'evil'), isCode('INVALID_IMAGE_ARCHIVE'));
    assert.deepEqual(readdirSync(outside), []);
    assert.ok(!existsSync(join(dir, 'pwned')) && !existsSync(join(root, 'pwned')) && !existsSync(join(root, 'layers', 'pwned')));
    assert.deepEqual(layerDirsOnDisk(root), []);
  });

  test('the store survives a restart: a new ImageStore on the same root sees the same images', async () => {
    const image = await store.importTarball(rootfs, 'keep:1');
    await store.tag('keep:1', 'keep:2');
    const again = new ImageStore({ root });
    assert.deepEqual(again.get('keep:2'), store.get('keep:2'));
    assert.deepEqual(again.layerDirs(image.id), store.layerDirs(image.id));
    assert.deepEqual(again.repairs, []);
  });

  test('a crash leaves nothing half-made: temp dirs and unreferenced layers and blobs are cleaned at open', async () => {
    const image = await store.importTarball(rootfs, 'survivor');
    const strayLayer = join(root, 'layers', '.tmp-999-deadbeef');
    mkdirSync(join(strayLayer, 'diff', 'bin'), { recursive: true });
    writeFileSync(join(strayLayer, 'diff', 'bin', 'half'), 'half a file');
    writeFileSync(join(root, 'blobs', 'sha256', '.tmp-999-cafe'), 'partial blob');
    // A layer and a blob that a crashed import finished writing but never registered in the index.
    const orphanTar = makeTarball(join(dir, 'orphan.tar'), { 'only/here': 'orphan' });
    const orphanBlob = await store.ingestBlob(readFileSync(orphanTar));
    const orphanLayer = await store.addLayerFromBlob(orphanBlob);
    assert.equal(layerDirsOnDisk(root).filter((n) => !n.startsWith('.')).length, 2);

    const reopened = new ImageStore({ root });
    assert.deepEqual(layerDirsOnDisk(root), [image.layers[0]!.chainId.slice(7)]);
    assert.ok(!blobsOnDisk(root).includes(orphanBlob.digest.slice(7)));
    assert.ok(!existsSync(join(root, 'layers', orphanLayer.chainId.slice(7))));
    assert.ok(!blobsOnDisk(root).some((n) => n.startsWith('.')));
    assert.ok(existsSync(join(reopened.layerDirs('survivor')[0]!, 'bin/sh')));
  });

  test('an image whose layer vanished is dropped at open and reported', async () => {
    const image = await store.importTarball(rootfs, 'fragile');
    removeDir(join(root, 'layers', image.layers[0]!.chainId.slice(7)));
    const reopened = new ImageStore({ root });
    assert.equal(reopened.resolve('fragile'), undefined);
    assert.equal(reopened.repairs.length, 1);
    assert.match(reopened.repairs[0]!, /not extracted/);
  });

  test('layers stack: addLayerFromBlob on a parent, addImage; layerDirs lists the top layer first', async () => {
    const base = await store.importTarball(rootfs, 'base');
    const upperTar = makeTarball(join(dir, 'upper.tar'), { 'app/run': 'echo hi' }, { gzip: true });
    const blob = await store.ingestBlob(readFileSync(upperTar));
    const upper = await store.addLayerFromBlob({ digest: blob.digest, mediaType: MEDIA_TYPE_LAYER_GZIP }, { parent: base.layers[0]!.chainId });
    assert.equal(upper.parent, base.layers[0]!.chainId);
    const config: OciImageConfig = { ...base.config, config: { Cmd: ['/app/run'] }, rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, upper.diffId] } };
    const image = await store.addImage({
      config, layers: [...base.manifest.layers, { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }],
      refs: ['app:2'], repoDigests: [`app@sha256:${'1'.repeat(64)}`],
    });
    const dirs = store.layerDirs(image);
    assert.equal(dirs.length, 2);
    assert.ok(existsSync(join(dirs[0]!, 'app/run')), 'top layer first');
    assert.ok(existsSync(join(dirs[1]!, 'bin/sh')));
    assert.deepEqual(store.inspect('app:2').RootFS, { Type: 'layers', Layers: [...base.config.rootfs.diff_ids, upper.diffId] });
    assert.deepEqual(image.repoDigests, [`app@sha256:${'1'.repeat(64)}`]);
    assert.equal(store.resolve(`app@sha256:${'1'.repeat(64)}`)?.id, image.id);
    assert.equal(store.resolve(`docker.io/library/app@${image.manifestDigest}`)?.id, image.id, 'a manifest digest finds the image');

    // the same blob on the same parent is the same layer; a wrong expected diff id fails
    assert.deepEqual(await store.addLayerFromBlob(blob, { parent: base.layers[0]!.chainId }), upper);
    await assert.rejects(store.addLayerFromBlob(blob, { expectedDiffId: `sha256:${'2'.repeat(64)}` }), isCode('INVALID_IMAGE_ARCHIVE'));
    await assert.rejects(store.ingestBlob(Buffer.from('abc'), { digest: `sha256:${'3'.repeat(64)}` }), isCode('INVALID_IMAGE_ARCHIVE'));

    // removing base keeps the bottom layer (app:2 still uses it)
    await store.remove('base');
    assert.ok(existsSync(dirs[1]!));
  });

  test('inspect has Docker’s shape', async () => {
    const image = await store.importTarball(rootfs, 'shape:1', { changes: { Entrypoint: ['/bin/sh'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGINT' } });
    const info = store.inspect('shape:1');
    assert.equal(info.Id, image.id);
    assert.deepEqual(info.RepoTags, ['shape:1']);
    assert.deepEqual(info.RepoDigests, []);
    assert.equal(info.Created, image.created);
    assert.equal(info.Os, 'linux');
    assert.equal(info.Size, image.size);
    assert.deepEqual(info.Config.Env, [DEFAULT_PATH_ENV]);
    assert.deepEqual(info.Config.Entrypoint, ['/bin/sh']);
    assert.deepEqual(info.Config.ExposedPorts, { '80/tcp': {} });
    assert.equal((info.Config as { StopSignal?: string }).StopSignal, 'SIGINT');
    assert.equal(info.Config.WorkingDir, '');
    assert.deepEqual(info.RootFS, { Type: 'layers', Layers: image.config.rootfs.diff_ids });
    assert.equal(info.GraphDriver.Name, 'overlay');
    assert.equal((info.GraphDriver.Data as unknown as { LowerDir: string }).LowerDir, store.layerDirs(image).join(':'));
    // JSON round trip (what the API sends) keeps every key
    assert.deepEqual(JSON.parse(JSON.stringify(info)), info);
  });

  test('mutations are serialized: parallel imports and tags all land', async () => {
    const results = await Promise.all([
      store.importTarball(rootfs, 'p1'), store.importTarball(rootfs, 'p2'), store.importTarball(rootfs, 'p3'),
    ]);
    await Promise.all(results.map((r, i) => store.tag(r.id, `q${i}`)));
    assert.equal(store.list().length, 3);
    assert.deepEqual(new ImageStore({ root }).list().flatMap((i) => i.RepoTags).sort(), ['p1:latest', 'p2:latest', 'p3:latest', 'q0:latest', 'q1:latest', 'q2:latest']);
    assert.equal(layerDirsOnDisk(root).length, 1);
  });
});
