// Operations on a cgroup directory tree that both drivers share: path checks, listing, pids, removal, polling.
import { join } from 'node:path';
import { GantryError, errnoCode, syscallError } from '../../common/errors.js';
import type { BlockIoEntry } from './block-io.js';
import { parsePids, sleep } from './sys.js';
import type { ControlFiles } from './sys.js';

export interface DriverTimings {
  /** How long freeze() waits for the kernel to report the cgroup frozen. */
  freezeTimeoutMs: number;
  /** How long remove() retries EBUSY while processes exit. */
  removeTimeoutMs: number;
}

/** A cgroup path must be relative and stay inside the hierarchy: "gantry/abc", never "", "/x" or "a/../b". */
export function checkCgroupPath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const segments = trimmed.split('/');
  if (trimmed === '' || path.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new GantryError('INVALID_ARGUMENT', `invalid cgroup path "${path}"`, {
      hint: 'a cgroup path is relative to the hierarchy root, like "gantry/CONTAINER_ID"',
    });
  }
  return trimmed;
}

/** Relative paths of every cgroup strictly below `rel` in one hierarchy, parents before children. */
export function listTree(cf: ControlFiles, root: string, rel: string): string[] {
  const dir = join(root, rel);
  if (!cf.sys.exists(dir)) return [];
  let names: string[];
  try {
    names = cf.sys.subdirs(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw syscallError('readdir', dir, e);
  }
  return names.sort().flatMap((name) => {
    const child = `${rel}/${name}`;
    return [child, ...listTree(cf, root, child)];
  });
}

/** Pids in dir/cgroup.procs and in every descendant cgroup. */
export function treePids(cf: ControlFiles, root: string, rel: string): number[] {
  const pids = new Set<number>();
  for (const r of [rel, ...listTree(cf, root, rel)]) {
    const text = cf.readOptional(join(root, r, 'cgroup.procs'));
    if (text !== undefined) for (const pid of parsePids(text)) pids.add(pid);
  }
  return [...pids].sort((a, b) => a - b);
}

/**
 * Removes dir and its descendants, children first, retrying EBUSY until the deadline. Missing = done. The rmdir
 * comes first: a container's cgroup rarely has children, and listing one (its dozens of control files) for them
 * cost more than the rmdir at every removal.
 */
export async function removeTree(cf: ControlFiles, dir: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      cf.sys.rmdir(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return;
      if (code === 'EBUSY' || code === 'EAGAIN' || code === 'ENOTEMPTY') {
        let children: string[] = [];
        try {
          children = cf.sys.subdirs(dir);
        } catch (e2) {
          if (errnoCode(e2) === 'ENOENT') return;
          throw syscallError('readdir', dir, e2);
        }
        if (children.length > 0) {
          for (const child of children) await removeTree(cf, join(dir, child), deadline);
          continue;
        }
      }
      if ((code === 'EBUSY' || code === 'EAGAIN') && Date.now() < deadline) {
        await sleep(20);
        continue;
      }
      throw syscallError('rmdir', dir, e, code === 'EBUSY'
        ? 'processes are still in the cgroup (or a child cgroup appeared); kill them and try again'
        : undefined);
    }
  }
}

/** Polls check() every few milliseconds until it is true; false if the timeout passes first. */
export async function pollUntil(check: () => boolean, timeoutMs: number, onEachTry?: () => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let wait = 1;
  for (;;) {
    onEachTry?.();
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(wait);
    wait = Math.min(wait * 2, 25);
  }
}

/** Sends signal to each pid, ignoring ones that already exited. */
export function signalPids(cf: ControlFiles, pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      cf.sys.kill(pid, signal);
    } catch (e) {
      if (errnoCode(e) !== 'ESRCH') throw syscallError(`kill ${signal}`, `pid ${pid}`, e);
    }
  }
}

/** Resident bytes of these processes (/proc/PID/statm): the memory use of a container without a memory cgroup of its
 * own (GANTRY_MEMCG=limited). */
export function rssOfPids(cf: ControlFiles, pids: readonly number[]): number {
  let pages = 0;
  for (const pid of pids) {
    const statm = cf.readOptional(`/proc/${pid}/statm`);
    pages += Number(statm?.split(' ')[1] ?? 0) || 0;
  }
  return pages * 4096;
}

/** USER_HZ: the unit of the times in /proc/PID/stat (100 on every Linux ABI). */
const USER_HZ = 100;

/** CPU time (user + system) these processes used, from /proc/PID/stat: the cpu usage of a container without a cpuacct
 * cgroup of its own (GANTRY_MEMCG=limited). Processes already gone are not counted. */
export function cpuNanosOfPids(cf: ControlFiles, pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = cf.readOptional(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    // the fields after the command (which may hold spaces and parentheses): state is field 3, utime 14, stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += (Number(fields[11]) || 0) + (Number(fields[12]) || 0);
  }
  return Math.round((ticks * 1e9) / USER_HZ);
}

/** Bytes these processes had read from and written to storage (/proc/PID/io read_bytes, write_bytes), as one
 * device-less entry per direction: the block I/O of a container without a blkio cgroup of its own
 * (GANTRY_MEMCG=limited). */
export function blockIoOfPids(cf: ControlFiles, pids: readonly number[]): BlockIoEntry[] {
  let read = 0;
  let write = 0;
  for (const pid of pids) {
    const text = cf.readOptional(`/proc/${pid}/io`);
    if (text === undefined) continue;
    read += Number(/^read_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
    write += Number(/^write_bytes: (\d+)$/m.exec(text)?.[1] ?? 0);
  }
  return [{ major: 0, minor: 0, op: 'Read', value: read }, { major: 0, minor: 0, op: 'Write', value: write }];
}
