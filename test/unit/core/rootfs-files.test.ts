import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { readContainerFile, USER_DB_MAX_BYTES } from '../../../src/engine/containers/rootfs-files.js';
import { resolveUserAsync } from '../../../src/engine/runtime/user.js';
import { removeDir, tempDir } from './helpers.js';
import { writeTree } from './rootfs-layers.js';

for (const running of [true, false]) describe(`readContainerFile (${running ? 'a running container: dir by dir, on the pool' : 'a stopped one, at start: direct'}): passwd and group as the container sees them, read safely`, () => {
  const rcf = (r: Parameters<typeof readContainerFile>[0], p: string, max: number, warn?: (m: string) => void): ReturnType<typeof readContainerFile> =>
    readContainerFile(r, p, max, warn, { running });
  let dir: string;
  let image: string;
  before(() => {
    dir = tempDir();
    image = join(dir, 'image');
    writeTree(join(dir, 'host'), { passwd: 'hostuser:x:4242:4242::/host:/bin/sh\n' });
    writeTree(image, { 'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n', 'etc/group': 'app:x:1001:\n' });
  });
  after(() => removeDir(dir));

  const upperWith = (name: string, tree: Parameters<typeof writeTree>[1]): string => {
    const upper = join(dir, name);
    writeTree(upper, tree);
    return upper;
  };

  test('reads the topmost copy; an absent file is undefined', async () => {
    const root = { name: 'web', layers: [upperWith('plain', {}), image] };
    assert.match((await rcf(root, '/etc/passwd', USER_DB_MAX_BYTES)) ?? '', /^app:x:1001/m);
    assert.equal(await rcf(root, '/etc/shadow', USER_DB_MAX_BYTES), undefined);
  });

  test('a passwd that links out of the container is read inside it', async () => {
    // the container replaced /etc/passwd with a link to the host's file: inside the root that path does not exist
    const upper = upperWith('escape', { 'etc/passwd': { link: join(dir, 'host', 'passwd') } });
    const root = { name: 'web', layers: [upper, image] };
    assert.equal(await rcf(root, '/etc/passwd', USER_DB_MAX_BYTES), undefined);
    const user = await resolveUserAsync('4242', (p) => rcf(root, p, USER_DB_MAX_BYTES));
    assert.equal(user.home, '/', 'nothing of the host file is used');
  });

  test('a FIFO in place of /etc/passwd is skipped with a warning, never opened for a blocking read', async () => {
    const upper = upperWith('fifo', { etc: { dir: true } });
    execFileSync('mkfifo', [join(upper, 'etc', 'passwd')]);
    const warnings: string[] = [];
    const root = { name: 'web', layers: [upper, image] };
    // with no writer, a blocking open or read would never return: that it returns is the assertion
    assert.equal(await rcf(root, '/etc/passwd', USER_DB_MAX_BYTES, (m) => warnings.push(m)), undefined);
    assert.deepEqual(warnings, ['ignoring /etc/passwd of container web: not a regular file']);
    await assert.rejects(resolveUserAsync('app', (p) => rcf(root, p, USER_DB_MAX_BYTES, () => undefined)),
      (e: unknown) => e instanceof GantryError && /unable to find user app/.test(e.message));
  });

  test('an oversize passwd is refused with an error naming container and file, not its content', async () => {
    const upper = upperWith('big', { etc: { dir: true } });
    const line = 'SECRET-CONTENT:x:1:1::/:/bin/sh\n';
    writeFileSync(join(upper, 'etc', 'passwd'), line.repeat(Math.ceil((USER_DB_MAX_BYTES + 1) / line.length)));
    const root = { name: 'web', layers: [upper, image] };
    await assert.rejects(rcf(root, '/etc/passwd', USER_DB_MAX_BYTES), (e: unknown) => {
      assert.ok(e instanceof GantryError);
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /\/etc\/passwd of container web is larger than the 1048576 bytes the daemon reads/);
      assert.ok(!`${e.message} ${e.hint ?? ''}`.includes('SECRET'), 'the content is not echoed');
      return true;
    });
    // exactly at the cap is fine
    writeFileSync(join(upper, 'etc', 'passwd'), 'a'.repeat(USER_DB_MAX_BYTES));
    assert.equal((await rcf(root, '/etc/passwd', USER_DB_MAX_BYTES))?.length, USER_DB_MAX_BYTES);
  });
});
