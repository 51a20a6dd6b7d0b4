// `.env` / `--env-file` parsing: KEY=VALUE lines, `export KEY=VALUE`, comments, single quotes (literal),
// double quotes (escapes, interpolation), unquoted values (inline ` #` comments, interpolation).
// Interpolation sees the shell environment and the lines above.

import { interpolate } from './interpolate.js';
import type { Pos } from './pnode.js';
import type { Reporter } from './report.js';

export function parseEnvFile(text: string, file: string, shell: Readonly<Record<string, string | undefined>>, reporter: Reporter): Map<string, string> {
  reporter.addSource(file, text);
  const vars = new Map<string, string>();
  const lookup = (name: string): string | undefined => shell[name] ?? vars.get(name);
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n] as string;
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const indent = raw.length - line.length;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const bodyCol = indent + (line.length - body.length) + 1;
    const pos = (col: number, length: number): Pos => ({ file, line: n + 1, col, length, base: '' });
    const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*(=|$)/.exec(body);
    if (m === null) {
      reporter.error('SPEC_ENV_FILE_SYNTAX', 'expected KEY=VALUE', pos(bodyCol, body.trimEnd().length), [], 'a variable name starts with a letter or "_"; comments start with "#"');
      continue;
    }
    const key = m[1] as string;
    if (m[2] === '') continue; // `KEY` alone: nothing to set
    let rest = body.slice(m[0].length).trimStart();
    let value: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) {
        reporter.error('SPEC_ENV_FILE_SYNTAX', `unterminated single quote in the value of ${key}`, pos(bodyCol, body.length), []);
        continue;
      }
      value = rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      let i = 1;
      let out = '';
      let closed = false;
      // A double-quoted value may span lines.
      for (;;) {
        for (; i < rest.length; i++) {
          const c = rest[i] as string;
          if (c === '\\' && i + 1 < rest.length) {
            const e = rest[++i] as string;
            out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '$' ? '$$' : e;
          } else if (c === '"') {
            closed = true;
            break;
          } else out += c;
        }
        if (closed || n + 1 >= lines.length) break;
        out += '\n';
        rest = lines[++n] as string;
        i = 0;
      }
      if (!closed) {
        reporter.error('SPEC_ENV_FILE_SYNTAX', `unterminated double quote in the value of ${key}`, pos(bodyCol, body.length), []);
        continue;
      }
      value = interpolateOrReport(out, key, lookup, reporter, pos(bodyCol, body.length));
    } else {
      const hash = rest.search(/\s#/);
      const v = (hash >= 0 ? rest.slice(0, hash) : rest).trim();
      value = interpolateOrReport(v, key, lookup, reporter, pos(bodyCol, body.length));
    }
    vars.set(key, value);
  }
  return vars;
}

function interpolateOrReport(v: string, key: string, lookup: (n: string) => string | undefined, reporter: Reporter, pos: Pos): string {
  const r = interpolate(v, lookup);
  for (const p of r.problems) {
    reporter.error(p.kind === 'syntax' ? 'SPEC_INTERPOLATION_SYNTAX' : 'SPEC_INTERPOLATION_REQUIRED', `${p.message} (in the value of ${key})`, pos, []);
  }
  return r.value;
}
