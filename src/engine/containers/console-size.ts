// Docker's ConsoleSize ([height, width] of the client's terminal, API 1.42+) on a container or an exec: the pty's
// size from the start, so a program that asks at once (stty size, a shell's first prompt) sees the real one.
import { GantryError } from '../../common/errors.js';

/** [rows, cols], or undefined for none ([0, 0] or absent); anything else is refused. */
export function parseConsoleSize(raw: unknown): [number, number] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
  if (!Array.isArray(raw) || raw.length !== 2 || !ok(raw[0]) || !ok(raw[1])) {
    throw new GantryError('INVALID_ARGUMENT', 'ConsoleSize must be [height, width], two whole numbers up to 65535', { hint: 'send [rows, columns] of the terminal, e.g. [24, 80]' });
  }
  return raw[0] > 0 && raw[1] > 0 ? [raw[0], raw[1]] : undefined;
}
