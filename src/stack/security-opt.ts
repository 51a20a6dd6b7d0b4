// `security_opt` of a service: `no-new-privileges` and `seccomp` (`seccomp:unconfined`, `seccomp=builtin`, or
// `seccomp=FILE`: a profile in Docker's JSON format, relative to the project directory, read here — in strict mode
// only from inside the project — checked, and carried on as `seccomp=<JSON>` like docker's CLI sends it). AppArmor
// and SELinux options are reported, located, and ignored.

import { compactJson, seccompOptionValue, seccompValueIsInline } from '../common/seccomp-option.js';
import { noNewPrivilegesOption } from '../common/security-opt.js';
import { GantryError } from '../common/errors.js';
import { parseSeccompProfile } from '../engine/seccomp/profile.js';
import type { PathSeg, PNode, Pos } from './pnode.js';
import type { Reporter } from './report.js';

/** How the loader reaches a profile file the stack names. */
export interface SecurityOptFiles {
  /** The absolute host path of a path as written (relative ones against the project directory). */
  path(p: string, pos: Pos): string;
  /** The file's text after the file policy's checks (strict mode, size cap); undefined when reported. */
  read(file: string, pos: Pos, path: readonly PathSeg[]): string | undefined;
}

/** The options Gantry applies, normalized ('no-new-privileges', 'seccomp=…'), or undefined when none is set (so
 * the config hash of a service without them is what it was before). */
export function normalizeSecurityOpt(n: PNode | undefined, path: readonly PathSeg[], reporter: Reporter, files: SecurityOptFiles): readonly string[] | undefined {
  if (n?.kind !== 'seq') return undefined;
  let noNewPrivileges = false;
  let seccomp: string | undefined;
  n.items.forEach((item, i) => {
    if (item.kind !== 'scalar' || item.value === null) return;
    const opt = String(item.value);
    const at = [...path, i];
    const nnp = noNewPrivilegesOption(opt);
    const seccompValue = seccompOptionValue(opt);
    if (nnp === 'invalid') {
      reporter.error('SPEC_INVALID_VALUE', `invalid security option ${JSON.stringify(opt)}`, item.pos, at, 'use no-new-privileges, no-new-privileges:true or no-new-privileges:false');
    } else if (nnp !== undefined) {
      noNewPrivileges = nnp;
    } else if (seccompValue !== undefined) {
      seccomp = seccompProfileOption(seccompValue, item.pos, at, reporter, files) ?? seccomp;
    } else {
      reporter.warn('SPEC_UNSUPPORTED_KEY', `security option ${JSON.stringify(opt)} is not supported by Gantry and is ignored`, item.pos, at,
        'Gantry applies no AppArmor or SELinux profile; no-new-privileges and seccomp are applied');
    }
  });
  const out = [...(noNewPrivileges ? ['no-new-privileges'] : []), ...(seccomp === undefined ? [] : [seccomp])];
  return out.length > 0 ? out : undefined;
}

function seccompProfileOption(value: string, pos: Pos, at: readonly PathSeg[], reporter: Reporter, files: SecurityOptFiles): string | undefined {
  let json = value;
  if (!seccompValueIsInline(value)) {
    const text = files.read(files.path(value, pos), pos, at);
    if (text === undefined) return undefined;
    json = compactJson(text);
  } else if (!json.trimStart().startsWith('{')) {
    return `seccomp=${value}`;
  }
  try {
    parseSeccompProfile(json);
  } catch (err) {
    if (!(err instanceof GantryError)) throw err;
    reporter.error('SPEC_INVALID_VALUE', `security option seccomp=${seccompValueIsInline(value) ? '…' : value}: ${err.message}`, pos, at, err.hint);
    return undefined;
  }
  return `seccomp=${json}`;
}
