// `gantry build` and `gantry builder prune`. The CLI walks the context (walkContext: lstat only, links sent as
// links) with .dockerignore applied (the Dockerfile and .dockerignore always sent), streams it as a tar to
// POST /build (Docker's classic builder API), and prints the daemon's JSON stream as docker does.
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { ERROR_CODES, GantryError, usageError, type ErrorCode } from '../../common/errors.js';
import { contextPath, DIRECT_CONTEXT_FS, loadDockerignore, walkContext } from '../../engine/build/context.js';
import { parseBuildArgs } from '../../engine/build/args.js';
import { contextTar } from '../../engine/build/tar-writer.js';
import type { BuildNetwork, BuildSettings, StepReport } from '../../engine/build/executor.js';
import { MAX_DOCKERFILE_BYTES, parseDockerfile } from '../../engine/build/parse.js';
import { authsForImages } from '../docker-config.js';
import { BLOCK } from '../../engine/images/tar.js';
import { bool, list, parseArgs, str, type FlagSpec } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import { jsonLines, readAll } from '../http.js';
import type { GlobalOptions } from '../main.js';

/** A random name for an inline or out-of-context Dockerfile (node:crypto loaded only then: it costs start-up). */
function randomName(): string {
  return (createRequire(import.meta.url)('node:crypto') as typeof Crypto).randomBytes(10).toString('hex');
}

const BUILD_FLAGS: FlagSpec[] = [
  { name: 'tag', short: 't', kind: 'list' },
  { name: 'file', short: 'f', kind: 'string' },
  { name: 'build-arg', kind: 'list' },
  { name: 'target', kind: 'string' },
  { name: 'no-cache', kind: 'bool' },
  { name: 'pull', kind: 'bool' },
  { name: 'label', kind: 'list' },
  { name: 'quiet', short: 'q', kind: 'bool' },
  { name: 'iidfile', kind: 'string' },
  { name: 'progress', kind: 'string' },
  { name: 'network', kind: 'string' },
  { name: 'secret', kind: 'list' },
];

interface StreamMessage {
  stream?: string;
  status?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string };
  code?: string;
  hint?: string;
  /** A Dockerfile error rendered with its caret. */
  rendered?: string;
  /** A step's report (progress=json). */
  step?: StepReport;
}

/** Cap on one secret's bytes (BuildKit's is 500 KiB; these travel in one request header). */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * `--secret id=ID[,src=FILE|,env=VAR][,type=file|env]` (buildx's form; `source` for `src`): the secrets by id,
 * read now. Neither src nor env: the variable named ID if set, else the file ID. Never echoes a value.
 */
export function parseSecrets(items: readonly string[], env: NodeJS.ProcessEnv, read: (path: string) => Buffer = (p) => readFileSync(p)): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const item of items) {
    const fields = new Map<string, string>();
    for (const part of item.split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw usageError(`--secret ${JSON.stringify(item)}: ${JSON.stringify(part)} is not KEY=VALUE`, 'write --secret id=ID,src=FILE or --secret id=ID,env=VAR');
      const key = part.slice(0, eq).trim().toLowerCase();
      if (!['id', 'src', 'source', 'env', 'type'].includes(key)) throw usageError(`--secret ${JSON.stringify(item)}: unknown key ${key}`, 'the keys are id, src (or source), env and type');
      fields.set(key === 'source' ? 'src' : key, part.slice(eq + 1));
    }
    const id = fields.get('id');
    if (id === undefined || !/^[A-Za-z0-9._-]{1,128}$/.test(id)) throw usageError(`--secret ${JSON.stringify(item)}: id=NAME is missing or not a plain name`, 'write --secret id=ID,src=FILE (ID: letters, digits, . _ -)');
    const type = fields.get('type');
    if (type !== undefined && type !== 'file' && type !== 'env') throw usageError(`--secret id=${id}: type=${type} is not file or env`, 'use type=file (with src=FILE) or type=env (with env=VAR)');
    let src = fields.get('src');
    let envName = fields.get('env');
    if (type === 'env' && envName === undefined) { envName = src ?? id; src = undefined; }
    if (src === undefined && envName === undefined) {
      if (type !== 'file' && env[id] !== undefined) envName = id; else src = id;
    }
    let value: Buffer;
    if (envName !== undefined) {
      const v = env[envName];
      if (v === undefined) throw usageError(`--secret id=${id}: the environment variable ${envName} is not set`, `set ${envName}, or give the secret as src=FILE`);
      value = Buffer.from(v, 'utf8');
    } else {
      const path = src as string;
      const st = statSync(path, { throwIfNoEntry: false });
      if (st === undefined || !st.isFile()) throw usageError(`--secret id=${id}: ${path} is not a file`, 'give src=FILE the path of a readable file');
      if (st.size > MAX_SECRET_BYTES) throw usageError(`--secret id=${id}: ${path} is larger than ${MAX_SECRET_BYTES} bytes`, 'secrets are small (tokens, keys); put data in the build context');
      value = read(path);
    }
    out.set(id, value);
  }
  return out;
}

