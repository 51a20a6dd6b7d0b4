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

/**
 * Emits a non-empty map or list (the value after "key:" or "-"), one line per scalar. The first line starts
 * with `lead` instead of `indent`: a list item's first line goes after its "- ".
 */
function emit(v: unknown, indent: string, out: string[], lead: string = indent): void {
  let first = lead;
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isBlock(item)) emit(item, `${indent}  `, out, `${first}- `);
      else out.push(`${first}- ${inline(item)}`);
      first = indent;
    }
    return;
  }
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    const val = obj[k];
    if (val === undefined) continue;
    if (isBlock(val)) {
      out.push(`${first}${key(k)}:`);
      emit(val, `${indent}  `, out);
    } else out.push(`${first}${key(k)}: ${inline(val)}`);
    first = indent;
  }
}

function isBlock(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v === null || typeof v !== 'object') return false;
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (obj[k] !== undefined) return true;
  return false;
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
