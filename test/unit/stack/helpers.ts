import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/unit/stack/*.js or test/unit/stack/*.ts alike. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (d.endsWith('/dist')) return dirname(d);
    d = dirname(d);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function fixturesRoot(): string {
  return join(repoRoot(), 'test', 'fixtures', 'stack');
}
