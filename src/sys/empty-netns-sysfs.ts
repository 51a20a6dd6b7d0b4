// A sysfs of a network namespace that holds nothing but `lo`, mounted read-only at a path of the daemon's.
//
// Every sysfs mount of a new network namespace is a new superblock, and the kernel finds (or rules out) an existing
// one by walking every sysfs superblock of the host (sget_fc): one per container, so each start paid for all the
// containers before it (2 ms at 3,000, growing with N). Containers with `--network none` see the same thing in any
// such namespace (only `lo`), so they bind this one instead (linux-runtime.ts).
// The superblock does not keep the namespace alive (its lo would go), so the namespace is bound beside it
// (`<target>.netns`, as `ip netns add` does): both outlive the daemon, like the containers that use them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CLONE_NEWNET, MNT_DETACH, O_RDONLY, sysClose, sysGettid, sysMount, sysOpen, sysSetns, sysUmount2, sysUnshare } from './ffi.js';
import { withRtnl } from './netlink.js';

const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_BIND = 4096;
const MS_PRIVATE = 1 << 18;

/** Mount points of this mount namespace with their filesystem type (mountinfo: field 5 and the one after ` - `). */
function mountTypes(): Map<string, string> {
  const types = new Map<string, string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    if (f[4] !== undefined && dash > 0 && f[dash + 1] !== undefined) types.set(f[4].replace(/\\040/g, ' '), f[dash + 1]!);
  }
  return types;
}

/** True when both are mounted already (an earlier daemon's): reuse them, containers of its may use them. */
export function emptyNetnsSysfsMounted(target: string): boolean {
  const types = mountTypes();
  return types.get(target) === 'sysfs' && types.get(`${target}.netns`) === 'nsfs';
}

/** Mounts it at `target` (made if missing), its namespace bound at `<target>.netns`. The calling thread visits the
 * new netns for the length of the call. */
export function mountEmptyNetnsSysfs(target: string): void {
  mkdirSync(target, { recursive: true, mode: 0o755 });
  writeFileSync(`${target}.netns`, '', { mode: 0o600 });
  const self = sysOpen(`/proc/self/task/${sysGettid()}/ns/net`, O_RDONLY);
  try {
    sysUnshare(CLONE_NEWNET, 'a network namespace for the --network none sysfs');
    try {
      sysMount(`/proc/self/task/${sysGettid()}/ns/net`, `${target}.netns`, null, MS_BIND);
      withRtnl((nl) => nl.setUp(nl.linkIndex('lo'))); // as in a container: its lo is up
      sysMount('sysfs', target, 'sysfs', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
    } finally {
      sysSetns(self, CLONE_NEWNET, 'own network namespace');
    }
    // no copies in mount namespaces that share the host's
    sysMount(null, target, null, MS_PRIVATE);
    sysMount(null, `${target}.netns`, null, MS_PRIVATE);
  } catch (e) {
    unmountEmptyNetnsSysfs(target);
    throw e;
  } finally {
    sysClose(self);
  }
}

/** Unmounts both (containers keep their own copies of the sysfs, not the namespace); false when none was mounted. */
export function unmountEmptyNetnsSysfs(target: string): boolean {
  let any = false;
  for (const path of [target, `${target}.netns`]) while (sysUmount2(path, MNT_DETACH)) any = true;
  return any;
}