/** What the daemon takes in X-Gantry-Build-Secrets (api/routes/build.ts MAX_SECRETS_HEADER). */
const MAX_SECRETS_HEADER = 96 * 1024;

/** The secrets as the X-Gantry-Build-Secrets header (base64 JSON of base64 values). */
export function secretsHeader(secrets: ReadonlyMap<string, Buffer> | undefined): Record<string, string> {
  if (secrets === undefined || secrets.size === 0) return {};
  const body = Object.fromEntries([...secrets].map(([id, v]) => [id, v.toString('base64')]));
  const header = Buffer.from(JSON.stringify(body)).toString('base64');
  if (header.length > MAX_SECRETS_HEADER) {
    throw usageError(`the build's secrets (${[...secrets.keys()].join(', ')}) are ${header.length} bytes encoded, more than the ${MAX_SECRETS_HEADER} a build takes`, 'pass fewer or smaller secrets; put data in the build context');
  }
  return { 'X-Gantry-Build-Secrets': header };
}

function labelsOf(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq === 0) throw usageError(`invalid --label ${JSON.stringify(item)}: the key is empty`, 'write --label KEY=VALUE');
    if (eq < 0) out[item] = ''; else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Docker's `X-Registry-Config` for the registries of the Dockerfile's FROM and COPY --from images: the stored
 * credentials (config.json, credential helpers), base64url JSON keyed by registry, as the docker CLI sends it.
 */
function registryConfigHeader(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  let images: string[];
  try {
    images = parseDockerfile(text, 'Dockerfile').instructions.flatMap((i) => (i.kind === 'FROM' ? [i.image] : i.kind === 'COPY' && i.from !== undefined ? [i.from] : []))
      .filter((i) => !i.includes('$') && i.toLowerCase() !== 'scratch');
  } catch {
    return {}; // the daemon reports the Dockerfile's errors, located
  }
  const auths = authsForImages(images);
  return Object.keys(auths).length === 0 ? {} : { 'X-Registry-Config': Buffer.from(JSON.stringify(auths)).toString('base64url') };
}

/** The first `n` bytes of stdin (fewer when it ends), and the rest of it as a stream. */
async function peekStdin(n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = (process.stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const next = await it.next();
    if (next.done === true) break;
    parts.push(next.value);
    size += next.value.length;
  }
  const rest: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => it };
  return { head: Buffer.concat(parts), rest };
}

