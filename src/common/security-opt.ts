// Docker's `no-new-privileges` security option, in its spellings: bare, `=BOOL` or the old `:BOOL` (Go's ParseBool).

import { parseGoBool } from './units.js';

/** true/false for a no-new-privileges option, 'invalid' for one with a value that is not a boolean, undefined for any other option. */
export function noNewPrivilegesOption(opt: string): boolean | 'invalid' | undefined {
  if (opt === 'no-new-privileges') return true;
  const m = /^no-new-privileges[=:](.*)$/.exec(opt);
  if (m === null) return undefined;
  return parseGoBool(m[1]!) ?? 'invalid';
}
