// Registry commands: pull, push, login, logout. Credentials come from Docker's config.json and travel to the
// daemon as Docker's X-Registry-Auth header; the daemon streams Docker's JSON progress messages.
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

/**
 * Renders progress messages as docker does: on a TTY one line per layer, rewritten in place (cursor moves), with
 * the bar; otherwise plain lines without the byte-count updates. Throws the stream's error message as an error.
 */
async function renderStream(lines: AsyncIterable<Buffer | string>, quiet: boolean): Promise<void> {
  const tty = process.stdout.isTTY === true && !quiet;
  const rows = new Map<string, number>();
  let total = 0;
  let buf = '';
  const handle = (m: ProgressMessage & { code?: string; hint?: string }): void => {
    if (m.error !== undefined || m.errorDetail !== undefined) {
      const code = (m.code !== undefined && m.code in ERROR_CODES ? m.code : 'REGISTRY_ERROR') as ErrorCode;
      throw new GantryError(code, m.errorDetail?.message ?? m.error ?? 'failed', { hint: m.hint });
    }
    if (quiet || m.status === undefined) return;
    const busy = m.status === 'Downloading' || m.status === 'Pushing';
    if (!tty) {
      if (!busy) process.stdout.write(`${m.id !== undefined ? `${m.id}: ` : ''}${m.status}\n`);
      return;
    }
    const text = `${m.id !== undefined ? `${m.id}: ` : ''}${m.status}${m.progress !== undefined ? ` ${m.progress}` : ''}`;
    const row = m.id === undefined ? undefined : rows.get(m.id);
    if (row === undefined) {
      if (m.id !== undefined) rows.set(m.id, total);
      total++;
      process.stdout.write(`${text}\n`);
      return;
    }
    const up = total - row;
    process.stdout.write(`\x1b[${up}A\r\x1b[2K${text}\x1b[${up}B\r`);
  };
  for await (const chunk of lines) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (text !== '') handle(JSON.parse(text) as ProgressMessage);
    }
  }
  if (buf.trim() !== '') handle(JSON.parse(buf) as ProgressMessage);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function prompt(question: string, hidden: boolean): Promise<string> {
  const { createInterface } = await import('node:readline');
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
export async function pullImage(client: DaemonClient, name: string, opts: { platform?: string | undefined; quiet: boolean }): Promise<void> {
  const ref = parseReference(name);
  const out = await client.stream('POST', '/images/create', {
    query: { fromImage: formatReference({ ...ref, tag: undefined, digest: undefined }, false), tag: ref.digest ?? ref.tag, platform: opts.platform },
    headers: authHeader(storedAuth(ref.domain)),
  });
  await renderStream(out, opts.quiet);
}

/** Pushes NAME[:TAG] (or every local tag of NAME with allTags) with the stored credentials of its registry. */
export async function pushImage(client: DaemonClient, name: string, opts: { allTags: boolean; quiet: boolean }): Promise<void> {
  const ref = parseReference(name);
  const out = await client.stream('POST', `/images/${encodeURIComponent(formatReference({ ...ref, tag: undefined, digest: undefined }, false))}/push`, {
    query: { tag: opts.allTags ? undefined : ref.tag },
    headers: authHeader(storedAuth(ref.domain)),
  });
  await renderStream(out, opts.quiet);
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  switch (cmd) {
    case 'pull': {
      const p = parseArgs(args, [{ name: 'platform', kind: 'string' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'all-tags', short: 'a', kind: 'bool' }]);
      const [name] = p.positionals;
      if (name === undefined || p.positionals.length !== 1) throw usageError('pull needs one image', 'gantry pull [--platform linux/amd64] NAME[:TAG|@DIGEST]');
      if (bool(p, 'all-tags')) throw new GantryError('UNSUPPORTED', 'pull --all-tags is not supported', { hint: 'pull each tag by name' });
      const client = await connectDaemon(g.host);
      await pullImage(client, name, { platform: str(p, 'platform'), quiet: bool(p, 'quiet') });
      process.stdout.write(`${formatReference(parseReference(name), false)}\n`);
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
