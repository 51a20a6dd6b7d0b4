// The git CLI against a bare repository on disk (file://, no root): resolve, shallow fetch + checkout of exactly
// one commit (made whole, then renamed), symlinks checked out as links, and the caps on fetch and tree size.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../../src/common/errors.js';
import { GitSource, gitCli, gitEnvironment } from '../../../src/deploy/git.js';
import { GitRepo } from '../../helpers/git-repo.js';

const repos: GitRepo[] = [];
after(() => { for (const r of repos) r.remove(); });
const env = gitEnvironment({ kind: 'none' }, () => '');

describe('git over file://', () => {
  test('resolve then check out exactly that commit, not the newer one', async () => {
    const repo = new GitRepo('unit'); repos.push(repo);
    const c1 = repo.commit({ 'compose.yaml': 'one\n' });
    symlinkSync('/etc/passwd', join(repo.work, 'link'));
    const c2 = repo.commit({ 'compose.yaml': 'two\n' });
    const git = new GitSource();
    assert.equal(await git.resolve(repo.url, 'main', env), c2);
    const gitDir = join(repo.dir, 'cache');
    await git.checkout(repo.url, c1, gitDir, join(repo.dir, 'co', c1), env);
    assert.equal(readFileSync(join(repo.dir, 'co', c1, 'compose.yaml'), 'utf8'), 'one\n');
    await git.checkout(repo.url, c2, gitDir, join(repo.dir, 'co', c2), env);
    assert.ok(lstatSync(join(repo.dir, 'co', c2, 'link')).isSymbolicLink(), 'a link stays a link');
    assert.deepEqual(readdirSync(join(repo.dir, 'co')).sort(), [c1, c2].sort(), 'no temp dir left');
    assert.equal(existsSync(join(repo.dir, 'co', c2, '.git')), false);
  });

  test('a fetch that brings over more than the cap is stopped and the cache dropped', async () => {
    const repo = new GitRepo('big'); repos.push(repo);
    const c = repo.commit({ 'blob.bin': randomBytes(3 * 1024 * 1024).toString('base64') });
    const git = new GitSource(gitCli, 60_000, 1024 * 1024);
    const gitDir = join(repo.dir, 'cache');
    await assert.rejects(git.checkout(repo.url, c, gitDir, join(repo.dir, 'co', c), env),
      (e: unknown) => e instanceof GantryError && e.code === 'TOO_LARGE' && /was stopped/.test(e.message));
    assert.equal(existsSync(gitDir), false);
    assert.equal(existsSync(join(repo.dir, 'co', c)), false);
  });

  test('an unreachable repository is GIT_FAILED naming it', async () => {
    const git = new GitSource();
    await assert.rejects(git.resolve('file:///nonexistent/repo.git', 'main', env),
      (e: unknown) => e instanceof GantryError && e.code === 'GIT_FAILED' && /git ls-remote of file:\/\/\/nonexistent\/repo\.git failed/.test(e.message));
  });
});
