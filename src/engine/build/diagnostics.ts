// Located Dockerfile errors and warnings: a stable code, FILE:LINE:COL, the instruction, and the one offending
// source line with a caret (rendered by the stack files' renderer, so both read alike). Never more of the file.

import { GantryError, type ErrorCode } from '../../common/errors.js';
import { editDistance } from '../../stack/suggest.js';
import { formatDiagnostic, type FormatOptions, type RenderableDiagnostic } from '../../stack/format.js';

/** Where in a Dockerfile: 1-based line and column, how many characters to underline, the line's text. */
export interface DockerfileLocation {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly length: number;
  /** The text of that one line (for the caret display); never more of the file. */
  readonly lineText: string | undefined;
}

export type DockerfileErrorCode = Extract<ErrorCode, 'DOCKERFILE_SYNTAX' | 'DOCKERFILE_INVALID'>;

export interface DockerfileDiagnostic extends RenderableDiagnostic {
  readonly code: DockerfileErrorCode;
  /** The instruction keyword involved (upper case), when there is one. */
  readonly instruction: string | undefined;
  readonly location: DockerfileLocation | undefined;
}

/** A Dockerfile that cannot be built; `diagnostic` holds the located form for the caret display. */
export class DockerfileError extends GantryError {
  readonly diagnostic: DockerfileDiagnostic;

  constructor(diagnostic: DockerfileDiagnostic) {
    const loc = diagnostic.location;
    const where = loc === undefined ? '' : `${loc.file}:${loc.line}:${loc.col}: `;
    const what = diagnostic.instruction === undefined ? '' : `${diagnostic.instruction}: `;
    super(diagnostic.code, `${where}${what}${diagnostic.message}`, {
      hint: diagnostic.hint,
      detail: { file: loc?.file, line: loc?.line, col: loc?.col, instruction: diagnostic.instruction },
    });
    this.name = 'DockerfileError';
    this.diagnostic = diagnostic;
  }
}

/** The text of line `line` (1-based) of `text`, cut to a sane width so that an error never echoes much. */
export function lineOf(text: string, line: number): string | undefined {
  let start = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf('\n', start);
    if (next < 0) return undefined;
    start = next + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  const raw = text.slice(start, end).replace(/\r$/, '');
  return raw.length > 240 ? `${raw.slice(0, 240)}…` : raw;
}

export interface ProblemSpec {
  readonly code?: DockerfileErrorCode;
  readonly message: string;
  readonly instruction?: string | undefined;
  readonly line: number;
  readonly col?: number;
  readonly length?: number;
  readonly hint?: string | undefined;
  readonly severity?: 'error' | 'warning';
}

/** Makes located diagnostics for one Dockerfile's text. */
export class DiagnosticSource {
  constructor(readonly file: string, private readonly text: string) {}

  diagnostic(spec: ProblemSpec): DockerfileDiagnostic {
    const lineText = lineOf(this.text, spec.line);
    return {
      code: spec.code ?? 'DOCKERFILE_SYNTAX',
      severity: spec.severity ?? 'error',
      message: spec.message,
      hint: spec.hint,
      instruction: spec.instruction,
      location: { file: this.file, line: spec.line, col: spec.col ?? 1, length: spec.length ?? Math.max(1, (lineText ?? '').length - (spec.col ?? 1) + 1), lineText },
    };
  }

  error(spec: ProblemSpec): DockerfileError {
    return new DockerfileError(this.diagnostic(spec));
  }
}

/** The compiler-like block (error[DOCKERFILE_SYNTAX]: … --> FILE:LINE:COL, the line, a caret). */
export function formatDockerfileDiagnostic(d: DockerfileDiagnostic, options: FormatOptions = {}): string {
  const message = d.instruction === undefined ? d.message : `${d.instruction}: ${d.message}`;
  return formatDiagnostic({ ...d, message }, options);
}

/** The closest of `names` within two edits (a swapped pair of letters, as in "buidl", counts as two). */
export function closeName(word: string, names: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word.toLowerCase(), name.toLowerCase());
    if (d <= 2 && d < word.length && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}
