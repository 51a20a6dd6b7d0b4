// Docker's `no-new-privileges` security option, in its spellings: bare, `=BOOL` or the old `:BOOL` (Go's ParseBool).

const GO_TRUE = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

/** true/false for a no-new-privileges option, 'invalid' for one with a value that is not a boolean, undefined for any other option. */
export function noNewPrivilegesOption(opt: string): boolean | 'invalid' | undefined {
  if (opt === 'no-new-privileges') return true;
  const m = /^no-new-privileges[=:](.*)$/.exec(opt);
  if (m === null) return undefined;
  if (GO_TRUE.includes(m[1]!)) return true;
  if (GO_FALSE.includes(m[1]!)) return false;
  return 'invalid';
}
