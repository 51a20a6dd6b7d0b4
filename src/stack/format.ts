// Diagnostics as text: the compiler-like block, and the one-line form used by other commands.

import { relative, isAbsolute } from 'node:path';
import type { Diagnostic } from './diagnostic.js';

export interface FormatOptions {
  /** ANSI colours. */
  readonly color?: boolean;
  /** File names are shown relative to this directory when inside it (default: process.cwd()). */
  readonly cwd?: string;
}

function displayFile(file: string, cwd: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * error[SPEC_UNKNOWN_DEPENDENCY]: service "api" depends on "db2", which is not defined
 *   --> stack.yaml:14:9
 *    |
 * 14 |       - db2
 *    |         ^^^
 * hint: defined services are: db, web
 */
/** What the block renderer reads; other located diagnostics (e.g. Dockerfile errors) use it too. */
export type RenderableDiagnostic = Pick<Diagnostic, 'severity' | 'message' | 'location' | 'hint'> & { readonly code: string };

export function formatDiagnostic(d: RenderableDiagnostic, options: FormatOptions = {}): string {
  const color = options.color === true;
  const cwd = options.cwd ?? process.cwd();
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const sev = d.severity === 'error' ? paint('1;31', 'error') : paint('1;33', 'warning');
  const lines = [`${sev}${paint('1', `[${d.code}]: ${d.message}`)}`];
  const loc = d.location;
  if (loc !== undefined) {
    lines.push(`  ${paint('34', '-->')} ${displayFile(loc.file, cwd)}:${loc.line}:${loc.col}`);
    if (loc.lineText !== undefined) {
      const num = String(loc.line);
      const pad = ' '.repeat(num.length);
      const text = loc.lineText.replace(/\t/g, ' ');
      const length = Math.max(1, Math.min(loc.length, text.length - loc.col + 1));
      lines.push(paint('34', `${pad} |`));
      lines.push(`${paint('34', `${num} |`)} ${text}`);
      lines.push(`${paint('34', `${pad} |`)} ${' '.repeat(loc.col - 1)}${paint(d.severity === 'error' ? '31' : '33', '^'.repeat(length))}`);
    }
  }
  if (d.hint !== undefined) lines.push(`${paint('36', 'hint')}: ${d.hint}`);
  return lines.join('\n');
}

/** FILE:LINE:COL: message (at services.web.ports[0]) */
export function formatDiagnosticLine(d: Diagnostic, options: FormatOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const loc = d.location === undefined ? '' : `${displayFile(d.location.file, cwd)}:${d.location.line}:${d.location.col}: `;
  const at = d.path === '' ? '' : ` (at ${d.path})`;
  const sev = d.severity === 'warning' ? 'warning: ' : '';
  return `${loc}${sev}${d.message}${at}`;
}
