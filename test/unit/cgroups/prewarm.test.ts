import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ownProcsFile } from '../../../src/engine/cgroups/prewarm.js';

// /proc/self/cgroup of a daemon on a hybrid host (this machine's shape) and on a v2-only host.
const HYBRID = `9:pids:/system.slice/gantry.service
8:cpu,cpuacct:/system.slice/gantry.service
3:memory:/
1:name=systemd:/system.slice/gantry.service
0::/system.slice/gantry.service
`;

describe('the daemon\'s own cgroup.procs, for the attach prewarm', () => {
  test('v1: the line of the hierarchy carrying the controller, under its mount point', () => {
    assert.equal(ownProcsFile(HYBRID, '/sys/fs/cgroup/cpu,cpuacct', (cs) => cs.includes('cpu')),
      '/sys/fs/cgroup/cpu,cpuacct/system.slice/gantry.service/cgroup.procs');
    assert.equal(ownProcsFile(HYBRID, '/sys/fs/cgroup/memory', (cs) => cs.includes('memory')), '/sys/fs/cgroup/memory/cgroup.procs');
  });
  test('v2: the 0:: line, never a v1 line', () => {
    assert.equal(ownProcsFile(HYBRID, '/sys/fs/cgroup', (cs, id) => id === '0' && cs.length === 0),
      '/sys/fs/cgroup/system.slice/gantry.service/cgroup.procs');
  });
  test('no matching line: nothing to write', () => {
    assert.equal(ownProcsFile('0::/\n', '/sys/fs/cgroup/cpu', (cs) => cs.includes('cpu')), undefined);
  });
});
