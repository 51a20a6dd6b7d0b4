// The git CLI, run with execFile (no shell), a timeout, no prompt, no system/global config, and credentials
// only in the environment of the git process: a token as an HTTP header through GIT_CONFIG_* variables, an SSH
// key through GIT_SSH_COMMAND. Nothing git prints reaches a message before it is capped and scrubbed.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../common/errors.js';
import { SHA_RE } from './spec.js';
import type { GitAuth } from './types.js';

/** A secret file the daemon reads (token, webhook secret): small, a regular file, read at each use. */
export function readSecretFile(path: string, what: string): string {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new GantryError('INVALID_ARGUMENT', `the ${what} ${path} is not a regular file`, { hint: 'give a file holding the secret alone' });
    size = st.size;
  } catch (e) {
    if (e instanceof GantryError) throw e;
    throw new GantryError('INVALID_ARGUMENT', `cannot read the ${what} ${path}`, { hint: 'the daemon reads it at each use: check that it exists and root can read it' });
  }
  if (size > 16 * 1024) throw new GantryError('TOO_LARGE', `the ${what} ${path} is over 16 KiB`, { hint: 'it must hold the secret alone' });
  return readFileSync(path, 'utf8').trim();
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface GitEnv {
  readonly env: Record<string, string>;
  /** Strings that must never appear in a message (the token and the header made of it). */
  readonly secrets: readonly string[];
}

/** The environment of every git run for a source: pure, so its rules are unit-tested. */
export function gitEnvironment(auth: GitAuth, readSecret: (path: string) => string, base: Readonly<Record<string, string | undefined>> = process.env): GitEnv {
  const env: Record<string, string> = {
    PATH: base['PATH'] ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: '/nonexistent',
    GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false', GCM_INTERACTIVE: 'never',
    GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ALLOW_PROTOCOL: 'file:http:https:ssh',
    GIT_CONFIG_COUNT: '2', GIT_CONFIG_KEY_0: 'credential.helper', GIT_CONFIG_VALUE_0: '', GIT_CONFIG_KEY_1: 'core.hooksPath', GIT_CONFIG_VALUE_1: '/dev/null',
  };
  const secrets: string[] = [];
  if (auth.kind === 'token') {
    const token = readSecret(auth.tokenFile);
    if (token === '' || /[\r\n]/.test(token)) throw new GantryError('INVALID_ARGUMENT', `the token file ${auth.tokenFile} is empty or has several lines`, { hint: 'put the token alone in the file' });
    // HTTP Basic with the user GitHub documents for tokens; GitLab and Gitea accept any user name with a token.
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    env['GIT_CONFIG_COUNT'] = '3';
    env['GIT_CONFIG_KEY_2'] = 'http.extraHeader';
    env['GIT_CONFIG_VALUE_2'] = `Authorization: Basic ${basic}`;
    secrets.push(token, basic);
  } else if (auth.kind === 'ssh') {
    env['GIT_SSH_COMMAND'] = ['ssh', '-F', '/dev/null', '-i', shellQuote(auth.keyFile), '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${shellQuote(auth.knownHostsFile)}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10'].join(' ');
  }
  return { env, secrets };
}

/** git's own words, capped, one line, without control characters or any secret. */
export function scrub(text: string, secrets: readonly string[]): string {
  let s = text;
  for (const secret of secrets) if (secret.length >= 4) s = s.split(secret).join('***');
  s = s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('hint:')).join(' / ');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

export interface GitRunner {
  run(args: readonly string[], opts: { env: Record<string, string>; cwd?: string | undefined; timeoutMs: number; maxBuffer?: number | undefined; signal?: AbortSignal | undefined }): Promise<string>;
}

/** The real git. */
export const gitCli: GitRunner = {
  run: (args, opts) => new Promise((resolve, reject) => {
    execFile('git', [...args], { env: opts.env, cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: opts.maxBuffer ?? 1 << 20, encoding: 'utf8', signal: opts.signal }, (err, stdout, stderr) => {
      if (err === null) { resolve(stdout); return; }
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { reject(new Error('the git command is not installed on the daemon\'s host (apt-get install git)')); return; }
      const killed = (err as { killed?: boolean }).killed === true;
      reject(Object.assign(new Error(killed ? `timed out after ${opts.timeoutMs / 1000}s` : stderr || err.message), { gitTimedOut: killed }));
    });
  }),
};

export const GIT_TIMEOUT_MS = 60_000;

/** A checkout is refused above these (a stack repository is small; a huge tree is a mistake or an attack). */
export const MAX_CHECKOUT_FILES = 10_000;
export const MAX_CHECKOUT_BYTES = 64 * 1024 * 1024;
/** What one fetch may add to the cache: git is stopped once its objects grew by more. */
export const MAX_FETCH_BYTES = 256 * 1024 * 1024;

/** Bytes of the regular files below `dir` (symlinks not followed; a file vanishing meanwhile counts 0). */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else if (e.isFile()) { try { total += lstatSync(p).size; } catch { /* gone */ } }
  }
  return total;
}

/** The files and bytes of a tree from `git ls-tree -r -l` output, or why it is too big. */
export function treeTooBig(lsTree: string, maxFiles = MAX_CHECKOUT_FILES, maxBytes = MAX_CHECKOUT_BYTES): string | undefined {
  let files = 0;
  let bytes = 0;
  for (const line of lsTree.split('\n')) {
    if (line === '') continue;
    files++;
    const size = Number(line.split('\t')[0]!.trim().split(/\s+/)[3]);
    if (Number.isFinite(size)) bytes += size;
  }
  if (files > maxFiles) return `${files} files (the cap is ${maxFiles})`;
  if (bytes > maxBytes) return `${Math.ceil(bytes / 1048576)} MiB (the cap is ${maxBytes / 1048576} MiB)`;
  return undefined;
}

