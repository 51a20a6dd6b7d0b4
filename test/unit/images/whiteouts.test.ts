import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GantryError } from '../../../src/common/errors.js';
import { ImageStore, WhiteoutTransform } from '../../../src/engine/images/index.js';
import { requires } from '../../helpers/privileged.js';
import { BLOCK, isZeroBlock, paddedSize, parseHeader, parsePaxRecords, type TarHeader } from '../../../src/engine/images/tar.js';
import { makeTarball, removeDir, tempDir } from './fixtures.js';

interface Entry { header: TarHeader; name: string; pax: Map<string, string>; body: Buffer }

/** Reads a tar archive into entries (PAX and GNU long names applied) — only for checking test output. */
function readEntries(tar: Buffer): Entry[] {
  const out: Entry[] = [];
  let pax = new Map<string, string>();
  let longName: string | undefined;
  for (let pos = 0; pos + BLOCK <= tar.length;) {
    const block = tar.subarray(pos, pos + BLOCK);
    if (isZeroBlock(block)) break;
    const header = parseHeader(block);
    assert.ok(header, `bad header at ${pos}`);
    const body = tar.subarray(pos + BLOCK, pos + BLOCK + (['1', '2', '3', '4', '5', '6'].includes(header.type) ? 0 : header.size));
    pos += BLOCK + (['1', '2', '3', '4', '5', '6'].includes(header.type) ? 0 : paddedSize(header.size));
    if (header.type === 'x') { pax = parsePaxRecords(body); continue; }
    if (header.type === 'L') { longName = body.toString('utf8').replace(/\0.*$/s, ''); continue; }
    out.push({ header, name: pax.get('path') ?? longName ?? header.name, pax, body: Buffer.from(body) });
    pax = new Map();
    longName = undefined;
  }
  return out;
}

async function convert(input: Buffer, chunkSize = 64 * 1024): Promise<{ output: Buffer; transform: WhiteoutTransform }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunkSize) chunks.push(input.subarray(i, i + chunkSize));
  const transform = new WhiteoutTransform();
  const out: Buffer[] = [];
  transform.on('data', (c: Buffer) => out.push(c));
  await new Promise<void>((resolve, reject) => {
    transform.on('end', resolve);
    transform.on('error', reject);
    Readable.from(chunks).pipe(transform);
  });
  return { output: Buffer.concat(out), transform };
}

const LONG_DIR = `deep/${'d'.repeat(90)}/${'e'.repeat(40)}`;

describe('OCI whiteouts → overlay form', () => {
  const dir = tempDir();
  after(() => removeDir(dir));
  const layer = makeTarball(join(dir, 'layer.tar'), {
    'etc/hosts': 'x',
    'etc/.wh.passwd': '',
    'var/cache/.wh..wh..opq': '',
    'var/cache/new': 'fresh',
    '.wh.removed-at-root': '',
    [`${LONG_DIR}/.wh.gone-with-a-long-path`]: '',
    'usr/.wh..wh.plnk': '',
    'usr/bin/tool': 'binary',
    'usr/bin/link': { symlink: 'tool' },
  });

  test('whiteout files become 0:0 char devices, opaque markers become an xattr on their dir', async () => {
    const { output, transform } = await convert(readFileSync(layer));
    const entries = readEntries(output);
    const names = entries.map((e) => e.name.replace(/\/$/, ''));
    assert.ok(!names.some((n) => n.split('/').pop()!.startsWith('.wh.')), `no .wh. entry is left: ${names.join(' ')}`);

    const passwd = entries.find((e) => e.name === 'etc/passwd');
    assert.ok(passwd, 'etc/passwd whiteout');
    assert.equal(passwd.header.type, '3');
    assert.deepEqual([passwd.header.devmajor, passwd.header.devminor, passwd.header.uid, passwd.header.gid], [0, 0, 0, 0]);
    assert.ok(entries.some((e) => e.name === 'removed-at-root' && e.header.type === '3'));
    assert.ok(entries.some((e) => e.name === `${LONG_DIR}/gone-with-a-long-path` && e.header.type === '3'), 'long names are kept whole');

    const opaque = entries.filter((e) => e.pax.get('SCHILY.xattr.trusted.overlay.opaque') === 'y');
    assert.deepEqual(opaque.map((e) => [e.name, e.header.type]), [['var/cache/', '5']]);
    assert.equal(opaque[0]!.header.mode & 0o7777, 0o755, 'the opaque dir keeps the mode of its original entry');

    assert.equal(entries.find((e) => e.name === 'usr/bin/tool')?.body.toString(), 'binary', 'other entries pass through');
    assert.equal(entries.find((e) => e.name === 'usr/bin/link')?.header.linkname, 'tool');
    assert.deepEqual(transform.stats, { entries: 17, contentBytes: 'x'.length + 'fresh'.length + 'binary'.length, whiteouts: 3, opaqueDirs: 1 });
  });

  test('GNU tar reads the converted stream: char devices and the opaque xattr', async () => {
    const { output } = await convert(readFileSync(layer));
    const converted = join(dir, 'converted.tar');
    writeFileSync(converted, output);
    const listing = execFileSync('tar', ['--list', '--verbose', '--numeric-owner', '--file', converted], { encoding: 'utf8' });
    assert.match(listing, /^c--------- 0\/0\s+0,0 .* etc\/passwd$/m);
    const xattrs = execFileSync('tar', ['--list', '--xattrs', '--xattrs-include=*', '-vv', '--file', converted], { encoding: 'utf8' });
    assert.match(xattrs, /var\/cache\/\n\s*x:\s*\d+ trusted\.overlay\.opaque/);
  });

  test('the output does not depend on how the input is chunked', async () => {
    const input = readFileSync(layer);
    const whole = await convert(input);
    for (const size of [1, 7, 511, 512, 513, 4096]) {
      const { output } = await convert(input, size);
      assert.ok(output.equals(whole.output), `chunk size ${size}`);
    }
  });

  test('bytes after the end-of-archive marker are consumed but not forwarded', async () => {
    const input = Buffer.concat([readFileSync(layer), Buffer.from('trailing junk that is not a tar header')]);
    const { output } = await convert(input);
    assert.ok(output.equals((await convert(readFileSync(layer))).output));
  });

  test('something that is not a tar archive is INVALID_IMAGE_ARCHIVE', async () => {
    for (const junk of [Buffer.from('hello, this is not a tar archive'.repeat(40)), Buffer.alloc(0)]) {
      await assert.rejects(convert(junk), (e: unknown) => e instanceof GantryError && e.code === 'INVALID_IMAGE_ARCHIVE');
    }
  });

  test('a truncated archive is INVALID_IMAGE_ARCHIVE', async () => {
    const input = readFileSync(layer);
    await assert.rejects(convert(input.subarray(0, 3 * BLOCK + 100)), (e: unknown) => e instanceof GantryError && /ends in the middle/.test(e.message));
  });

  test('extracted as root, a whiteout is a real 0:0 character device in the layer dir', async (t) => {
    if (!requires(t, 'root')) return;
    const store = new ImageStore({ root: join(dir, 'store') });
    const blob = await store.ingestBlob(readFileSync(layer));
    const record = await store.addLayerFromBlob(blob);
    const st = lstatSync(join(store.layers.diffDir(record.chainId), 'etc/passwd'));
    assert.ok(st.isCharacterDevice());
    assert.deepEqual([st.rdev, st.uid, st.gid], [0, 0, 0]);
    assert.ok(lstatSync(join(store.layers.diffDir(record.chainId), 'var/cache/new')).isFile());
  });
});
