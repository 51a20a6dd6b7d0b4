// Opens LAYER/a/b/name so that no component can be a link, even if a running container swaps a directory for a
// link while we open it: each directory is opened with O_DIRECTORY|O_NOFOLLOW relative to the one before, by
// naming it through the previous directory's descriptor (/proc/self/fd/N/NAME — the magic link is the open
// directory itself, wherever it now is). Node has neither openat nor openat2; this is their effect for our case.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** `root` is a daemon-owned dir (a layer or upper dir); `rel` a path below it without `..`; `flags` for the last. */
export async function openBeneath(root: string, rel: string, flags: number): Promise<FileHandle> {
  const names = rel.split('/').filter((n) => n !== '' && n !== '.');
  if (names.length === 0 || names.includes('..')) throw new Error(`openBeneath: bad path ${rel}`);
  let dir = await open(root, DIR_FLAGS);
  try {
    for (const name of names.slice(0, -1)) {
      const next = await open(`/proc/self/fd/${dir.fd}/${name}`, DIR_FLAGS);
      await dir.close();
      dir = next;
    }
    return await open(`/proc/self/fd/${dir.fd}/${names[names.length - 1]!}`, flags | constants.O_NOFOLLOW);
  } finally {
    await dir.close();
  }
}
