// Scenario: the daemon keeps a stack converged by label, so a service with its own container_name comes back too.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason } from '../helpers/privileged.js';
import { eventually, TestDaemon } from '../helpers/daemon.js';
import { scenarioFile } from './stack-helpers.js';

const skip = skipReason('root', 'busybox');

describe('repair by label (test/e2e/NamedRepair)', { skip }, () => {
  const d = new TestDaemon('stack-repair');
  const file = scenarioFile('NamedRepair');
  before(async () => { await d.start(); d.importBusybox(); });
  after(async () => {
    d.gantry(['down', '-f', file, '-t', '0', '--progress', 'quiet']);
    await d.dispose();
  });

  test('a container_name service removed by hand comes back', async () => {
    d.ok(['up', '-f', file, '-d', '--wait', '--progress', 'quiet']);
    const id = (JSON.parse(d.ok(['inspect', 'my-keeper'])) as Array<{ Id: string }>)[0]!.Id;
    d.ok(['rm', '-f', 'my-keeper']);
    await eventually(() => {
      const [c] = JSON.parse(d.ok(['inspect', 'my-keeper'])) as Array<{ Id: string; State: { Status: string } }>;
      assert.notEqual(c!.Id, id);
      assert.equal(c!.State.Status, 'running');
    }, 10_000, 'my-keeper to be recreated');
  });
});
