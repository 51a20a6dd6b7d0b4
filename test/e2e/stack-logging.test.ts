// A stack's `logging` key, end to end: options reach the container, `none` keeps nothing, `stack logs` carries on.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason } from '../helpers/privileged.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { scenarioFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

describe('stack logging (test/e2e/Logging)', { skip }, () => {
  const d = new TestDaemon('stack-logging');
  const file = scenarioFile('Logging');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    await d.dispose();
  });

  test('json-file options reach the container; a none service keeps no log and stack logs shows the others', async () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'quiet']);
    const logConfig = (c: string): unknown => (JSON.parse(d.ok(['inspect', '--type', 'container', c])) as Array<{ HostConfig: { LogConfig: unknown }; LogPath: string }>)[0]!;
    assert.deepEqual((logConfig('logging-talker-1') as { HostConfig: { LogConfig: unknown } }).HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
    const quiet = logConfig('logging-quiet-1') as { HostConfig: { LogConfig: unknown }; LogPath: string };
    assert.deepEqual(quiet.HostConfig.LogConfig, { Type: 'none', Config: {} });
    assert.equal(quiet.LogPath, '');
    await eventually(() => {
      const r = d.gantry(['stack', '-f', file, 'logs', '--no-color']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /talker-1 +\| hello-from-talker/);
      assert.doesNotMatch(r.stdout, /never-kept/);
      assert.match(r.stderr, /quiet-1 +\| .*configured logging driver does not support reading/);
    }, 10_000, 'stack logs to show talker');
    const one = d.gantry(['logs', 'logging-quiet-1']);
    assert.equal(one.status, 1);
    assert.match(one.stderr, /configured logging driver does not support reading/);
  });
});
