// Layers a build makes without a container: COPY/ADD (from the context or from another stage or image) and the
// directory WORKDIR creates. Files are laid out in a staging dir of the daemon with GNU cp (`-a`: a link is
// copied as a link, never followed), owners and modes set (--chown/--chmod), then tar'ed (plainTar) into a gzip
// layer blob and extracted into the store like any layer (same checks). COPY --from reads the other image
// through a read-only overlay (snapshot/upper-tar.ts mergedTar) and is extracted with the layer checks.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGzip } from 'node:zlib';
import { GantryError } from '../../common/errors.js';
import { readContainerFile, USER_DB_MAX_BYTES } from '../containers/rootfs-files.js';
import type { LayerLimits } from '../images/limits.js';
import { MEDIA_TYPE_LAYER_GZIP, type OciDescriptor } from '../images/oci.js';
import type { ImageStore } from '../images/store.js';
import type { LayerRecord } from '../images/layers.js';
import { findInLayers, DIRECT_FS } from '../rootfs/resolve.js';
import { resolveUserAsync } from '../runtime/user.js';
import { mergedTar, plainTar } from '../snapshot/upper-tar.js';
import { extractChecked } from './context-tar.js';

export interface NewLayer { readonly descriptor: OciDescriptor; readonly layer: LayerRecord }

/** Runs a file tool (cp, chown, chmod); its stderr (a path, never content) is the error. */
function tool(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => { if (stderr.length < 2048) stderr += s; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new GantryError('SYSCALL_FAILED', `${cmd} failed: ${stderr.trim().split('\n')[0] ?? `exit ${code}`}`))));
  });
}

/** `cp -a` of a host tree (links copied as links) to `dest`: a writable copy of a bind mount's source. */
export function copyTree(source: string, dest: string): Promise<void> {
  return tool('cp', ['-a', '--no-dereference', '--', source, dest]);
}

/** The staging dir's tree as a gzip layer on top of `parent` (a chain id). */
export async function layerFromDir(images: ImageStore, dir: string, parent: string | undefined): Promise<NewLayer> {
  const gzip = createGzip();
  const tar = plainTar(dir, '.', 'the build step\'s files');
  tar.on('error', (e) => gzip.destroy(e));
  const blob = await images.ingestBlob(tar.pipe(gzip));
  const layer = await images.addLayerFromBlob({ digest: blob.digest, mediaType: MEDIA_TYPE_LAYER_GZIP }, { parent });
  return { descriptor: { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }, layer };
}

/** A staging dir whose root is a plain 0755 directory (its mode becomes the layer's `./`). */
export async function stagingDir(tmpDir: string): Promise<string> {
  const dir = await mkdtemp(join(tmpDir, 'build-step-'));
  await chmod(dir, 0o755);
  return dir;
}

/** `mkdir -p` of an image path inside the staging dir (0755, owned by the daemon: root). */
export async function makeDirs(staging: string, imagePath: string): Promise<string> {
  const host = join(staging, imagePath);
  await mkdir(host, { recursive: true, mode: 0o755 });
  return host;
}

/** Whether `imagePath` is a directory in the image whose layer dirs (topmost first) are given. */
export async function isDirInImage(layerDirs: readonly string[], imagePath: string): Promise<boolean> {
  if (layerDirs.length === 0) return false;
  const found = await findInLayers(layerDirs, imagePath, { fs: DIRECT_FS });
  return found?.stat.isDirectory() ?? false;
}

/** `--chown=USER[:GROUP]`: numbers as they are, names from the image's /etc/passwd and /etc/group. */
export async function resolveChown(spec: string, layerDirs: readonly string[]): Promise<{ uid: number; gid: number }> {
  const [user = '', group] = spec.split(':', 2);
  if (/^\d+$/.test(user) && (group === undefined || /^\d+$/.test(group))) {
    return { uid: Number(user), gid: Number(group ?? user) };
  }
  const root = { name: 'the build stage', layers: layerDirs };
  const read = (p: string): Promise<string | undefined> => (layerDirs.length === 0 ? Promise.resolve(undefined) : readContainerFile(root, p, USER_DB_MAX_BYTES, () => undefined, { running: false }));
  try {
    const r = await resolveUserAsync(group === undefined ? user : `${user}:${group}`, read);
    return { uid: r.uid, gid: r.gid };
  } catch (e) {
    throw new GantryError('DOCKERFILE_INVALID', `--chown=${spec}: ${e instanceof Error ? e.message : String(e)}`, { hint: 'use numeric ids (--chown=1000:1000) or a user the image\'s /etc/passwd defines' });
  }
}

