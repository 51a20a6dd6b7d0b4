// The host directory a v1 container's read-only /sys/fs/cgroup is bound from (view.ts, withTemplateRoot): the
// hierarchies' mount points and the co-mounted controllers' symlinks, made once per daemon run dir and per layout.
// Named after its content, and never removed: a running container's view has mounts on its directories, and an
// rmdir on the host would detach them from every container (Linux ≥ 3.18 lets a mount point in another mount
// namespace go, lazily unmounting it there).
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import type { CgroupView } from './types.js';
import { templateEntries } from './view.js';

const NAME_RE = /^[a-z0-9_,]+$/;

/** The template directory for this view under `base` (made when missing); its path. */
export function ensureViewTemplate(base: string, view: CgroupView): string {
  const { dirs, symlinks } = templateEntries(view);
  for (const name of [...dirs, ...symlinks.map((s) => s.name), ...symlinks.map((s) => s.target)]) {
    if (!NAME_RE.test(name)) throw new GantryError('INTERNAL', `cgroup view template: unexpected name "${name}"`);
  }
  const key = createHash('sha256').update(JSON.stringify({ dirs, symlinks })).digest('hex').slice(0, 16);
  const dir = join(base, `cgroup-view-${key}`);
  const existing = lstatSync(dir, { throwIfNoEntry: false });
  if (existing?.isDirectory() === true) return dir;
  if (existing !== undefined) throw new GantryError('INTERNAL', `cgroup view template ${dir} is not a directory`, { hint: 'remove it; the daemon makes it again' });
  mkdirSync(base, { recursive: true, mode: 0o755 });
  // filled in a temp dir and renamed into place: a daemon killed meanwhile leaves no half-made template in use
  const tmp = mkdtempSync(join(base, '.cgroup-view-'));
  try {
    for (const name of dirs) mkdirSync(join(tmp, name), { mode: 0o755 });
    for (const s of symlinks) symlinkSync(s.target, join(tmp, s.name));
    chmodSync(tmp, 0o755); // mkdtemp makes it 0700: the container lists /sys/fs/cgroup as any user
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
  return dir;
}
