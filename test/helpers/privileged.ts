// Privileged tests declare what they need. Missing prerequisites skip with the reason on a laptop,
// and FAIL when GANTRY_REQUIRE_PRIVILEGED=1 (set by .ci/run), so CI never goes green by skipping.
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

export type Requirement = 'root' | 'cgroup-v1' | 'cgroup-v2' | 'overlayfs' | 'busybox' | 'mmdebstrap' | 'iptables'
  | 'docker-cli' | 'docker-compose' | 'python3-docker' | 'script';

export function missingRequirement(req: Requirement): string | undefined {
  switch (req) {
    case 'root':
      return process.getuid?.() === 0 ? undefined : 'needs root';
    case 'cgroup-v1':
      return existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') ? undefined : 'needs cgroup v1 memory controller';
    case 'cgroup-v2':
      return existsSync('/sys/fs/cgroup/cgroup.controllers') ? undefined : 'needs cgroup v2 as the unified hierarchy';
    case 'overlayfs':
      return existsSync('/proc/filesystems') ? undefined : 'needs /proc/filesystems';
    case 'busybox':
      return existsSync('/bin/busybox') ? undefined : 'needs /bin/busybox (apt-get install busybox-static)';
    case 'mmdebstrap':
      return existsSync('/usr/bin/mmdebstrap') ? undefined : 'needs mmdebstrap to build Debian server images (apt-get install mmdebstrap)';
    case 'docker-cli':
      return existsSync('/usr/local/bin/docker') ? undefined : 'needs the docker CLI at /usr/local/bin/docker (28.x, the client only: no Docker daemon is used)';
    case 'docker-compose':
      return existsSync('/usr/bin/docker-compose') ? undefined : "needs Debian's docker-compose 1.29 (apt-get install docker-compose; scripts/setup.sh does)";
    case 'python3-docker':
      return existsSync('/usr/lib/python3/dist-packages/docker/__init__.py') ? undefined : "needs Debian's python3-docker for /usr/bin/python3 (apt-get install python3-docker; scripts/setup.sh does)";
    case 'script':
      return existsSync('/usr/bin/script') ? undefined : 'needs script(1) from util-linux to give a client a terminal';
    case 'iptables':
      return ['/usr/sbin/iptables', '/sbin/iptables'].some((p) => existsSync(p)) ? undefined : 'needs iptables, used only inside a private netns (apt-get install iptables)';
  }
}

/** Call at the top of a test (or suite `before`): skips or fails when a requirement is missing. */
export function requires(t: TestContext, ...reqs: Requirement[]): boolean {
  for (const req of reqs) {
    const missing = missingRequirement(req);
    if (missing === undefined) continue;
    if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') {
      throw new Error(`required by GANTRY_REQUIRE_PRIVILEGED=1: ${missing}`);
    }
    t.skip(missing);
    return false;
  }
  return true;
}

/** For describe-level gating: the reason to skip, or undefined. Throws in CI mode. */
export function skipReason(...reqs: Requirement[]): string | undefined {
  for (const req of reqs) {
    const missing = missingRequirement(req);
    if (missing === undefined) continue;
    if (process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error(`required by GANTRY_REQUIRE_PRIVILEGED=1: ${missing}`);
    return missing;
  }
  return undefined;
}
