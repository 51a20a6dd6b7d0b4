// Rendering for the CLI: aligned tables, JSON, and errors with their code and hint.
import { isGantryError, exitStatusFor } from '../common/errors.js';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 4)}\n`);
}

/** Prints an error the way users read it, and returns the exit status for it. */
export function reportError(e: unknown): number {
  if (isGantryError(e)) {
    process.stderr.write(`Error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
  } else {
    process.stderr.write(`Error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  }
  return exitStatusFor(e);
}
