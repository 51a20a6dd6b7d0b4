// Small tarballs made on the fly with GNU tar, for the image store tests.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const TEST_PREFIX = 'gantry-images-test-';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), TEST_PREFIX));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export type TreeEntry = string | { symlink: string } | { dir: true };

/** Writes `tree` (relative path → content) under a fresh dir and tars it (member names without `./`). */
export function makeTarball(out: string, tree: Record<string, TreeEntry>, opts: { gzip?: boolean } = {}): string {
  const src = mkdtempSync(join(tmpdir(), `${TEST_PREFIX}src-`));
  try {
    for (const [path, entry] of Object.entries(tree)) {
      const full = join(src, path);
      if (typeof entry === 'object' && 'dir' in entry) { mkdirSync(full, { recursive: true }); continue; }
      mkdirSync(dirname(full), { recursive: true });
      if (typeof entry === 'string') writeFileSync(full, entry);
      else symlinkSync(entry.symlink, full);
    }
    const top = [...new Set(Object.keys(tree).map((p) => p.split('/')[0] as string))].sort();
    execFileSync('tar', ['--create', `--file=${out}`, '--directory', src, '--sort=name', '--owner=0', '--group=0',
      '--numeric-owner', '--mtime=2000-01-01 00:00:00Z', ...(opts.gzip === true ? ['--gzip'] : []), ...top]);
    return out;
  } finally {
    removeDir(src);
  }
}
