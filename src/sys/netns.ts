// Run a short synchronous piece of code with the calling THREAD inside another network namespace.
// The network namespace is per thread, so moving Node's main thread for a few synchronous calls is safe:
// nothing else runs on it meanwhile, and it is moved back before returning, even when `fn` throws.
// Sockets opened inside stay bound to that namespace after we leave, which is how netlink reaches it.
import { CLONE_NEWNET, O_RDONLY, sysClose, sysOpen, sysSetns, sysGettid } from './ffi.js';

/** A netns given as a pid (its /proc/<pid>/ns/net) or a path (e.g. /run/netns/NAME or /proc/PID/ns/net). */
export type NetnsTarget = number | string;

export function netnsPath(target: NetnsTarget): string {
  return typeof target === 'number' ? `/proc/${target}/ns/net` : target;
}

/** Open the netns file read-only (O_CLOEXEC); the caller closes the fd. */
export function openNetns(target: NetnsTarget): number {
  return sysOpen(netnsPath(target), O_RDONLY);
}

/**
 * Call `fn` with the calling thread in the netns `target`, and always move it back.
 * `fn` must be synchronous: an async function would resume on the main thread after we left.
 */
export function withNetns<T>(target: NetnsTarget, fn: () => T): T {
  const self = sysOpen(`/proc/self/task/${sysGettid()}/ns/net`, O_RDONLY);
  let inside = false;
  try {
    const fd = openNetns(target);
    try {
      sysSetns(fd, CLONE_NEWNET, netnsPath(target));
      inside = true;
    } finally {
      sysClose(fd);
    }
    const result = fn();
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      throw new Error('withNetns: fn must be synchronous (it returned a promise)');
    }
    return result;
  } finally {
    if (inside) sysSetns(self, CLONE_NEWNET, 'own network namespace');
    sysClose(self);
  }
}
