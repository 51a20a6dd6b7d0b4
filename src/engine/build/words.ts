// How Docker splits an instruction's arguments: on whitespace (EXPOSE, FROM, COPY), into shell-like words
// whose quotes are kept for substitution to remove (ENV, LABEL, ARG), or as a JSON array (the exec form).

/** Go's strings.Fields: words separated by runs of whitespace. */
export function fields(text: string): string[] {
  return text.split(/[ \t\r\n\v\f]+/).filter((w) => w !== '');
}

/**
 * Words separated by whitespace outside quotes; quotes and escape characters stay in the words (as in
 * Docker's parseWords), so that `a="b c"` is one word `a="b c"`.
 */
export function quotedWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quote === undefined && /[ \t]/.test(ch)) {
      if (word !== '') words.push(word);
      word = '';
      continue;
    }
    if (ch === escape && quote === undefined && i + 1 === text.length) continue;
    word += ch;
    if (ch === escape && quote !== "'" && i + 1 < text.length) {
      word += text[++i];
      continue;
    }
    if (quote === undefined && (ch === '"' || ch === "'")) quote = ch;
    else if (ch === quote) quote = undefined;
  }
  if (word !== '') words.push(word);
  return words;
}

export type JsonReading = { readonly kind: 'json'; readonly args: string[] } | { readonly kind: 'shell' } | { readonly kind: 'not-strings' };

/**
 * The exec form: the text is a JSON array of strings. Text that is not a JSON array (single quotes, a missing
 * bracket…) is the shell form, as Docker treats it; an array holding a non-string is an error in Docker.
 */
export function readJsonForm(text: string): JsonReading {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return { kind: 'shell' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return { kind: 'shell' };
  }
  if (!Array.isArray(parsed)) return { kind: 'shell' };
  if (!parsed.every((v): v is string => typeof v === 'string')) return { kind: 'not-strings' };
  return { kind: 'json', args: parsed };
}
