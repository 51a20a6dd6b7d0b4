// A small YAML emitter for plain JSON data (the normalised model): block style, strings quoted whenever a
// plain scalar could be read back as something else. Faster to load and run than a general YAML library.
// Data is read as JSON.stringify reads it: undefined members are left out, and undefined items, NaN and the
// infinities are null (so callers need not copy the data through JSON first).
//
// `gantry stack config` runs this once per process, in V8's interpreter: the emitter walks each object's keys
// once, and quotes each distinct string once (the model repeats its keys and many values).

const PLAIN = /^[A-Za-z0-9_./~^=+-][A-Za-z0-9_./@~^=%+:, -]*$/;
const AMBIGUOUS = /^(true|false|yes|no|on|off|y|n|null|~|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|<<)$/i;

function quote(s: string): string {
  if (s === '' || s === '-' || s.startsWith('-:') || !PLAIN.test(s) || AMBIGUOUS.test(s) || s.includes(': ') || s.endsWith(':') || s.endsWith(' ') || s.startsWith('- ') || s.includes(' #')) return JSON.stringify(s);
  return s;
}

class Emitter {
  private text = '';
  /** Each string as written (quoted or not), by its value. */
  private readonly written = new Map<string, string>();

  scalar(v: unknown): string {
    if (typeof v === 'string') {
      let w = this.written.get(v);
      if (w === undefined) {
        w = quote(v);
        this.written.set(v, w);
      }
      return w;
    }
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (v === null || v === undefined) return 'null';
    return this.scalar(String(v));
  }

  /** Each key as written, with its ":" (a key is quoted like any string). */
  private readonly keys = new Map<string, string>();

  private key(k: string): string {
    let w = this.keys.get(k);
    if (w === undefined) {
      w = `${this.scalar(k)}:`;
      this.keys.set(k, w);
    }
    return w;
  }

  /**
   * Writes the lines of a map or list that has something to write (isBlock), one line per scalar. The first line
   * starts with `lead` instead of `indent`: a list item's first line goes after its "- ". A string value (most
   * lines) is looked up here rather than through scalar(): a call costs more than the lookup in the interpreter.
   */
  block(v: object, indent: string, lead: string): void {
    let first = lead;
    const inner = `${indent}  `;
    const written = this.written;
    // Scalars (most values) are written without asking isBlock: one call less per line.
    if (Array.isArray(v)) {
      for (const item of v as unknown[]) {
        if (typeof item === 'string') this.text += `${first}- ${written.get(item) ?? this.scalar(item)}\n`;
        else if (item === null || typeof item !== 'object') this.text += `${first}- ${this.scalar(item)}\n`;
        else if (isBlock(item)) this.block(item, inner, `${first}- `);
        else this.text += `${first}- ${Array.isArray(item) ? '[]' : '{}'}\n`;
        first = indent;
      }
      return;
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const val = obj[k];
      if (val === undefined) continue;
      const key = this.keys.get(k) ?? this.key(k);
      if (typeof val === 'string') this.text += `${first}${key} ${written.get(val) ?? this.scalar(val)}\n`;
      else if (val === null || typeof val !== 'object') this.text += `${first}${key} ${this.scalar(val)}\n`;
      else if (isBlock(val)) {
        this.text += `${first}${key}\n`;
        this.block(val, inner, inner);
      } else this.text += `${first}${key} ${Array.isArray(val) ? '[]' : '{}'}\n`;
      first = indent;
    }
  }

  /** A value on the line of its key or "-": a scalar, or an empty map or list. */
  inline(v: unknown): string {
    if (v !== null && typeof v === 'object') return Array.isArray(v) ? '[]' : '{}';
    return this.scalar(v);
  }

  done(): string {
    return this.text;
  }
}

/** A non-empty list, or a map with a member that is not undefined: written on lines of its own. */
function isBlock(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.length > 0;
  const obj = v as Record<string, unknown>;
  for (const k in obj) if (Object.hasOwn(obj, k) && obj[k] !== undefined) return true;
  return false;
}

/** YAML text for JSON-like data (undefined members are left out). */
export function toYaml(data: unknown): string {
  const e = new Emitter();
  if (!isBlock(data)) return `${e.inline(data)}\n`;
  e.block(data as object, '', '');
  return e.done();
}
