// Builds layer stacks in temp dirs for the rootfs resolver, reader and copy-up tests: plain files, links,
// whiteouts (0:0 char devices, made with mknod) and opaque dirs (the xattr put there by the image code's own
// whiteout conversion and GNU tar, as when an image is pulled).
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WhiteoutTransform } from '../../../src/engine/images/whiteouts.js';

export type Node = string | { link: string } | { whiteout: true } | { dir: true };

/** Writes `tree` (path → node) under `root`; parents are created as directories. */
export function writeTree(root: string, tree: Record<string, Node>): void {
  mkdirSync(root, { recursive: true });
  for (const [rel, node] of Object.entries(tree)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    if (typeof node === 'string') writeFileSync(p, node);
    else if ('link' in node) symlinkSync(node.link, p);
    else if ('whiteout' in node) execFileSync('mknod', [p, 'c', '0', '0']);
    else mkdirSync(p, { recursive: true });
  }
}

/**
 * A layer whose directory `opaqueDir` (relative) is opaque, with `tree` in it: written in OCI form (the `.wh..wh..opq`
 * marker), converted by WhiteoutTransform and extracted by GNU tar with xattrs (needs root for trusted.*).
 */
export async function writeOpaqueLayer(root: string, scratch: string, opaqueDir: string, tree: Record<string, Node>): Promise<void> {
  const oci = join(scratch, 'oci');
  writeTree(oci, { ...tree, [`${opaqueDir}/.wh..wh..opq`]: '' });
  const tarFile = join(scratch, 'oci.tar');
  execFileSync('tar', ['-cf', tarFile, '--format=posix', '-C', oci, '.']);
  mkdirSync(root, { recursive: true });
  const tar = spawn('tar', ['-x', '-f', '-', '-C', root, '--xattrs', '--xattrs-include=*', '--numeric-owner'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const closed = new Promise<number | null>((resolve) => tar.on('close', resolve));
  await pipeline(createReadStream(tarFile), new WhiteoutTransform(), tar.stdin);
  if ((await closed) !== 0) throw new Error('tar -x of the opaque layer failed');
}
