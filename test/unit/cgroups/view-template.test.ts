// A v1 container's read-only /sys/fs/cgroup bound from one template dir shared by every container (no tmpfs each).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTemplateRoot } from '../../../src/engine/cgroups/view.js';
import { ensureViewTemplate } from '../../../src/engine/cgroups/view-template.js';
import { DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, THIS_MACHINE, THIS_MACHINE_MOUNTS, withHost } from './hosts.js';

const CG = '/sys/fs/cgroup';

test('the template holds each hierarchy\'s mount point and the co-mounted controllers\' symlinks; the view binds it read-only first', async () => {
  const base = mkdtempSync(join(tmpdir(), 'gantry-view-template-'));
  try {
    await withHost(DISTRO_HYBRID, DISTRO_HYBRID_MOUNTS, ({ driver }) => {
      const view = driver.containerView({ writable: false, path: 'gantry-t/c1' });
      const dir = ensureViewTemplate(base, view);
      assert.equal(statSync(dir).mode & 0o777, 0o755, 'listable by any user in the container');
      const names = readdirSync(dir).sort();
      assert.deepEqual(names, ['blkio', 'cpu', 'cpu,cpuacct', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory',
        'net_cls', 'net_cls,net_prio', 'net_prio', 'perf_event', 'pids']);
      assert.ok(lstatSync(join(dir, 'cpu')).isSymbolicLink());
      assert.equal(readlinkSync(join(dir, 'cpu')), 'cpu,cpuacct', 'relative: resolved inside the container\'s view');
      assert.equal(ensureViewTemplate(base, view), dir, 'made once, then reused');
      assert.equal(ensureViewTemplate(base, driver.containerView({ writable: false, path: 'gantry-t/c2' })), dir, 'one for every container');

      const shared = withTemplateRoot(view, dir);
      assert.deepEqual(shared.mounts[0], { source: dir, target: CG, fstype: 'bind', data: '', readOnly: true });
      assert.deepEqual(shared.mounts.slice(1), view.mounts.slice(1), 'the container\'s own cgroup dirs bound on it as before');
      assert.deepEqual(shared.symlinks, [], 'the symlinks are in the template');
      assert.deepEqual(shared.readOnlyAfterSetup, [], 'read-only from the start: nothing to remount');
      const privileged = driver.containerView({ writable: true, path: 'gantry-t/c1' });
      assert.equal(withTemplateRoot(privileged, dir), privileged, 'a privileged container keeps its writable tmpfs');
    });
    await withHost(THIS_MACHINE, THIS_MACHINE_MOUNTS, ({ driver }) => {
      const other = ensureViewTemplate(base, driver.containerView({ writable: false, path: 'gantry-t/c1' }));
      assert.deepEqual(readdirSync(other).sort(), ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
      assert.equal(readdirSync(base).filter((n) => n.startsWith('cgroup-view-')).length, 2, 'another layout, another template');
      assert.deepEqual(readdirSync(base).filter((n) => n.startsWith('.')), [], 'no temp dir left');
    });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