async function build(args: string[], g: GlobalOptions): Promise<number> {
  const p = parseArgs(args, BUILD_FLAGS);
  const [path] = p.positionals;
  if (path === undefined || p.positionals.length !== 1) throw usageError('build needs one context', 'gantry build [OPTIONS] PATH | -');
  const progress = str(p, 'progress') ?? 'auto';
  if (!['auto', 'plain', 'tty', 'json'].includes(progress)) throw usageError(`--progress ${progress}: not supported`, 'use --progress auto, plain or json');
  const network = str(p, 'network') ?? 'none';
  if (!['none', 'host', 'default', 'bridge'].includes(network)) throw usageError(`--network ${network}: not supported for builds`, 'use --network none (the default), default or host');
  const buildArgs = parseBuildArgs(list(p, 'build-arg'), process.env);
  const labels = labelsOf(list(p, 'label'));
  const quiet = bool(p, 'quiet');
  const secrets = parseSecrets(list(p, 'secret'), process.env);
  const file = str(p, 'file');
  if (path === '-' && file === '-') throw usageError('the context and the Dockerfile cannot both come from stdin', 'give a context directory, or -f FILE');

  let body: NodeJS.ReadableStream | Buffer;
  let dockerfile = 'Dockerfile';
  /** The Dockerfile's text when the CLI has it (not inside a tar on stdin): its FROM images get credentials. */
  let dockerfileText: string | undefined;
  if (path === '-') {
    // As docker build -: a tar (plain or gzip) on stdin is the context; anything else is a Dockerfile alone.
    const { head, rest } = await peekStdin(BLOCK);
    const isTar = (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) || head.subarray(257, 262).toString('latin1') === 'ustar';
    if (isTar) {
      body = Readable.from((async function* () { yield head; yield* rest; })());
      if (file !== undefined) dockerfile = file;
    } else {
      const chunks = [head];
      let size = head.length;
      for await (const c of rest) {
        size += (c as Buffer).length;
        if (size > MAX_DOCKERFILE_BYTES) throw usageError(`the Dockerfile on stdin is larger than ${MAX_DOCKERFILE_BYTES} bytes`, 'a Dockerfile holds instructions; send a context tar for files');
        chunks.push(c as Buffer);
      }
      const content = Buffer.concat(chunks);
      dockerfileText = content.toString('utf8');
      body = contextTar('', [], [{ name: 'Dockerfile', content }]);
    }
  } else {
    const root = resolve(path);
    if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw usageError(`the build context ${path} is not a directory`, 'gantry build PATH builds the directory PATH; - reads a tar from stdin');
    const prepared = await directoryContext(root, file === '-' ? { inline: await readStdin() } : { file: file === undefined ? undefined : resolve(file) });
    ({ body, dockerfile, dockerfileText } = prepared);
  }

  const client = await connectDaemon(g.host);
  const id = await postBuild(client, { body, dockerfile, dockerfileText }, {
    tags: list(p, 'tag'), buildArgs, target: str(p, 'target'), noCache: bool(p, 'no-cache'), pull: bool(p, 'pull'), labels, quiet,
    network: network === 'bridge' ? 'default' : network as BuildNetwork, secrets, jsonProgress: progress === 'json',
  });
  if (id === undefined) return 1;
  if (quiet) process.stdout.write(`${id}\n`);
  const iidfile = str(p, 'iidfile');
  if (iidfile !== undefined) writeFileSync(iidfile, id);
  return 0;
}

/** A context up to this size is sent as one body with its length; a bigger one is streamed. */
const HELD_CONTEXT_BYTES = 1024 * 1024;

export interface PreparedContext {
  /** The tar: held whole when small (one write, with its length), else streamed. */
  readonly body: NodeJS.ReadableStream | Buffer;
  /** The Dockerfile's path in the context. */
  readonly dockerfile: string;
  /** Its text when the CLI has it: its FROM images get credentials. */
  readonly dockerfileText: string | undefined;
}

/**
 * A context directory as a tar stream: walked with .dockerignore applied (the Dockerfile and .dockerignore always
 * sent). `file`: the Dockerfile's host path (default ROOT/Dockerfile); outside the context, or `inline` text, it is
 * sent inside it under a private name, as docker does.
 */
export async function directoryContext(root: string, o: { file?: string | undefined; inline?: Buffer | undefined }): Promise<PreparedContext> {
  const extra: Array<{ name: string; content: Buffer }> = [];
  let dockerfile = 'Dockerfile';
  let dockerfileHost: string | undefined;
  let dockerfileText: string | undefined;
  if (o.inline !== undefined) {
    dockerfile = `.dockerfile.${randomName()}`;
    dockerfileText = o.inline.toString('utf8');
    extra.push({ name: dockerfile, content: o.inline });
  } else if (o.file !== undefined) {
    dockerfileHost = o.file;
    const rel = relative(root, dockerfileHost);
    if (rel.startsWith('..') || rel === '') {
      dockerfile = `.dockerfile.${randomName()}`;
      extra.push({ name: dockerfile, content: readFileSync(dockerfileHost) });
    } else dockerfile = rel;
  }
  if (dockerfileText === undefined) {
    try { dockerfileText = readFileSync(dockerfileHost ?? join(root, dockerfile), 'utf8'); } catch { /* the daemon names the missing Dockerfile */ }
  }
  // The CLI does nothing else meanwhile: synchronous reads, no thread pool to start.
  const ignore = await loadDockerignore(root, dockerfileHost ?? join(root, dockerfile), DIRECT_CONTEXT_FS);
  const listing = await walkContext(root, { ignore: ignore?.matcher, keep: [contextPath(dockerfile), '.dockerignore'], fs: DIRECT_CONTEXT_FS });
  const tar = contextTar(root, listing.entries, extra, DIRECT_CONTEXT_FS);
  const bytes = listing.entries.reduce((n, e) => n + (e.size ?? 0), 0) + extra.reduce((n, e) => n + e.content.length, 0);
  return { body: bytes <= HELD_CONTEXT_BYTES ? await readAll(tar) : tar, dockerfile, dockerfileText };
}

