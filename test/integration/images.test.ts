// The image store on a real kernel, as root: the busybox rootfs made by scripts/make-busybox-rootfs.sh,
// ownership and modes as the tarball says, and layers that behave as overlay lower dirs (whiteouts hide
// files, opaque dirs hide what is below them).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageStore, MEDIA_TYPE_LAYER_GZIP, type OciImageConfig } from '../../src/engine/images/index.js';
import { requires } from '../helpers/privileged.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(repoRoot, 'scripts', 'make-busybox-rootfs.sh');

/** Tars `tree` (relative path → content, or null for an empty dir) with the given owner. */
function tarball(out: string, tree: Record<string, string | null>, owner = '0:0', extra: string[] = []): string {
  const src = mkdtempSync(join(tmpdir(), 'gantry-images-it-src-'));
  try {
    for (const [path, content] of Object.entries(tree)) {
      if (content === null) { mkdirSync(join(src, path), { recursive: true }); continue; }
      mkdirSync(dirname(join(src, path)), { recursive: true });
      writeFileSync(join(src, path), content);
    }
    const [uid, gid] = owner.split(':');
    execFileSync('tar', ['-c', '-f', out, '-C', src, '--sort=name', '--numeric-owner', `--owner=${uid}`, `--group=${gid}`, ...extra,
      ...new Set(Object.keys(tree).map((p) => p.split('/')[0] as string))]);
    return out;
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

describe('image store (root)', () => {
  let dir = '';
  before(() => { dir = mkdtempSync(join(tmpdir(), 'gantry-images-it-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test('import the busybox rootfs made by the script; it is a usable root filesystem', async (t) => {
    if (!requires(t, 'root', 'busybox')) return;
    const tar = join(dir, 'busybox.tar');
    execFileSync('bash', [script, tar], { stdio: 'pipe' });
    const first = readFileSync(tar);
    execFileSync('bash', [script, tar], { stdio: 'pipe' });
    assert.ok(readFileSync(tar).equals(first), 'the script is idempotent: same bytes on a second run');

    const store = new ImageStore({ root: join(dir, 'root-busybox') });
    const image = await store.importTarball(tar, 'busybox');
    assert.deepEqual(store.list().map((i) => i.RepoTags), [['busybox:latest']]);
    const [rootfs] = store.layerDirs('busybox');
    assert.ok(rootfs !== undefined);

    const busybox = lstatSync(join(rootfs, 'bin/busybox'));
    assert.ok(busybox.isFile() && (busybox.mode & 0o111) !== 0);
    assert.equal(readlinkSync(join(rootfs, 'bin/sh')), 'busybox');
    const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).trim().split('\n').filter((a) => a !== 'busybox');
    for (const applet of applets) assert.equal(readlinkSync(join(rootfs, 'bin', applet)), 'busybox', applet);
    const tmp = lstatSync(join(rootfs, 'tmp'));
    assert.equal(tmp.mode & 0o7777, 0o1777);
    assert.equal(lstatSync(join(rootfs, 'root')).mode & 0o777, 0o700);
    assert.deepEqual([tmp.uid, tmp.gid, busybox.uid], [0, 0, 0]);
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^nobody:x:65534:65534:/m);
    for (const d of ['home', 'var', 'usr/bin']) assert.ok(lstatSync(join(rootfs, d)).isDirectory(), d);
    assert.ok(image.size >= busybox.size);

    // The layer is a working root: run a shell in it (chroot does not write to it).
    const run = spawnSync('chroot', [rootfs, '/bin/sh', '-c', 'echo hello from $(whoami)'], { encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'hello from root\n');
  });

  test('ownership, setuid bits and modes are kept as the tarball says', async (t) => {
    if (!requires(t, 'root')) return;
    const src = join(dir, 'owned.tar');
    tarball(src, { 'home/app/data': 'x', 'home/app/empty': null }, '1000:1001', ['--mode=u+s']);
    const store = new ImageStore({ root: join(dir, 'root-owned') });
    await store.importTarball(src, 'owned');
    const [layer] = store.layerDirs('owned');
    const data = lstatSync(join(layer!, 'home/app/data'));
    assert.deepEqual([data.uid, data.gid], [1000, 1001]);
    assert.ok((data.mode & 0o4000) !== 0, 'setuid bit kept');
  });

  test('layers work as overlay lower dirs: whiteouts hide files, opaque dirs hide what is below', async (t) => {
    if (!requires(t, 'root', 'overlayfs')) return;
    const store = new ImageStore({ root: join(dir, 'root-overlay') });
    const base = await store.importTarball(tarball(join(dir, 'base.tar'), {
      'etc/passwd': 'root', 'etc/group': 'root', 'var/cache/a': 'a', 'var/cache/b': 'b', 'keep/me': 'kept',
    }), 'base');

    // An upper layer as a registry would serve it: OCI whiteouts, gzip.
    const upperTar = tarball(join(dir, 'upper.tar.gz'), {
      'etc/.wh.passwd': '', 'var/cache/.wh..wh..opq': '', 'var/cache/new': 'new',
    }, '0:0', ['--gzip']);
    const blob = await store.ingestBlob(readFileSync(upperTar));
    const upper = await store.addLayerFromBlob({ digest: blob.digest, mediaType: MEDIA_TYPE_LAYER_GZIP }, { parent: base.layers[0]!.chainId });
    const config: OciImageConfig = { ...base.config, rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, upper.diffId] } };
    const image = await store.addImage({
      config, layers: [...base.manifest.layers, { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }], refs: ['stacked'],
    });

    const whiteout = lstatSync(join(store.layers.diffDir(upper.chainId), 'etc/passwd'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0);

    const mnt = join(dir, 'gantry-images-it-merged');
    const work = join(dir, 'gantry-images-it-work');
    const upperdir = join(dir, 'gantry-images-it-upper');
    for (const d of [mnt, work, upperdir]) mkdirSync(d, { recursive: true });
    const lowers = store.layerDirs(image).join(':');
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers},upperdir=${upperdir},workdir=${work}`, mnt]);
    try {
      assert.deepEqual(readdirSync(join(mnt, 'etc')).sort(), ['group'], 'the whiteout hides etc/passwd');
      assert.deepEqual(readdirSync(join(mnt, 'var/cache')), ['new'], 'the opaque dir hides a and b');
      assert.equal(readFileSync(join(mnt, 'keep/me'), 'utf8'), 'kept');
    } finally {
      execFileSync('umount', [mnt]);
    }

    // rmi of the stacked image removes only its own layer; base keeps its one
    const removed = await store.remove('stacked');
    assert.deepEqual(removed, [{ Untagged: 'stacked:latest' }, { Deleted: image.id }, { Deleted: upper.chainId }]);
    assert.ok(lstatSync(store.layerDirs('base')[0]!).isDirectory());
  });
});
