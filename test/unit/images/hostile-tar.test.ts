// Hostile layer tarballs: each crafted entry is refused by the streaming check (naming the entry) before the
// extracting tar sees it, or passes to be contained. No root needed: the transform alone decides.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { GantryError } from '../../../src/common/errors.js';
import { WhiteoutTransform } from '../../../src/engine/images/whiteouts.js';
import { craftTar, HOSTILE, type CraftedEntry } from '../../helpers/craft-tar.js';

async function through(entries: CraftedEntry[]): Promise<void> {
  await pipeline(Readable.from([craftTar(entries)]), new WhiteoutTransform(), new Writable({ write: (_c, _e, done) => done() }));
}


describe('hostile layer tarballs', () => {
  for (const c of HOSTILE) {
    test(`refused: ${c.what}`, async () => {
      await assert.rejects(through(c.entries), (e: unknown) => {
        assert.ok(e instanceof GantryError, String(e));
        assert.equal(e.code, 'INVALID_IMAGE_ARCHIVE');
        assert.ok(e.message.includes(JSON.stringify(c.entry)), e.message);
        assert.match(e.message, c.why);
        return true;
      });
    });
  }

  test('contained, not refused: absolute names and links, symlinks pointing anywhere, the default devices, a file replacing a symlink', async () => {
    await through([
      { name: '/abs/file', body: 'x' },
      { name: 'bin/sh', type: '2', linkname: '/bin/busybox' },
      { name: 'etc', type: '2', linkname: '/' },
      { name: 'etc', body: 'now a file' },
      { name: 'hl', type: '1', linkname: '/abs/file' },
      { name: 'dev/null', type: '3', devmajor: 1, devminor: 3 },
      { name: 'dev/console', type: '3', devmajor: 5, devminor: 1 },
      { name: 'f', body: 'x', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.a': 'b' } },
    ]);
  });
});
