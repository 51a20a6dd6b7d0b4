// A diagnostic about a stack file: a stable code, a severity, a message, where (FILE:LINE:COL and the path of
// the offending key in the document), and a hint.

import type { DiagnosticCode } from './diagnostic-codes.js';

export type Severity = 'error' | 'warning';

export interface SourceLocation {
  /** Absolute path of the file ("-" for stdin). */
  readonly file: string;
  /** 1-based line and column of the offending key or value. */
  readonly line: number;
  readonly col: number;
  /** Number of characters to underline on that line (at least 1). */
  readonly length: number;
  /** The text of that source line (for the caret display), when known. */
  readonly lineText: string | undefined;
}

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  /** Path of the offending node, e.g. "services.web.ports[0]"; empty for the whole file. */
  readonly path: string;
  readonly location: SourceLocation | undefined;
  readonly hint: string | undefined;
}

/** Renders a path like ['services', 'web', 'ports', 0] as "services.web.ports[0]". */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function isError(d: Diagnostic): boolean {
  return d.severity === 'error';
}
