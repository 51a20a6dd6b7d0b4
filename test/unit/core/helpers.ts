// Small helpers shared by the core unit tests: temp dirs with a unique prefix, and error matchers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError, type ErrorCode } from '../../../src/common/errors.js';

export const TEST_PREFIX = 'gantry-core-test-';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), TEST_PREFIX));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** For assert.throws: the error is a GantryError with this code (and, optionally, a message matching `re`). */
export const isCode = (code: ErrorCode, re?: RegExp) => (e: unknown): boolean => {
  if (!(e instanceof GantryError)) return false;
  if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
  if (re && !re.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${re}`);
  return true;
};
