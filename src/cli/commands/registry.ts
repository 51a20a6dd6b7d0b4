// Registry commands: pull, push, login, logout. Credentials come from Docker's config.json and travel to the
// daemon as Docker's X-Registry-Auth header; the daemon streams Docker's JSON progress messages.
import { createRequire } from 'node:module';
import type * as Readline from 'node:readline';
import { GantryError, usageError, ERROR_CODES, type ErrorCode } from '../../common/errors.js';
import { encodeRegistryAuth, type AuthConfig } from '../../engine/registry/auth-header.js';
import { loginDomain } from '../../engine/registry/endpoint.js';
import type { ProgressMessage } from '../../engine/registry/progress.js';
import { formatReference, parseReference } from '../../engine/images/reference.js';
import { bool, parseArgs, str } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import { removeAuth, saveAuth, storedAuth } from '../docker-config.js';
import type { GlobalOptions } from '../main.js';

function authHeader(auth: AuthConfig | undefined): Record<string, string> {
  return auth === undefined ? {} : { 'X-Registry-Auth': encodeRegistryAuth(auth) };
}

/** A progress message with an error: the daemon's typed error, raised here with its code and hint. */
function streamError(m: ProgressMessage & { code?: string; hint?: string }): GantryError {
  const code = (m.code !== undefined && m.code in ERROR_CODES ? m.code : 'REGISTRY_ERROR') as ErrorCode;
  return new GantryError(code, m.errorDetail?.message ?? m.error ?? 'failed', { hint: m.hint });
}

async function* parseLines(lines: AsyncIterable<Buffer | string>): AsyncGenerator<ProgressMessage> {
  let buf = '';
  for await (const chunk of lines) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (text !== '') yield JSON.parse(text) as ProgressMessage;
    }
  }
  if (buf.trim() !== '') yield JSON.parse(buf) as ProgressMessage;
}

/**
 * Renders progress messages: on a TTY with listr2 (one task for the image, a line per layer under it with its
 * bar, kept when done; layer-progress.ts); otherwise plain lines without the byte-count updates. Throws the
 * stream's error as the daemon's typed error.
 */
