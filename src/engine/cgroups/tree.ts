// Operations on a cgroup directory tree that both drivers share: path checks, listing, pids, removal, polling.
import { join } from 'node:path';
import { GantryError, errnoCode, syscallError } from '../../common/errors.js';
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