export interface BuildOptions extends BuildSettings {
  readonly quiet: boolean;
  /** By id, for RUN --mount=type=secret (sent in a header, never in the query). */
  readonly secrets?: ReadonlyMap<string, Buffer> | undefined;
  /** `--progress json`: one JSON object per step on stdout (and the image at the end), not the stream. */
  readonly jsonProgress?: boolean | undefined;
}

/** POST /build with the context, printing the stream (unless quiet); the image id, or undefined after a printed Dockerfile error. */
export async function postBuild(client: DaemonClient, ctx: PreparedContext, o: BuildOptions): Promise<string | undefined> {
  const res = await client.stream('POST', '/build', {
    query: {
      t: [...o.tags], dockerfile: ctx.dockerfile, buildargs: JSON.stringify(Object.fromEntries(o.buildArgs)), target: o.target,
      nocache: o.noCache || undefined, pull: o.pull || undefined, labels: JSON.stringify(o.labels), q: o.quiet || undefined,
      networkmode: o.network, rm: true, progress: o.jsonProgress === true ? 'json' : undefined,
    },
    ...(Buffer.isBuffer(ctx.body) ? { rawBody: ctx.body } : { bodyStream: ctx.body }), headers: { 'Content-Type': 'application/x-tar', ...registryConfigHeader(ctx.dockerfileText), ...secretsHeader(o.secrets) },
  });
  let id: string | undefined;
  // The lines of one chunk of the stream go out in one write.
  let pending = '';
  const print = (text: string): void => {
    if (pending === '') setImmediate(() => { process.stdout.write(pending); pending = ''; });
    pending += text;
  };
  for await (const m of jsonLines<StreamMessage>(res)) {
    if (m.rendered !== undefined || m.error !== undefined || m.errorDetail !== undefined) { process.stdout.write(pending); pending = ''; }
    if (m.rendered !== undefined) {
      process.stderr.write(`${m.rendered}\n`);
      return undefined;
    }
    if (m.error !== undefined || m.errorDetail !== undefined) {
      const code = (m.code !== undefined && m.code in ERROR_CODES ? m.code : 'BUILD_STEP_FAILED') as ErrorCode;
      throw new GantryError(code, m.errorDetail?.message ?? m.error ?? 'the build failed', { hint: m.hint });
    }
    if (m.step !== undefined) { if (o.jsonProgress === true) print(`${JSON.stringify(m.step)}\n`); }
    else if (m.aux?.ID !== undefined) id = m.aux.ID;
    else if (o.jsonProgress === true) continue;
    else if (!o.quiet && m.stream !== undefined) print(m.stream);
    else if (!o.quiet && m.status !== undefined) print(`${m.status}\n`);
  }
  if (pending !== '') { process.stdout.write(pending); pending = ''; }
  if (id === undefined) throw new GantryError('INTERNAL', 'the daemon ended the build without an image id', { hint: 'see the daemon log' });
  if (o.jsonProgress === true) process.stdout.write(`${JSON.stringify({ image: id, tags: o.tags })}\n`);
  return id;
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  if (cmd === 'build') return build(args, g);
  const [verb, ...rest] = args;
  if (verb !== 'prune') throw usageError(`unknown builder command ${JSON.stringify(verb ?? '')}`, 'gantry builder prune');
  const p = parseArgs(rest, [{ name: 'all', short: 'a', kind: 'bool' }, { name: 'force', short: 'f', kind: 'bool' }]);
  void p;
  const client = await connectDaemon(g.host);
  const r = await client.call<{ CachesDeleted: string[] }>('POST', '/build/prune');
  process.stdout.write(`Deleted build cache entries: ${r.CachesDeleted.length}\n`);
  return 0;
}
