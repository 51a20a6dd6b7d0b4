import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveUser } from '../../../src/engine/runtime/user.js';
import { isCode } from './helpers.js';

const PASSWD = [
  '# comment line',
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  'app:x:1001:1001:App User:/home/app:/bin/sh',
  'broken line without fields',
  '',
].join('\n');

const GROUP = [
  'root:x:0:root',
  'wheel:x:10:root,app',
  'audio:x:29:app',
  'staff:x:50:',
  'app:x:1001:',
  'nogroup:x:65534:',
].join('\n');

const files = (passwd: string | undefined, group: string | undefined) => (path: string): string | undefined =>
  path === '/etc/passwd' ? passwd : path === '/etc/group' ? group : undefined;
const image = files(PASSWD, GROUP);
const scratch = files(undefined, undefined);

describe('resolveUser', () => {
  const cases: Array<[string, string, { uid: number; gid: number; groups: number[]; home: string }]> = [
    ['empty spec is root with its home and its groups', '', { uid: 0, gid: 0, groups: [0, 10], home: '/root' }],
    ['root by name', 'root', { uid: 0, gid: 0, groups: [0, 10], home: '/root' }],
    ['nobody by name', 'nobody', { uid: 65534, gid: 65534, groups: [65534], home: '/nonexistent' }],
    ['a name gets its primary gid, home and supplementary groups', 'app', { uid: 1001, gid: 1001, groups: [1001, 10, 29], home: '/home/app' }],
    ['a uid in passwd gets that user\'s gid and groups', '1001', { uid: 1001, gid: 1001, groups: [1001, 10, 29], home: '/home/app' }],
    ['a uid not in passwd: that uid, gid 0, home /', '1000', { uid: 1000, gid: 0, groups: [0], home: '/' }],
    // Docker: the primary gid is always among the supplementary groups (`id` shows groups=GID)
    // runc/docker: an explicit group replaces the primary gid and drops the supplementary groups
    // ("supplementary group ids only make sense if in the implicit form").
    ['name:group: the group is primary and the only one', 'app:staff', { uid: 1001, gid: 50, groups: [50], home: '/home/app' }],
    ['uid:gid, neither in the files', '1234:5678', { uid: 1234, gid: 5678, groups: [5678], home: '/' }],
    ['name:gid', 'nobody:0', { uid: 65534, gid: 0, groups: [0], home: '/nonexistent' }],
    ['uid:group name', '1000:audio', { uid: 1000, gid: 29, groups: [29], home: '/' }],
    ['name:gid of one of its own groups: still only that one', 'app:10', { uid: 1001, gid: 10, groups: [10], home: '/home/app' }],
    [':group keeps root as the user', ':staff', { uid: 0, gid: 50, groups: [50], home: '/root' }],
  ];
  for (const [why, spec, want] of cases) {
    test(`${why} ("${spec}")`, () => assert.deepEqual(resolveUser(spec, image), want));
  }

  test('an image without /etc/passwd: numeric ids work, root is uid 0 with home /', () => {
    assert.deepEqual(resolveUser('', scratch), { uid: 0, gid: 0, groups: [0], home: '/' });
    assert.deepEqual(resolveUser('1000:1000', scratch), { uid: 1000, gid: 1000, groups: [1000], home: '/' });
  });

  test('an unknown user name is INVALID_ARGUMENT (exit 2), docker\'s wording', () => {
    assert.throws(() => resolveUser('ghost', image), isCode('INVALID_ARGUMENT', /unable to find user ghost: no matching entries in passwd file/));
    assert.throws(() => resolveUser('app', scratch), isCode('INVALID_ARGUMENT', /unable to find user app/));
  });

  test('an unknown group name is INVALID_ARGUMENT', () => {
    assert.throws(() => resolveUser('app:ghosts', image), isCode('INVALID_ARGUMENT', /unable to find group ghosts: no matching entries in group file/));
  });

  test('a commented-out entry does not count', () => {
    const passwd = '#ghost:x:7:7::/:/bin/sh\nroot:x:0:0:root:/root:/bin/sh\n';
    assert.throws(() => resolveUser('ghost', files(passwd, '')), isCode('INVALID_ARGUMENT'));
  });
});
