// Watch's writes into a RUNNING container go through the container's own view of its files (/proc/PID/root: its
// mount namespace, overlay and mounts included), not into the upper dir behind overlayfs's back: a file the app
// has already looked up (cached dentry, maybe still the image's copy) would otherwise keep showing the old
// content, since overlayfs does not notice changes made to its layers while mounted. The kernel does the
// copy-up, the whiteouts and the mounts. Every component is opened with O_DIRECTORY|O_NOFOLLOW through the
// previous directory's descriptor (as rootfs/open-beneath.ts does): a link in the container never leads out of
// it; a link on the way is refused (named). The caller keeps the container frozen meanwhile.

import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, rm, symlink, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, posix } from 'node:path';
import { GantryError, errnoCode } from '../../common/errors.js';

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const at = (dir: FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`;

function linkOnTheWay(name: string, path: string, e: unknown): GantryError {
  const code = errnoCode(e);
  return new GantryError('CONFLICT', `${path} in the container is not a directory (${code === 'ELOOP' || code === 'ENOTDIR' ? 'a link or a file' : code}) at "${name}"`, { hint: 'sync to a path made of real directories' });
}

/** The container directory `dir` as an open descriptor; missing components are made (owned by `owner`) when `create`. */
async function openDir(procRoot: string, dir: string, create: { uid: number; gid: number } | undefined): Promise<FileHandle | undefined> {
  // /proc/PID/root is itself a (magic) link: followed on purpose, to the container's root
  let fh = await open(procRoot, constants.O_RDONLY | constants.O_DIRECTORY);
  let path = '';
  try {
    for (const name of dir.split('/').filter((n) => n !== '' && n !== '.')) {
      if (name === '..') throw new GantryError('INVALID_ARGUMENT', `${dir} has a .. component`);
      path = `${path}/${name}`;
      let next: FileHandle;
      try {
        next = await open(at(fh, name), DIR_FLAGS);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw linkOnTheWay(name, path, e);
        if (create === undefined) { await fh.close(); return undefined; }
        await mkdir(at(fh, name), { mode: 0o755 });
        next = await open(at(fh, name), DIR_FLAGS);
        await next.chown(create.uid, create.gid);
      }
      await fh.close();
      fh = next;
    }
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Files up to this size are read whole (one read instead of a stream's several). */
const WHOLE_READ_MAX = 1024 * 1024;
/** Files of one directory written at once: libuv's pool runs their opens, writes and chowns side by side. */
const FILES_AT_ONCE = 8;

async function writeFileAt(dir: FileHandle, name: string, src: string, size: number, mode: number, uid: number, gid: number): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  let fh: FileHandle;
  try {
    fh = await open(at(dir, name), flags, mode & 0o7777);
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ELOOP' && code !== 'EISDIR' && code !== 'ENXIO' && code !== 'ETXTBSY') throw e;
    await rm(at(dir, name), { recursive: true, force: true }); // a link, a directory or a special file: replaced
    fh = await open(at(dir, name), flags, mode & 0o7777);
  }
  try {
    // written in place: the inode the app may hold open or cached sees the new content (a small file in one write)
    if (size <= WHOLE_READ_MAX) await fh.write(await readFile(src));
    else for await (const chunk of createReadStream(src, { highWaterMark: 256 * 1024 })) await fh.write(chunk as Buffer);
    await fh.chown(uid, gid);
    await fh.chmod(mode & 0o7777);
  } finally {
    await fh.close();
  }
}

async function copyTree(from: string, dir: FileHandle): Promise<void> {
  const files: { name: string; src: string; s: Stats }[] = [];
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const s = await lstat(src);
    if (s.isFile()) { files.push({ name, src, s }); continue; }
    if (s.isDirectory()) {
      let sub: FileHandle;
      try {
        sub = await open(at(dir, name), DIR_FLAGS);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') await rm(at(dir, name), { force: true }); // a file or link where a directory goes
        await mkdir(at(dir, name), { mode: s.mode & 0o7777 });
        sub = await open(at(dir, name), DIR_FLAGS);
        await sub.chown(s.uid, s.gid);
      }
      try { await copyTree(src, sub); } finally { await sub.close(); }
    } else if (s.isSymbolicLink()) {
      await rm(at(dir, name), { recursive: true, force: true });
      await symlink(await readlink(src), at(dir, name));
    }
  }
  // distinct names in one directory: written side by side, a few at a time
  for (let i = 0; i < files.length; i += FILES_AT_ONCE) {
    // all settle before a failure is thrown: none may still use `dir` once the caller closes it
    const results = await Promise.allSettled(files.slice(i, i + FILES_AT_ONCE).map((f) => writeFileAt(dir, f.name, f.src, f.s.size, f.s.mode, f.s.uid, f.s.gid)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/** Copies the staged tree into the running container's `containerDir` (made when missing, owned by `owner`). */
export async function syncIntoRunning(procRoot: string, staging: string, containerDir: string, owner: { uid: number; gid: number }): Promise<void> {
  const dir = await openDir(procRoot, containerDir, owner);
  try { await copyTree(staging, dir!); } finally { await dir!.close(); }
}

/** rm -rf of each path inside the running container (its overlay makes the whiteouts); missing paths are fine. */
export async function removeInRunning(procRoot: string, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const norm = posix.normalize(path);
    const name = posix.basename(norm);
    if (norm === '/' || name === '..' || name === '') throw new GantryError('INVALID_ARGUMENT', `refusing to delete ${path}`);
    const dir = await openDir(procRoot, posix.dirname(norm), undefined).catch((e: unknown) => {
      if (e instanceof GantryError && e.code === 'CONFLICT') return undefined; // a link on the way: nothing of ours is below it
      throw e;
    });
    if (dir === undefined) continue;
    try { await rm(at(dir, name), { recursive: true, force: true }); } finally { await dir.close(); }
  }
}
