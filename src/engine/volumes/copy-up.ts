// Docker's rule for volumes: the first time an empty volume is mounted over a path that holds content in the
// image, that content is copied into the volume (owners, modes, times and symlinks kept), so e.g. a volume at
// /etc/app starts with the image's files. Read from the image's layers as overlay would show them.
//
// Untrusted input: the target is resolved inside the container root (rootfs/resolve.ts), so an image with
// `hostroot -> /` and `VOLUME /hostroot/etc` copies the image's /etc, never the host's. While copying nothing is
// followed: every entry is lstat'ed in its layer, links are copied as links. Device nodes, FIFOs and sockets are
// skipped (Node cannot mknod; they would be inert in the container anyway). The copy is built in a staging dir
// beside the volume's data dir, invisible to containers (another running container may share the volume), and
// then renamed in. Size and entry count are capped (COPY_UP_LIMITS). Async: runs on libuv's thread pool.
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { chmod, chown, copyFile, lchown, lstat, lutimes, mkdir, readdir, readlink, rename, rm, symlink, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import { findInLayers, isWhiteout, mergedDirLayers, type LayeredRoot } from '../rootfs/resolve.js';

export interface CopyUpLimits { maxBytes: number; maxEntries: number }

/** Far above a real VOLUME's content (a database's empty data dir, an app's config), below a disk-filler. */
export const COPY_UP_LIMITS: CopyUpLimits = { maxBytes: 2 * 1024 * 1024 * 1024, maxEntries: 200_000 };


interface Budget { bytes: number; entries: number; limits: CopyUpLimits; what: string }

function spend(b: Budget, bytes: number): void {
  b.entries++;
  b.bytes += bytes;
  if (b.entries > b.limits.maxEntries || b.bytes > b.limits.maxBytes) {
    const over = b.entries > b.limits.maxEntries ? `more than ${b.limits.maxEntries} entries` : `more than ${b.limits.maxBytes} bytes`;
    throw new GantryError('INVALID_ARGUMENT', `${b.what}: the image holds ${over} there, more than the daemon copies into a volume`,
      { hint: 'mount the volume with the nocopy option (-v NAME:PATH:nocopy), or fill it yourself' });
  }
}

async function keepAttrs(to: string, st: Stats): Promise<void> {
  await chmod(to, st.mode & 0o7777);
  await chown(to, st.uid, st.gid);
  // chown clears set-id bits: set the mode again
  if ((st.mode & 0o6000) !== 0) await chmod(to, st.mode & 0o7777);
  await utimes(to, st.atime, st.mtime);
}

/** Copies the merged directory `dirLayers` (topmost first) into the new, empty directory `dst`. */
async function copyMergedDir(dirLayers: readonly string[], dst: string, budget: Budget): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < dirLayers.length; i++) {
    for (const name of await readdir(dirLayers[i]!)) {
      if (seen.has(name)) continue;
      seen.add(name);
      const from = join(dirLayers[i]!, name);
      const to = join(dst, name);
      const st = await lstat(from);
      if (isWhiteout(st)) continue;
      spend(budget, st.isFile() ? st.size : 0);
      if (st.isDirectory()) {
        const layers = await mergedDirLayers(from, dirLayers.slice(i + 1).map((d) => join(d, name)));
        await mkdir(to, { mode: 0o700 });
        await copyMergedDir(layers, to, budget);
        await keepAttrs(to, st);
      } else if (st.isSymbolicLink()) {
        await symlink(await readlink(from), to);
        await lchown(to, st.uid, st.gid);
        await lutimes(to, st.atime, st.mtime);
      } else if (st.isFile()) {
        // `from` was seen to be a regular file of a layer of a container that is not running
        await copyFile(from, to, constants.COPYFILE_EXCL);
        await keepAttrs(to, st);
      }
    }
  }
}

/**
 * Fills `volumeDir` from `target` as the container `source` sees it, when the volume is empty and the image has a
 * directory there (links followed inside the container root). Returns whether anything was copied.
 */
export async function copyUpIntoVolume(source: LayeredRoot, target: string, volumeDir: string, limits: CopyUpLimits = COPY_UP_LIMITS): Promise<boolean> {
  if ((await readdir(volumeDir)).length > 0) return false;
  const entry = await findInLayers(source.layers, target);
  if (entry === undefined || !entry.stat.isDirectory()) return false;
  const staging = join(dirname(volumeDir), `.copy-up-${basename(volumeDir)}-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { mode: 0o700 });
  try {
    const budget: Budget = { bytes: 0, entries: 0, limits, what: `copying ${target} of container ${source.name} into its volume` };
    await copyMergedDir(entry.dirLayers, staging, budget);
    const names = await readdir(staging);
    // an empty directory in the image still gives the volume its owner and mode (a database's data dir)
    if ((await readdir(volumeDir)).length > 0) return false;
    for (const name of names) await rename(join(staging, name), join(volumeDir, name));
    await chmod(volumeDir, entry.stat.mode & 0o7777);
    await chown(volumeDir, entry.stat.uid, entry.stat.gid);
    return true;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
