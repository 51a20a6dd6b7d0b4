// Docker's rule for volumes: the first time an empty volume is mounted over a path that holds content in the
// image, that content is copied into the volume (owners, modes, times and symlinks kept), so e.g. a volume at
// /etc/app starts with the image's files. Read from the image's layers as overlay would show them.
import { chownSync, copyFileSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

function isWhiteout(path: string): boolean {
  const st = lstatSync(path);
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Applies one layer's subtree `src` onto `dst` (overlay semantics: whiteouts delete, the rest replaces). */
function applyLayer(src: string, dst: string): void {
  for (const name of readdirSync(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const st = lstatSync(from);
    if (st.isCharacterDevice() && st.rdev === 0) { rmSync(to, { recursive: true, force: true }); continue; }
    if (st.isDirectory()) {
      if (existsSync(to) && !lstatSync(to).isDirectory()) rmSync(to, { force: true });
      mkdirSync(to, { recursive: true });
      applyLayer(from, to);
      chmodSync(to, st.mode & 0o7777);
      chownSync(to, st.uid, st.gid);
      utimesSync(to, st.atime, st.mtime);
    } else if (st.isSymbolicLink()) {
      rmSync(to, { recursive: true, force: true });
      symlinkSync(readlinkSync(from), to);
      lchownSync(to, st.uid, st.gid);
    } else if (st.isFile()) {
      rmSync(to, { recursive: true, force: true });
      copyFileSync(from, to);
      chmodSync(to, st.mode & 0o7777);
      chownSync(to, st.uid, st.gid);
      utimesSync(to, st.atime, st.mtime);
    }
    // devices, fifos and sockets are not copied (docker does not either for volumes of common images)
  }
}

/**
 * Fills `volumeDir` from `target` as seen through `layerDirs` (top-most first) and the container's `upperDir`,
 * when the volume is empty and the image has a directory there. Returns whether anything was copied.
 */
export function copyUpIntoVolume(layerDirs: readonly string[], upperDir: string, target: string, volumeDir: string): boolean {
  if (readdirSync(volumeDir).length > 0) return false;
  const sources = [...layerDirs].reverse().concat(upperDir).map((d) => join(d, target));
  let copied = false;
  for (const src of sources) {
    if (!existsSync(src)) continue;
    if (isWhiteout(src) || !lstatSync(src).isDirectory()) {
      // removed or replaced by a non-directory in this layer: start again from what comes above
      rmSync(volumeDir, { recursive: true, force: true });
      mkdirSync(volumeDir);
      copied = false;
      continue;
    }
    applyLayer(src, volumeDir);
    copied = true;
  }
  if (copied) {
    const top = sources.filter((s) => existsSync(s)).pop();
    if (top !== undefined) {
      const st = lstatSync(top);
      chmodSync(volumeDir, st.mode & 0o7777);
      chownSync(volumeDir, st.uid, st.gid);
    }
  }
  return copied;
}
