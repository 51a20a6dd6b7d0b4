// cgroup v2 only (v1's init joins by itself, without the lock: CgroupJoin in types.ts). Moving a process between
// cgroups by its pid takes cgroup_threadgroup_rwsem for writing; after an idle moment that waits for an RCU grace
// period (7–20 ms here), and every container start would pay it once. Writing the daemon's own pid to the cgroup
// it is already in takes the lock without moving anything: done in the background as soon as a start is coming,
// the wait is over when the shim attaches the container (measured on v1, when its init was moved by pid too:
// 7.7 ms → 0.1 ms with ≥ 10 ms of lead, 2 ms with 5 ms). The write holds the kernel's cgroup mutex through its
// wait: a cgroup mkdir made meanwhile blocks until it ends, so the prewarm is started right after a start's
// mkdirs, never before them (at create time it blocked the daemon's main thread ~10 ms per start).
import { join } from 'node:path';

/**
 * The `cgroup.procs` file of this process's own cgroup in a hierarchy mounted at `mountDir`, from
 * /proc/self/cgroup text. `matches` picks the line (v1: by controller list; v2: the `0::` line).
 */
export function ownProcsFile(selfCgroup: string, mountDir: string, matches: (controllers: string[], hierarchyId: string) => boolean): string | undefined {
  for (const line of selfCgroup.split('\n')) {
    const [id, controllers, ...rest] = line.split(':');
    if (id === undefined || controllers === undefined || rest.length === 0) continue;
    if (matches(controllers === '' ? [] : controllers.split(','), id)) return join(mountDir, rest.join(':'), 'cgroup.procs');
  }
  return undefined;
}

/** Finds the daemon's own cgroup.procs once (`find` gets /proc/self/cgroup), then writes to it on each call. */
export class AttachPrewarmer {
  private file: string | undefined | null = null;

  constructor(private readonly readSelfCgroup: () => string, private readonly find: (selfCgroup: string) => string | undefined) {}

  /** Fire and forget: never blocks the caller, never throws. */
  run(): void {
    if (this.file === null) {
      let text = '';
      try { text = this.readSelfCgroup(); } catch { text = ''; }
      this.file = this.find(text);
    }
    const file = this.file;
    if (file === undefined) return;
    void import('node:fs/promises').then((fs) => fs.writeFile(file, String(process.pid), { flag: 'r+' })).catch(() => undefined);
  }
}
