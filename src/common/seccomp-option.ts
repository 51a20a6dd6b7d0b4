// `seccomp=VALUE` (or Docker's older `seccomp:VALUE`) among security options, and a profile file turned into the
// one-line JSON the option carries to the daemon (docker's CLI compacts it the same way).

/** VALUE of a `seccomp=VALUE` / `seccomp:VALUE` option, else undefined. */
export function seccompOptionValue(opt: string): string | undefined {
  const m = /^seccomp[=:](.*)$/s.exec(opt);
  return m === null ? undefined : m[1];
}

/** True for the values that name no file: unconfined, builtin, or JSON itself. */
export function seccompValueIsInline(value: string): boolean {
  return value === 'unconfined' || value === 'builtin' || value === 'default' || value.trimStart().startsWith('{');
}

/** JSON text without the whitespace between tokens (strings untouched; numbers keep every digit). */
export function compactJson(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') {
      out += c;
    }
  }
  return out;
}
