// A busybox image tarball with a static C probe of the tests' own added at `/NAME` (and empty dirs it uses): the
// seccomp and container-root tests run their probes as a user's program would run, inside a container.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxTarball, PROJECT_ROOT } from './daemon.js';

/** Compiles SOURCE (relative to the project root) statically as NAME and appends it to a copy of the busybox
 * tarball in DIR; returns that tarball's path, for `gantry import`. */
export function probeImageTar(dir: string, source: string, name: string, emptyDirs: readonly string[] = []): string {
  const stage = join(dir, `${name}-stage`);
  mkdirSync(stage, { recursive: true });
  for (const d of emptyDirs) mkdirSync(join(stage, d), { recursive: true });
  const cc = spawnSync('cc', ['-static', '-O1', '-Wall', '-Werror', '-o', join(stage, name), join(PROJECT_ROOT, source)], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `cc ${source}: ${cc.stderr}`);
  const tar = join(dir, `${name}.tar`);
  copyFileSync(busyboxTarball(), tar);
  const add = spawnSync('tar', ['-rf', tar, '--owner=0', '--group=0', '-C', stage, name, ...emptyDirs], { encoding: 'utf8' });
  assert.equal(add.status, 0, `tar: ${add.stderr}`);
  return tar;
}
