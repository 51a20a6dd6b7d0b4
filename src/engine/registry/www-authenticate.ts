// `WWW-Authenticate` challenges (RFC 7235) as registries send them: `Bearer realm="…",service="…",scope="…"`
// or `Basic realm="…"`. Several challenges may share one header; quoted values may hold commas and escapes.

export interface Challenge {
  /** Lowercase scheme: `bearer`, `basic`. */
  scheme: string;
  /** Parameters with lowercase names. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let s = header;
  const skip = (): void => { s = s.replace(/^[\s,]+/, ''); };
  skip();
  while (s.length > 0) {
    const scheme = TOKEN.exec(s)?.[0];
    if (scheme === undefined) break;
    s = s.slice(scheme.length);
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      s = s.replace(/^\s+/, '');
      const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*/.exec(s);
      if (m === null) break; // the next challenge (or a token68 we do not use)
      s = s.slice(m[0].length);
      let value = '';
      if (s.startsWith('"')) {
        let i = 1;
        for (; i < s.length && s[i] !== '"'; i++) value += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
        s = s.slice(i + 1);
      } else {
        const v = /^[^,\s]*/.exec(s)![0];
        value = v;
        s = s.slice(v.length);
      }
      challenge.params[m[1]!.toLowerCase()] = value;
      s = s.replace(/^\s*/, '');
      if (!s.startsWith(',')) break;
      s = s.slice(1);
    }
    skip();
  }
  return out;
}
