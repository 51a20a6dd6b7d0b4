// At daemon start, before any store loads: the temp files of atomic writes that a crash interrupted (a record
// is written as `.<name>.<pid>.<n>.tmp`, fsynced, then renamed) are removed from every directory that holds
// records. The record itself is either the old or the new one; the temp is never read. A volume's `_data` and a
// container's layers are never looked into.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemps } from '../common/atomic-file.js';

/** Record directories below the root: a `*` segment stands for every subdirectory. */
const RECORD_DIRS = ['containers/*', 'volumes/*', 'stacks', 'stacks/*', 'images', 'networks', 'networks/endpoints', 'deploy/sources'];

function expand(root: string, pattern: string): string[] {
  if (!pattern.endsWith('/*')) return [join(root, pattern)];
  const dir = join(root, pattern.slice(0, -2));
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Removes them; answers the removed paths relative to the root (for one log line). */
export function sweepInterruptedWrites(root: string): string[] {
  return RECORD_DIRS.flatMap((pattern) => expand(root, pattern))
    .flatMap((dir) => removeStaleTemps(dir).map((name) => join(dir, name).slice(root.length + 1)));
}
