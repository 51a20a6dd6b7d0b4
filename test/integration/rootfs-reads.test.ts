// What the daemon reads from a container's files stays inside the container (root, real kernel): copy-up of an
// image whose links point at the host's root, and exec against a container that swapped its passwd for a FIFO
// or a huge file. One private daemon for the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { busyboxTarball, eventually, TestDaemon } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const skip = skipReason('root', 'busybox');

interface Inspect { Mounts: Array<{ Type: string; Source: string; Destination: string }> }

describe('daemon reads of container files', { skip }, () => {
  const d = new TestDaemon('rootfs-reads');
  const scratch = mkdtempSync(join(tmpdir(), 'gantry-rootfs-reads-'));
  // a canary on the host: the image links `hostroot -> /` and declares a VOLUME at /hostroot/<this dir>
  const canaryDir = join(scratch, 'host-canary');

  before(async () => {
    await d.start();
    d.importBusybox();
    mkdirSync(canaryDir);
    writeFileSync(join(canaryDir, 'secret'), 'HOST-CANARY\n');
  });
  after(async () => {
    await d.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('copy-up through an image link to / copies the image\'s own files, never the host\'s', () => {
    const stage = join(scratch, 'rootfs');
    mkdirSync(stage);
    execFileSync('tar', ['-xf', busyboxTarball(), '-C', stage]);
    symlinkSync('/', join(stage, 'hostroot'));
    const tarball = join(scratch, 'hostlink.tar');
    execFileSync('tar', ['-cf', tarball, '--numeric-owner', '-C', stage, '.']);
    d.ok(['import', '--change', 'VOLUME /hostroot/etc', '--change', `VOLUME /hostroot${canaryDir}`, tarball, 'hostlink']);
    try {
      const out = d.ok(['run', '--name', 'hostlink', 'hostlink', 'sh', '-c', `cat /etc/passwd; ls -A /hostroot${canaryDir}; echo end`]);
      const [info] = JSON.parse(d.ok(['inspect', 'hostlink'])) as Inspect[];
      const source = (dest: string): string => info!.Mounts.find((m) => m.Destination === dest)!.Source;
      const imagePasswd = readFileSync(join(stage, 'etc', 'passwd'), 'utf8');
      assert.equal(readFileSync(join(source('/hostroot/etc'), 'passwd'), 'utf8'), imagePasswd, 'the volume holds the image\'s /etc/passwd');
      assert.deepEqual(readdirSync(source(`/hostroot${canaryDir}`)), [], 'nothing of the host directory is copied');
      assert.ok(!out.includes('secret'), `the container does not see the host canary: ${out}`);
      assert.equal(out, `${imagePasswd}end\n`);
    } finally {
      d.gantry(['rm', '-f', '-v', 'hostlink']);
      d.gantry(['rmi', 'hostlink']);
    }
  });

  test('a container that makes /etc/passwd a FIFO or a huge file cannot stall the daemon at exec', async () => {
    d.ok(['run', '-d', '--name', 'fifo', 'busybox', 'sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd && touch /tmp/ready && exec sleep 300']);
    try {
      await eventually(() => d.ok(['exec', 'fifo', 'test', '-e', '/tmp/ready']), 10_000, 'the FIFO is in place');
      const byName = d.gantry(['exec', '-u', 'nobody', 'fifo', 'id', '-u']);
      assert.notEqual(byName.status, 0);
      assert.match(byName.stderr, /unable to find user nobody/, 'a FIFO passwd counts as none');
      assert.match(d.ok(['version']), /Version/, 'the daemon still answers');
      // (not `id`: it would open the FIFO itself, inside the container, and wait there)
      assert.match(d.ok(['exec', '-u', '65534', 'fifo', 'grep', '^Uid:', '/proc/self/status']), /^Uid:\s+65534\s/, 'a numeric user still works');

      d.ok(['exec', 'fifo', 'sh', '-c', 'rm /etc/passwd && head -c 3000000 /dev/zero | tr "\\0" "x" > /etc/passwd']);
      const big = d.gantry(['exec', '-u', 'nobody', 'fifo', 'id', '-u']);
      assert.notEqual(big.status, 0);
      assert.match(big.stderr, /\/etc\/passwd of container fifo is larger than the 1048576 bytes the daemon reads/);
      assert.ok(!big.stderr.includes('xxxx'), 'the file content is not echoed');
      assert.match(d.ok(['version']), /Version/);
    } finally {
      d.gantry(['rm', '-f', 'fifo']);
    }
  });
});
