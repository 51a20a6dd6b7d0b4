// A force-removed container's cgroups, removed off the daemon's main thread (by the trash reaper's worker, once
// `rm -f` has answered): their rmdirs, and the kernel's work behind each, were a fifth of the main thread's time
// in an `rm -f` of many. Its processes are dead by then (the init's exit killed its pid namespace), so a dir is
// normally empty; what is still in one (something made to join it from outside) is killed, as killAll() does.
// Plain fs calls only: this runs in a worker thread. Whatever is left past the deadline, the next daemon's
// sweep() removes (its record is gone: it is no container's).
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../../common/errors.js';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** rmdir of each dir, children first; busy ones are emptied (thawed, killed) and tried again until the deadline. */
export function removeCgroupDirs(dirs: readonly string[], timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  for (const dir of dirs) removeDir(dir, deadline);
}

function removeDir(dir: string, deadline: number): void {
  for (;;) {
    let code: string | undefined;
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      code = errnoCode(e);
    }
    if (code === 'ENOENT') return;
    if ((code !== 'EBUSY' && code !== 'EAGAIN' && code !== 'ENOTEMPTY') || Date.now() >= deadline) return;
    let children: string[];
    try {
      children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const child of children) removeDir(join(dir, child), deadline);
    if (children.length > 0) continue;
    emptyDir(dir);
    Atomics.wait(pause, 0, 0, 20);
  }
}

/** Thaws (a frozen task acts on no signal) and SIGKILLs what cgroup.procs lists. */
function emptyDir(dir: string): void {
  for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
    try { writeFileSync(join(dir, file), value, { flag: 'r+' }); } catch { /* not this hierarchy's file */ }
  }
  let text = '';
  try { text = readFileSync(join(dir, 'cgroup.procs'), 'utf8'); } catch { return; }
  for (const line of text.split('\n')) {
    const pid = Number(line);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
