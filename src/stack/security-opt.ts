// `security_opt` of a service: Gantry applies `no-new-privileges`; every other option (seccomp, apparmor, label
// profiles) is reported, located, and ignored.

import { noNewPrivilegesOption } from '../common/security-opt.js';
import type { PathSeg, PNode } from './pnode.js';
import type { Reporter } from './report.js';

/** ['no-new-privileges'] when the service sets it, else undefined (so its config hash is what it was before). */
export function normalizeSecurityOpt(n: PNode | undefined, path: readonly PathSeg[], reporter: Reporter): readonly string[] | undefined {
  if (n?.kind !== 'seq') return undefined;
  let noNewPrivileges = false;
  n.items.forEach((item, i) => {
    if (item.kind !== 'scalar' || item.value === null) return;
    const opt = String(item.value);
    const nnp = noNewPrivilegesOption(opt);
    if (nnp === 'invalid') {
      reporter.error('SPEC_INVALID_VALUE', `invalid security option ${JSON.stringify(opt)}`, item.pos, [...path, i], 'use no-new-privileges, no-new-privileges:true or no-new-privileges:false');
    } else if (nnp === undefined) {
      reporter.warn('SPEC_UNSUPPORTED_KEY', `security option ${JSON.stringify(opt)} is not supported by Gantry and is ignored`, item.pos, [...path, i],
        'Gantry applies no seccomp, AppArmor or SELinux profile; only no-new-privileges is applied');
    } else {
      noNewPrivileges = nnp;
    }
  });
  return noNewPrivileges ? ['no-new-privileges'] : undefined;
}
