// save / load through real daemons (root): a round trip into a fresh daemon, skopeo reading what we write and
// writing what we read (docker-archive, OCI layout), and hostile archives refused naming what is wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GANTRY_BIN, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';
import { craftTar, type CraftedEntry } from '../helpers/craft-tar.js';

const skopeo = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** A docker-archive (legacy layout) of one image whose layer is `layer`, with `config` overrides. */
function dockerArchive(layer: Buffer, opts: { diffId?: string; extra?: CraftedEntry[]; layerName?: string; tags?: string[] } = {}): Buffer {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [opts.diffId ?? `sha256:${sha(layer)}`] } });
  const layerName = opts.layerName ?? 'aaaa/layer.tar';
  return craftTar([
    ...(opts.layerName === undefined ? [{ name: 'aaaa/layer.tar', body: layer.toString('latin1') }] : []),
    ...(opts.extra ?? []),
    { name: `${sha(config)}.json`, body: config },
    { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha(config)}.json`, RepoTags: opts.tags ?? ['crafted:1'], Layers: [layerName] }]) },
  ]);
}

describe('save and load', { skip: skipReason('root', 'busybox', 'overlayfs') }, () => {
  const a = new TestDaemon('save');
  const b = new TestDaemon('load');
  before(async () => {
    await a.start();
    await b.start();
    a.importBusybox();
    a.ok(['run', '--name', 'maker', 'busybox', 'sh', '-c', 'echo layered > /marker']);
    a.ok(['commit', '-c', 'CMD ["cat", "/marker"]', 'maker', 'two:layers']);
    a.ok(['tag', 'two:layers', 'two:alias']);
  });
  after(async () => { await a.dispose(); await b.dispose(); });

  test('save → load into a fresh daemon keeps ids, tags, layers and config', () => {
    const file = join(a.dir, 'two.tar');
    a.ok(['save', '-o', file, 'two:layers', 'busybox']);
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    for (const n of ['manifest.json', 'repositories', 'index.json', 'oci-layout']) assert.ok(names.includes(n), n);
    const out = b.ok(['load', '-i', file]);
    assert.equal(out, 'Loaded image: two:layers\nLoaded image: busybox:latest\n');
    const idOf = (d: TestDaemon, ref: string): string => (JSON.parse(d.ok(['image', 'inspect', ref])) as Array<{ Id: string }>)[0]!.Id;
    assert.equal(idOf(b, 'two:layers'), idOf(a, 'two:layers'));
    assert.equal(idOf(b, 'busybox'), idOf(a, 'busybox'));
    assert.equal(b.ok(['run', '--rm', 'two:layers']), 'layered\n');
    assert.doesNotMatch(b.ok(['images']), /alias/, 'only the named tag travels');
    // what the fresh daemon stored (layers as they came, uncompressed) saves to the same archive content
    const again = join(b.dir, 'again.tar');
    b.ok(['save', '-o', again, 'two:layers', 'busybox']);
    const manifestOf = (f: string): string => execFileSync('tar', ['-xOf', f, 'manifest.json'], { encoding: 'utf8' });
    assert.equal(manifestOf(again), manifestOf(file));
    // the same from standard input, quietly; loading twice is fine
    const piped = spawnSync(process.execPath, [GANTRY_BIN, 'load', '-q'], { env: b.env, input: readFileSync(file), encoding: 'utf8' });
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stdout, out);
  });

  test('skopeo reads what gantry save writes (docker-archive and OCI archive), and gantry loads what skopeo writes', { skip: skopeo === undefined ? 'needs skopeo (apt-get install skopeo)' : false }, () => {
    const file = join(a.dir, 'for-skopeo.tar');
    a.ok(['save', '-o', file, 'two:layers']);
    const info = JSON.parse(execFileSync(skopeo!, ['inspect', `docker-archive:${file}`], { encoding: 'utf8' })) as { Layers: string[] };
    assert.equal(info.Layers.length, 2);
    const oci = join(a.dir, 'oci-from-archive');
    execFileSync(skopeo!, ['copy', '-q', `docker-archive:${file}`, `oci:${oci}:two:layers`]);
    execFileSync(skopeo!, ['copy', '-q', `oci-archive:${file}`, `oci:${join(a.dir, 'oci2')}:x`]);
    // skopeo's legacy docker-archive (layer.tar symlinks, <id>.json) into gantry
    const back = join(a.dir, 'from-skopeo.tar');
    execFileSync(skopeo!, ['copy', '-q', `oci:${oci}:two:layers`, `docker-archive:${back}:skopeo/two:v1`]);
    assert.equal(b.ok(['load', '-i', back]), 'Loaded image: skopeo/two:v1\n');
    assert.equal(b.ok(['run', '--rm', 'skopeo/two:v1']), 'layered\n');
    // an OCI image layout (skopeo's dir, tarred) into gantry
    const layoutTar = join(a.dir, 'layout.tar');
    execFileSync('tar', ['-cf', layoutTar, '-C', oci, '.']);
    assert.equal(b.ok(['load', '-i', layoutTar]), 'Loaded image: two:layers\n');
  });

  test('hostile archives are refused naming what is wrong, and tag nothing', () => {
    const layer = craftTar([{ name: 'etc/hello', body: 'x' }]);
    const cases: Array<{ what: string; archive: Buffer; message: RegExp }> = [
      { what: '.. in an entry name', archive: craftTar([{ name: '../../evil', body: 'x' }]), message: /"\.\.\/\.\.\/evil" has a "\.\." component/ },
      { what: 'a layer that is a symlink to a host file', archive: dockerArchive(layer, { layerName: 'aaaa/layer.tar', extra: [{ name: 'aaaa/layer.tar', type: '2', linkname: '/etc/passwd' }] }), message: /no layer file "aaaa\/layer.tar"/ },
      { what: 'a layer symlink above the archive root', archive: dockerArchive(layer, { layerName: 'aaaa/layer.tar', extra: [{ name: 'aaaa/layer.tar', type: '2', linkname: '../../../etc/shadow' }] }), message: /no layer file "aaaa\/layer.tar"/ },
      { what: 'a config that lies about the layer', archive: dockerArchive(layer, { diffId: `sha256:${'0'.repeat(64)}` }), message: /diff id .* but the image config says sha256:0000/ },
      { what: 'a layer with a hostile entry', archive: dockerArchive(craftTar([{ name: 'x', type: '2', linkname: '/' }, { name: 'x/etc/evil', body: 'x' }])), message: /"x\/etc\/evil" is below the symlink "x"/ },
      { what: 'a manifest.json over 4 MiB', archive: craftTar([{ name: 'manifest.json', body: ' '.repeat(4 * 1024 * 1024 + 1) }]), message: /manifest\.json" is larger than 4194304 bytes/ },
      { what: 'no manifest at all', archive: craftTar([{ name: 'hello', body: 'x' }]), message: /neither manifest\.json .* nor index\.json/ },
      { what: 'a bad tag', archive: dockerArchive(layer, { tags: ['UPPER:case'] }), message: /not NAME:TAG/ },
    ];
    mkdirSync(join(b.dir, 'hostile'), { recursive: true });
    for (const c of cases) {
      const file = join(b.dir, 'hostile', 'a.tar');
      writeFileSync(file, c.archive);
      const r = b.gantry(['load', '-i', file]);
      assert.notEqual(r.status, 0, c.what);
      assert.match(r.stderr, c.message, c.what);
      assert.doesNotMatch(b.ok(['images']), /crafted/, c.what);
    }
    assert.deepEqual(execFileSync('ls', [join(b.root, 'tmp')], { encoding: 'utf8' }).trim(), '', 'no spool left behind');
  });
});
