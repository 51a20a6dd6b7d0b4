// Whether directories carry overlay's opaque mark (xattr trusted.overlay.opaque=y: nothing of the same directory
// in lower layers shows through). Node has no xattr call, so the marks are read with GNU tar (already a daemon
// dependency for layer extraction): `tar --xattrs --no-recursion -c` of the directories themselves writes only
// their headers, whose pax records name the xattrs. One tar per batch, only for directories that have lower
// layers beneath them. Never follows links: tar archives a symlink as a link (and only directories are asked).
import { spawn } from 'node:child_process';
import { basename, dirname } from 'node:path';

const OPAQUE_RECORD = 'SCHILY.xattr.trusted.overlay.opaque=y';
const HEADER_CAP = 1024 * 1024;

const TAR_ARGS = ['--create', '--file=-', '--no-recursion', '--xattrs', '--xattrs-include=trusted.overlay.opaque', '--format=posix', '--numeric-owner'];

/** `dirs` are host paths of real directories; answers one boolean per directory, in order. */
export async function probeOpaque(dirs: readonly string[]): Promise<boolean[]> {
  if (dirs.length === 0) return [];
  const batch = await runTar(dirs);
  if (batch !== undefined) return batch;
  // one of them could not be read (tar then skips it and the answers would not line up): ask one by one
  return Promise.all(dirs.map(async (d) => (await runTar([d]))?.[0] ?? false));
}

/** Runs tar, splits its output into per-entry header groups (pax `x` header + its `5` directory header). */
async function runTar(dirs: readonly string[]): Promise<boolean[] | undefined> {
  // `./NAME` so that a name starting with '-' is never taken for an option
  const args = [...TAR_ARGS, ...dirs.flatMap((d) => ['-C', dirname(d), `./${basename(d)}`])];
  const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const chunks: Buffer[] = [];
  let size = 0;
  tar.stdout.on('data', (c: Buffer) => { if (size < HEADER_CAP) { chunks.push(c); size += c.length; } });
  const code = await new Promise<number>((resolve) => {
    tar.on('error', () => resolve(1));
    tar.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) return undefined;
  return splitEntries(Buffer.concat(chunks), dirs.length);
}

/** Walks 512-byte tar blocks: a pax header (`x`) belongs to the entry that follows it. */
function splitEntries(out: Buffer, count: number): boolean[] {
  const result: boolean[] = [];
  let pendingOpaque = false;
  for (let off = 0; off + 512 <= out.length && result.length < count;) {
    const block = out.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    const type = String.fromCharCode(block[156] ?? 0);
    const bodySize = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const body = out.subarray(off + 512, off + 512 + bodySize);
    off += 512 + Math.ceil(bodySize / 512) * 512;
    if (type === 'x') { pendingOpaque = body.toString('latin1').includes(OPAQUE_RECORD); continue; }
    if (type === 'g') continue;
    result.push(pendingOpaque);
    pendingOpaque = false;
  }
  while (result.length < count) result.push(false);
  return result;
}
