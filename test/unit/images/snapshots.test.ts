// Pure parts of images from containers and archives: the upper dir's changes, the overlay → OCI layer rewrite,
// the archive spool (names and links resolved inside the archive), history rows.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArchiveSpool } from '../../../src/engine/archive/spool.js';
import { imageHistory } from '../../../src/engine/images/history.js';
import type { ImageRecord } from '../../../src/engine/images/store.js';
import { BLOCK, isZeroBlock, paddedSize, parseHeader, parsePaxRecords } from '../../../src/engine/images/tar.js';
import { upperChanges } from '../../../src/engine/snapshot/changes.js';
import { OverlayToOciTransform } from '../../../src/engine/snapshot/overlay-to-oci.js';
import { craftTar } from '../../helpers/craft-tar.js';

const dirs: string[] = [];
function temp(): string { const d = mkdtempSync(join(tmpdir(), 'gantry-snap-unit-')); dirs.push(d); return d; }
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tree(root: string, files: Record<string, string | { link: string } | null>): string {
  for (const [p, v] of Object.entries(files)) {
    const full = join(root, p);
    if (v === null) { mkdirSync(full, { recursive: true }); continue; }
    mkdirSync(join(full, '..'), { recursive: true });
    if (typeof v === 'string') writeFileSync(full, v); else symlinkSync(v.link, full);
  }
  return root;
}

function names(tar: Buffer): string[] {
  const out: string[] = [];
  let pax = new Map<string, string>();
  for (let pos = 0; pos + BLOCK <= tar.length;) {
    const block = tar.subarray(pos, pos + BLOCK);
    if (isZeroBlock(block)) break;
    const h = parseHeader(block)!;
    const size = ['1', '2', '3', '4', '5', '6'].includes(h.type) ? 0 : h.size;
    const body = tar.subarray(pos + BLOCK, pos + BLOCK + size);
    pos += BLOCK + paddedSize(size);
    if (h.type === 'x') { pax = parsePaxRecords(body); continue; }
    out.push(`${h.type} ${pax.get('path') ?? h.name}${[...pax.keys()].some((k) => k.includes('trusted')) ? ' +trusted' : ''}`);
    pax = new Map();
  }
  return out;
}

describe('images from containers: pure parts', () => {
  test('changes: added, changed (parents too), runtime mountpoints hidden, links never followed', async () => {
    const lower = tree(temp(), { 'etc/passwd': 'root', 'bin/sh': 'sh', 'usr/lib/x': 'x', 'link': { link: '/usr' } });
    const upper = tree(temp(), {
      'etc/passwd': 'root+more', 'etc/hosts': '', 'etc/hostname': '', 'new/file': 'n', 'link/lib/y': 'y', 'proc': null,
    });
    const changes = await upperChanges(upper, [lower], 1000);
    assert.deepEqual(changes.map((c) => `${'CAD'[c.Kind]} ${c.Path}`), [
      'C /etc', 'C /etc/passwd', 'C /link', 'A /link/lib', 'A /link/lib/y', 'A /new', 'A /new/file',
    ]);
    await assert.rejects(upperChanges(upper, [lower], 3), /changed more than 3 files/);
  });

  test('overlay → OCI: 0:0 devices become .wh. files, opaque dirs get .wh..wh..opq, trusted.* records go', async () => {
    const input = craftTar([
      { name: './', type: '5' },
      { name: 'etc/', type: '5', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.k': 'v' } },
      { name: 'etc/gone', type: '3', mode: 0 },
      { name: 'etc/kept', body: 'k', pax: { 'SCHILY.xattr.trusted.overlay.origin': 'x' } },
    ]);
    const chunks: Buffer[] = [];
    const t = new OverlayToOciTransform();
    await pipeline(Readable.from([input]), t, new Writable({ write: (c: Buffer, _e, done) => { chunks.push(c); done(); } }));
    assert.deepEqual(names(Buffer.concat(chunks)), ['5 ./', '5 etc/', '0 etc/.wh..wh..opq', '0 etc/.wh.gone', '0 etc/kept']);
    assert.deepEqual(t.stats, { entries: 4, whiteouts: 1, opaqueDirs: 1 });
  });

  test('archive spool: links resolve inside the archive only; .. refused', async () => {
    const dir = temp();
    const spool = new ArchiveSpool(dir);
    await pipeline(Readable.from([craftTar([
      { name: 'blobs/sha256/aa', body: 'layer' },
      { name: 'x/layer.tar', type: '2', linkname: '../blobs/sha256/aa' },
      { name: 'abs/layer.tar', type: '2', linkname: '/blobs/sha256/aa' },
      { name: 'hard', type: '1', linkname: 'blobs/sha256/aa' },
      { name: 'out/layer.tar', type: '2', linkname: '../../../etc/passwd' },
      { name: 'host/layer.tar', type: '2', linkname: '/etc/passwd' },
      { name: 'loop', type: '2', linkname: 'loop' },
      { name: 'manifest.json', body: '[{"Config":"c.json"}]' },
    ])]), spool);
    for (const n of ['x/layer.tar', 'abs/layer.tar', 'hard', 'blobs/sha256/aa']) assert.equal(spool.resolve(n)?.size, 5, n);
    for (const n of ['out/layer.tar', 'host/layer.tar', 'loop', 'nothing']) assert.equal(spool.resolve(n), undefined, n);
    assert.deepEqual(spool.readJson('manifest.json'), [{ Config: 'c.json' }]);
    await assert.rejects(pipeline(Readable.from([craftTar([{ name: 'a/../../b', body: 'x' }])]), new ArchiveSpool(temp())), /"a\/\.\.\/\.\.\/b" has a "\.\." component/);
  });

  test('history: newest first, sizes from the layers each entry made, empty layers 0, the top named by id', () => {
    const image = {
      id: 'sha256:' + 'ab'.repeat(32), repoTags: ['app:1'], created: '2024-01-01T00:00:00Z',
      layers: [{ size: 10 }, { size: 20 }],
      config: { history: [{ created: '2024-01-01T00:00:00Z', comment: 'Imported from -' }, { created_by: 'ENV A=1', empty_layer: true }, { created_by: 'sh -c make', comment: 'built' }] },
    } as unknown as ImageRecord;
    assert.deepEqual(imageHistory(image).map((h) => [h.Id.slice(0, 11), h.CreatedBy, h.Size, h.Comment, h.Tags]), [
      ['sha256:abab', 'sh -c make', 20, 'built', ['app:1']],
      ['<missing>', 'ENV A=1', 0, '', null],
      ['<missing>', '', 10, 'Imported from -', null],
    ]);
  });
});
