import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../../src/cli/args.js';
import { buildCreateBody, CREATE_FLAGS } from '../../../src/cli/commands/containers.js';
import { isCode } from './helpers.js';

const body = (argv: string[]) => buildCreateBody(parseArgs(argv, CREATE_FLAGS, { stopAfterPositionals: 1 })).body;

describe('gantry run/create --log-driver, --log-opt', () => {
  test('no logging flags: no LogConfig (the daemon default, json-file)', () => {
    assert.equal(body(['busybox', 'true']).HostConfig?.LogConfig, undefined);
  });

  test('--log-opt is repeatable and becomes Config; without --log-driver the Type is "" (default driver)', () => {
    assert.deepEqual(body(['--log-opt', 'max-size=1m', '--log-opt=max-file=3', 'busybox']).HostConfig?.LogConfig,
      { Type: '', Config: { 'max-size': '1m', 'max-file': '3' } });
  });

  test('--log-driver sets the Type', () => {
    assert.deepEqual(body(['--log-driver', 'none', 'busybox']).HostConfig?.LogConfig, { Type: 'none', Config: {} });
    assert.deepEqual(body(['--log-driver=json-file', '--log-opt', 'tag={{.Name}}', 'busybox']).HostConfig?.LogConfig,
      { Type: 'json-file', Config: { tag: '{{.Name}}' } });
  });

  test('a --log-opt without = is a usage error', () => {
    assert.throws(() => body(['--log-opt', 'max-size', 'busybox']), isCode('USAGE', /invalid log option "max-size"/));
  });
});
