// Collects diagnostics during one load, and knows the source text of every file read so each diagnostic can
// carry its source line.

import type { DiagnosticCode } from './diagnostic-codes.js';
import { DIAGNOSTIC_CODES } from './diagnostic-codes.js';
import type { Diagnostic, Severity } from './diagnostic.js';
import { formatPath } from './diagnostic.js';
import type { PathSeg, Pos } from './pnode.js';

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** Each file's text, split into lines when a diagnostic first needs one (most loads report nothing). */
  private readonly sources = new Map<string, string | string[]>();
  private readonly untrusted = new Set<string>();

  /**
   * A file outside the project directory (a host file a stack names): diagnostics located in it keep their
   * code and FILE:LINE:COL but no excerpt, no path of keys and a fixed message, so no text of it is shown.
   */
  markUntrusted(file: string): void {
    this.untrusted.add(file);
    this.sources.delete(file);
  }

  addSource(file: string, text: string): void {
    if (this.untrusted.has(file)) return;
    this.sources.set(file, text);
  }

  private lineText(file: string, line: number): string | undefined {
    let lines = this.sources.get(file);
    if (lines === undefined) return undefined;
    if (typeof lines === 'string') {
      lines = lines.split(/\r?\n/);
      this.sources.set(file, lines);
    }
    return lines[line - 1];
  }

  error(code: DiagnosticCode, message: string, pos: Pos | undefined, path: readonly PathSeg[] = [], hint?: string): void {
    this.add('error', code, message, pos, path, hint);
  }

  warn(code: DiagnosticCode, message: string, pos: Pos | undefined, path: readonly PathSeg[] = [], hint?: string): void {
    this.add('warning', code, message, pos, path, hint);
  }

  hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }

  /** A diagnostic located like the loader's own, but not collected (for later stages, e.g. `stack convert`). */
  make(severity: Severity, code: DiagnosticCode, message: string, pos: Pos | undefined, path: readonly PathSeg[], hint: string | undefined): Diagnostic {
    if (pos !== undefined && this.untrusted.has(pos.file)) {
      message = DIAGNOSTIC_CODES[code].replace(/ \((?:warning|error)\)$/, '');
      path = [];
      hint = 'this file is outside the project directory, so none of its text is shown; open it at this line to see the problem';
    }
    const location =
      pos === undefined
        ? undefined
        : { file: pos.file, line: pos.line, col: pos.col, length: Math.max(1, pos.length), lineText: this.lineText(pos.file, pos.line) };
    return { code, severity, message, path: formatPath(path), location, hint };
  }

  private add(severity: Severity, code: DiagnosticCode, message: string, pos: Pos | undefined, path: readonly PathSeg[], hint: string | undefined): void {
    const d = this.make(severity, code, message, pos, path, hint);
    // The same problem reached twice (e.g. through a shared alias) is reported once.
    if (this.diagnostics.some((o) => o.code === d.code && o.message === d.message && o.path === d.path && sameLoc(o, d))) return;
    // A value already reported as invalid (by the schema) is not reported again by a later stage.
    if (code === 'SPEC_INVALID_VALUE' && this.diagnostics.some((o) => o.severity === 'error' && sameLoc(o, d))) return;
    this.diagnostics.push(d);
  }
}

function sameLoc(a: Diagnostic, b: Diagnostic): boolean {
  const x = a.location;
  const y = b.location;
  if (x === undefined || y === undefined) return x === y;
  return x.file === y.file && x.line === y.line && x.col === y.col;
}

/** Diagnostics in file/line/column order (stable for equal positions). */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const x = a.location;
    const y = b.location;
    if (x === undefined || y === undefined) return (x === undefined ? 0 : 1) - (y === undefined ? 0 : 1);
    return x.file.localeCompare(y.file) || x.line - y.line || x.col - y.col;
  });
}