async function renderStream(lines: AsyncIterable<Buffer | string>, quiet: boolean, titles: { busy: string; done: string }): Promise<void> {
  if (process.stdout.isTTY === true && !quiet) {
    const { MessageQueue, renderLayersTTY } = await import('../layer-progress.js');
    const q = new MessageQueue();
    const shown = renderLayersTTY([{ title: titles.busy, doneTitle: titles.done, messages: q }], streamError);
    shown.catch(() => undefined);
    try {
      for await (const m of parseLines(lines)) q.push(m);
    } catch (e) {
      q.push({ error: e instanceof Error ? e.message : String(e) }); // the task ends failed, not "Pulled"
      q.end();
      await shown.catch(() => undefined);
      throw e;
    }
    q.end();
    for (const line of (await shown)[0] ?? []) process.stdout.write(`${line}\n`);
    return;
  }
  for await (const m of parseLines(lines)) {
    if (m.error !== undefined || m.errorDetail !== undefined) throw streamError(m);
    if (quiet || m.status === undefined) continue;
    if (m.status === 'Downloading' || m.status === 'Pushing') continue;
    process.stdout.write(`${m.id !== undefined ? `${m.id}: ` : ''}${m.status}\n`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function prompt(question: string, hidden: boolean): Promise<string> {
  // required, not import()ed: a dynamic import fails in the CLI's start-up snapshot (no ES module loader there)
  const { createInterface } = createRequire(import.meta.url)('node:readline') as typeof Readline;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => { if (s.includes(question)) process.stderr.write(s); };
  try {
    return await new Promise<string>((resolve) => rl.question(question, resolve));
  } finally {
    if (hidden) process.stderr.write('\n');
    rl.close();
  }
}

/** Pulls one image through the daemon with the stored credentials of its registry, rendering the progress. */
export async function pullImage(client: DaemonClient, name: string, opts: { platform?: string | undefined; quiet: boolean; allTags?: boolean }): Promise<void> {
  const ref = parseReference(name);
  const out = await client.stream('POST', '/images/create', {
    // No tag asks for every tag the registry lists (Docker's API; `pull --all-tags`).
    query: { fromImage: formatReference({ ...ref, tag: undefined, digest: undefined }, false), tag: opts.allTags === true ? undefined : ref.digest ?? ref.tag, platform: opts.platform },
    headers: authHeader(storedAuth(ref.domain)),
  });
  await renderStream(out, opts.quiet, { busy: `Pulling ${name}`, done: `Pulled ${name}` });
}

/** Pushes NAME[:TAG] (or every local tag of NAME with allTags) with the stored credentials of its registry. */
export async function pushImage(client: DaemonClient, name: string, opts: { allTags: boolean; quiet: boolean }): Promise<void> {
  const ref = parseReference(name);
  const out = await client.stream('POST', `/images/${encodeURIComponent(formatReference({ ...ref, tag: undefined, digest: undefined }, false))}/push`, {
    query: { tag: opts.allTags ? undefined : ref.tag },
    headers: authHeader(storedAuth(ref.domain)),
  });
  await renderStream(out, opts.quiet, { busy: `Pushing ${name}`, done: `Pushed ${name}` });
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  switch (cmd) {
    case 'pull': {
      const p = parseArgs(args, [{ name: 'platform', kind: 'string' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'all-tags', short: 'a', kind: 'bool' }]);
      const [name] = p.positionals;
      if (name === undefined || p.positionals.length !== 1) throw usageError('pull needs one image', 'gantry pull [--platform linux/amd64] NAME[:TAG|@DIGEST]');
      const allTags = bool(p, 'all-tags');
      if (allTags && /[:@]/.test(name.slice(name.lastIndexOf('/') + 1))) throw usageError('tag can\'t be used with --all-tags/-a', 'gantry pull --all-tags NAME');
      const client = await connectDaemon(g.host);
      await pullImage(client, name, { platform: str(p, 'platform'), quiet: bool(p, 'quiet'), allTags });
      process.stdout.write(`${allTags ? formatReference({ ...parseReference(name), tag: undefined, digest: undefined }, false) : formatReference(parseReference(name), false)}\n`);
      return 0;
    }
    case 'push': {
      const p = parseArgs(args, [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'all-tags', short: 'a', kind: 'bool' }]);
      const [name] = p.positionals;
      if (name === undefined || p.positionals.length !== 1) throw usageError('push needs one image', 'gantry push NAME[:TAG]');
      if (parseReference(name).digest !== undefined) throw usageError(`cannot push a digest reference: ${name}`, 'push NAME[:TAG]');
      const client = await connectDaemon(g.host);
      await pushImage(client, name, { allTags: bool(p, 'all-tags'), quiet: bool(p, 'quiet') });
      return 0;
    }
    case 'login': {
      const p = parseArgs(args, [{ name: 'username', short: 'u', kind: 'string' }, { name: 'password', short: 'p', kind: 'string' }, { name: 'password-stdin', kind: 'bool' }]);
      if (p.positionals.length > 1) throw usageError('login takes at most one server', 'gantry login [-u USER] [--password-stdin] [SERVER]');
      const server = p.positionals[0];
      let username = str(p, 'username');
      let password = str(p, 'password');
      if (password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      if (bool(p, 'password-stdin')) {
        if (password !== undefined) throw usageError('--password and --password-stdin are mutually exclusive');
        if (username === undefined) throw usageError('--password-stdin needs --username', 'echo "$PASS" | gantry login -u USER --password-stdin SERVER');
        password = (await readStdin()).replace(/\r?\n$/, '');
      }
      const interactive = process.stdin.isTTY === true;
      if (username === undefined) {
        if (!interactive) throw usageError('login needs a user name', 'gantry login -u USER --password-stdin SERVER');
        username = (await prompt('Username: ', false)).trim();
      }
      if (password === undefined) {
        if (!interactive) throw usageError('login needs a password', 'pipe it: echo "$PASS" | gantry login -u USER --password-stdin SERVER');
        password = await prompt('Password: ', true);
      }
      if (username === '' || password === '') throw usageError('the user name and the password must not be empty');
      const domain = loginDomain(server);
      const client = await connectDaemon(g.host);
      await client.call('POST', '/auth', { body: { username, password, serveraddress: domain } });
      saveAuth(domain, username, password);
      process.stdout.write('Login Succeeded\n');
      return 0;
    }
    case 'logout': {
      const p = parseArgs(args, []);
      if (p.positionals.length > 1) throw usageError('logout takes at most one server', 'gantry logout [SERVER]');
      const domain = loginDomain(p.positionals[0]);
      process.stdout.write(removeAuth(domain) ? `Removing login credentials for ${domain}\n` : `Not logged in to ${domain}\n`);
      return 0;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