export class GitSource {
  constructor(private readonly runner: GitRunner = gitCli, private readonly timeoutMs = GIT_TIMEOUT_MS, private readonly maxFetchBytes = MAX_FETCH_BYTES) {}

  private async git(what: string, repo: string, args: readonly string[], e: GitEnv, signal?: AbortSignal): Promise<string> {
    try {
      return await this.runner.run(args, { env: e.env, timeoutMs: this.timeoutMs, signal });
    } catch (err) {
      throw new GantryError('GIT_FAILED', `git ${what} of ${repo} failed: ${scrub(err instanceof Error ? err.message : String(err), e.secrets)}`,
        { hint: 'check that the repository is reachable and the credentials are right; the daemon retries with back-off' });
    }
  }

  /** The commit `ref` names now (a branch, then a tag — peeled — or a full SHA as is). */
  async resolve(repo: string, ref: string, e: GitEnv): Promise<string> {
    if (SHA_RE.test(ref)) return ref;
    const wanted = ref.startsWith('refs/') ? [ref, `${ref}^{}`] : [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`];
    const out = await this.git('ls-remote', repo, ['ls-remote', repo, ...wanted], e);
    const refs = new Map(out.split('\n').filter(Boolean).map((l) => { const [sha, name] = l.split('\t'); return [name ?? '', sha ?? ''] as const; }));
    // A branch before a tag of the same name; an annotated tag by the commit it points at (^{}).
    const order = ref.startsWith('refs/') ? [`${ref}^{}`, ref] : [`refs/heads/${ref}`, `refs/tags/${ref}^{}`, `refs/tags/${ref}`];
    const commit = order.map((w) => refs.get(w)).find((s) => s !== undefined && SHA_RE.test(s));
    if (commit === undefined) {
      throw new GantryError('GIT_REF_NOT_FOUND', `ref ${ref} is not in ${repo}`, { hint: 'check --ref (a branch, a tag or a full commit SHA); the daemon keeps polling' });
    }
    return commit;
  }

  /**
   * A shallow fetch of exactly `commit` into the cache's git dir, then a checkout of it into `dir`: made in
   * `<dir>.tmp`, then renamed, so `dir` existing means a whole checkout.
   */
  async checkout(repo: string, commit: string, gitDir: string, dir: string, e: GitEnv): Promise<void> {
    if (existsSync(dir)) return;
    if (!existsSync(join(gitDir, 'HEAD'))) {
      mkdirSync(gitDir, { recursive: true, mode: 0o700 });
      await this.git('init', repo, ['init', '--quiet', '--bare', gitDir], e);
    }
    const have = await this.runner.run(['--git-dir', gitDir, 'cat-file', '-e', `${commit}^{commit}`], { env: e.env, timeoutMs: this.timeoutMs }).then(() => true, () => false);
    if (!have) await this.fetchCapped(repo, commit, gitDir, e);
    // Sizes first, from the tree alone: nothing is written for a tree over the caps.
    const tree = await this.runner.run(['--git-dir', gitDir, 'ls-tree', '-r', '-l', '--full-tree', commit], { env: e.env, timeoutMs: this.timeoutMs, maxBuffer: 16 << 20 })
      .catch(() => { throw new GantryError('TOO_LARGE', `commit ${commit.slice(0, 12)} of ${repo} lists too many files to check out`, { hint: `a deployment checks out at most ${MAX_CHECKOUT_FILES} files` }); });
    const big = treeTooBig(tree);
    if (big !== undefined) throw new GantryError('TOO_LARGE', `commit ${commit.slice(0, 12)} of ${repo} is too big to check out: ${big}`, { hint: 'keep the stack files in a small repository, or point --path at them in one that is' });
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    try {
      await this.git('checkout', repo, ['--git-dir', gitDir, '--work-tree', tmp, '-c', 'core.symlinks=true', 'checkout', '--quiet', '--force', commit, '--', '.'],
        { env: { ...e.env, GIT_INDEX_FILE: `${tmp}.index` }, secrets: e.secrets });
      renameSync(tmp, dir);
    } finally {
      rmSync(`${tmp}.index`, { force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  /** `git fetch --depth 1 URL SHA`, stopped (and the cache dropped) once it added more than the cap. */
  private async fetchCapped(repo: string, commit: string, gitDir: string, e: GitEnv): Promise<void> {
    const objects = join(gitDir, 'objects');
    const before = dirBytes(objects);
    const abort = new AbortController();
    let tooBig = false;
    const watch = setInterval(() => { if (dirBytes(objects) - before > this.maxFetchBytes) { tooBig = true; abort.abort(); } }, 200);
    watch.unref();
    try {
      await this.git('fetch', repo, ['--git-dir', gitDir, 'fetch', '--quiet', '--depth', '1', '--no-tags', '--no-write-fetch-head', repo, commit], e, abort.signal);
      // A fetch quicker than the watch is measured once more.
      if (dirBytes(objects) - before > this.maxFetchBytes) { tooBig = true; throw new Error('over the cap'); }
    } catch (err) {
      if (!tooBig) throw err;
      rmSync(gitDir, { recursive: true, force: true });
      throw new GantryError('TOO_LARGE', `fetching commit ${commit.slice(0, 12)} of ${repo} was stopped: it brought over ${this.maxFetchBytes / 1048576} MiB`,
        { hint: 'keep the stack files in a small repository' });
    } finally {
      clearInterval(watch);
    }
  }
}
