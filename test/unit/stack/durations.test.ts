// One duration grammar for the CLI flags and stack files: `gantry run --health-interval X` and
// `healthcheck: {interval: X}` accept the same texts, give the same nanoseconds, and refuse the same texts with
// an error that names the flag, or the key at FILE:LINE:COL.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { parseArgs } from '../../../src/cli/args.js';
import { buildCreateBody, CREATE_FLAGS } from '../../../src/cli/commands/containers.js';
import { diagnosticsOf, loadStack } from '../../../src/stack/index.js';

const dir = mkdtempSync(join(tmpdir(), 'gantry-durations-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FLAGS = ['health-interval', 'health-timeout', 'health-start-period', 'health-start-interval'] as const;
const KEYS = { 'health-interval': 'interval', 'health-timeout': 'timeout', 'health-start-period': 'start_period', 'health-start-interval': 'start_interval' } as const;
const BODY = { 'health-interval': 'Interval', 'health-timeout': 'Timeout', 'health-start-period': 'StartPeriod', 'health-start-interval': 'StartInterval' } as const;

/** The CLI's reading: nanoseconds, or the error message. */
function cli(flag: (typeof FLAGS)[number], text: string): number | string {
  try {
    const { body } = buildCreateBody(parseArgs(['--health-cmd', 'true', `--${flag}`, text, 'busybox'], CREATE_FLAGS, { stopAfterPositionals: 1 }));
    return (body.Healthcheck as Record<string, number>)[BODY[flag]] as number;
  } catch (e) {
    if (e instanceof GantryError) return e.message;
    throw e;
  }
}

/** The stack loader's reading: nanoseconds, or "LINE:COL message". */
async function stackFile(flag: (typeof FLAGS)[number], text: string): Promise<number | string> {
  writeFileSync(join(dir, 'compose.yaml'), `services:\n  web:\n    image: busybox\n    healthcheck:\n      test: ["CMD", "true"]\n      ${KEYS[flag]}: "${text}"\n`);
  try {
    const { model } = await loadStack({ cwd: dir, env: {} });
    return model.services['web']?.healthcheck?.[KEYS[flag]] as number;
  } catch (e) {
    const d = diagnosticsOf(e)?.[0];
    if (d === undefined) throw e;
    return `${d.location?.line}:${d.location?.col} ${d.message}`;
  }
}

const ACCEPTED: Array<[string, number]> = [['1m30s', 90e9], ['500ms', 500e6], ['1h', 3600e9], ['1.5s', 1.5e9], ['2us', 2e3], ['10', 10e9], ['0', 0]];
const REFUSED: Array<[string, string]> = [['1m30', 'missing unit after "30"'], ['10x', 'unknown unit "x"; units are ns, us, ms, s, m, h'], ['soon', 'expected a number at "soon"'], ['-1s', 'it is negative']];

for (const flag of FLAGS) {
  test(`--${flag} and healthcheck.${KEYS[flag]} accept the same durations`, async () => {
    for (const [text, ns] of ACCEPTED) {
      assert.equal(cli(flag, text), ns, `--${flag} ${text}`);
      assert.equal(await stackFile(flag, text), ns, `${KEYS[flag]}: ${text}`);
    }
  });
  test(`--${flag} and healthcheck.${KEYS[flag]} refuse the same texts, naming the flag or the key`, async () => {
    for (const [text, why] of REFUSED) {
      assert.equal(cli(flag, text), `invalid duration for --${flag}: "${text}" (${why})`);
      assert.equal(await stackFile(flag, text), `6:${KEYS[flag].length + 9} invalid duration for healthcheck.${KEYS[flag]}: "${text}" (${why})`);
    }
  });
}
