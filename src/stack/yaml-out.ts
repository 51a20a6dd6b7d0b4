// A small YAML emitter for plain JSON data (the normalised model): block style, strings quoted whenever a
// plain scalar could be read back as something else. Faster to load and run than a general YAML library.

const PLAIN = /^[A-Za-z0-9_./~^=+-][A-Za-z0-9_./@~^=%+:, -]*$/;
const AMBIGUOUS = /^(true|false|yes|no|on|off|y|n|null|~|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|<<)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '' || s === '-' || s.startsWith('-:') || !PLAIN.test(s) || AMBIGUOUS.test(s) || s.includes(': ') || s.endsWith(':') || s.endsWith(' ') || s.startsWith('- ') || s.includes(' #')) return JSON.stringify(s);
  return s;
}

function key(k: string): string {
  return scalar(k);
}

function emit(v: unknown, indent: string, out: string[]): void {
  // called for a value that is a non-empty map or list, after "key:" or "-"
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isBlock(item)) {
        const inner: string[] = [];
        emit(item, `${indent}  `, inner);
        // first line of the item goes after "- "
        const first = (inner[0] as string).slice(indent.length + 2);
        out.push(`${indent}- ${first}`, ...inner.slice(1));
      } else out.push(`${indent}- ${inline(item)}`);
    }
    return;
  }
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === undefined) continue;
    if (isBlock(val)) {
      out.push(`${indent}${key(k)}:`);
      emit(val, Array.isArray(val) ? `${indent}  ` : `${indent}  `, out);
    } else out.push(`${indent}${key(k)}: ${inline(val)}`);
  }
}

function isBlock(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && typeof v === 'object' && Object.values(v).some((x) => x !== undefined);
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return '[]';
  if (v !== null && typeof v === 'object') return '{}';
  return scalar(v);
}

/** YAML text for JSON-like data (undefined members are left out). */
export function toYaml(data: unknown): string {
  if (!isBlock(data)) return `${inline(data)}\n`;
  const out: string[] = [];
  emit(data, '', out);
  return `${out.join('\n')}\n`;
}