export interface CopyItem {
  /** The source dir the item lives in (context dir, or a dir an image's files were extracted to). */
  readonly base: string;
  /** The item, relative to `base` (links already resolved inside it); '' for the whole base. */
  readonly path: string;
  readonly isDir: boolean;
}

export interface CopyOptions {
  /** Absolute destination in the image. */
  readonly dest: string;
  /** The destination names a directory (ends in `/`, several sources, a glob, or a directory in the image). */
  readonly destIsDir: boolean;
  readonly owner: { uid: number; gid: number } | undefined;
  readonly mode: number | undefined;
  /** Image paths of the directories the copy makes (not in the image): they get `owner` too. */
  readonly newDirs?: readonly string[] | undefined;
}

/** Lays the items out in `staging` at `dest`: a directory's contents go into dest, a file to dest or dest/NAME. */
export async function stageCopies(staging: string, items: readonly CopyItem[], o: CopyOptions): Promise<void> {
  const targets: string[] = [];
  for (const item of items) {
    const src = item.path === '' ? item.base : join(item.base, item.path);
    if (item.isDir) {
      const into = await makeDirs(staging, o.dest);
      await tool('cp', ['-a', '--no-dereference', '--', `${src}/.`, into]);
      targets.push(into);
    } else {
      const target = o.destIsDir ? posix.join(o.dest, posix.basename(item.path)) : o.dest;
      await makeDirs(staging, posix.dirname(target));
      await tool('cp', ['-a', '--no-dereference', '--', src, join(staging, target)]);
      targets.push(join(staging, target));
    }
  }
  if (o.owner !== undefined) {
    for (const d of o.newDirs ?? []) {
      const host = join(staging, d);
      if (existsSync(host)) await tool('chown', ['-h', '--', `${o.owner.uid}:${o.owner.gid}`, host]);
    }
  }
  for (const t of targets) {
    if (o.owner !== undefined) await tool('chown', ['-R', '-h', '--', `${o.owner.uid}:${o.owner.gid}`, t]);
    if (o.mode !== undefined) await tool('chmod', ['-R', '--', o.mode.toString(8), t]);
  }
}

/**
 * `COPY --from`: the image's files at `imagePath` (resolved in its root by tar inside the overlay), extracted
 * with the layer checks into a new dir under `tmpDir`; returns that dir and the item's name in it.
 */
export async function extractFromImage(layerDirs: readonly string[], imagePath: string, tmpDir: string, limits: LayerLimits, emptyDir: string): Promise<{ dir: string; name: string; isDir: boolean }> {
  const clean = posix.normalize(`/${imagePath}`);
  const found = await findInLayers(layerDirs, clean, { fs: DIRECT_FS });
  if (found === undefined) {
    throw new GantryError('BUILD_SOURCE_NOT_FOUND', `COPY --from: ${imagePath}: no such file or directory in the source stage or image`, { hint: 'check the path in the stage you copy from (paths there are absolute)' });
  }
  const resolved = found.containerPath;
  const parent = posix.dirname(resolved);
  const name = resolved === '/' ? '.' : posix.basename(resolved);
  const layers = layerDirs.length >= 2 ? layerDirs : [...layerDirs, emptyDir];
  const stream = mergedTar({ layers, tmpDir, dir: `.${parent}`, member: name, what: `${imagePath} of the source stage` });
  const dir = await extractChecked(stream, tmpDir, limits, 'from-');
  return { dir, name: name === '.' ? '' : name, isDir: found.stat.isDirectory() };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
