// `gantry cp` (Docker's): CONTAINER:SRC DEST|-  and  SRC|- CONTAINER:DEST. The daemon resolves container paths
// inside the container's root; this side packs and unpacks with GNU tar, renaming the top entry as docker cp does
// (a destination that does not exist names the copy). `-` is a tar stream; -a keeps owners; -L follows a link SRC.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GantryError, usageError } from '../../common/errors.js';
import { isGoDir, isGoSymlink, parsePathStatHeader, type PathStat } from '../../engine/cp/path-stat.js';
import { tarRenameExpr } from '../../engine/cp/tar-rename.js';
import { bool, parseArgs } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import type { GlobalOptions } from '../main.js';

/** `NAME:PATH` → container and path; a local path (possibly with a `:` after a `/`) → undefined. */
function splitContainerPath(arg: string): { container: string; path: string } | undefined {
  const colon = arg.indexOf(':');
  if (colon <= 0 || arg.slice(0, colon).includes('/') || arg.startsWith('.')) return undefined;
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

async function runTar(args: string[], input: Readable | undefined): Promise<Readable | undefined> {
  const tar = spawn('tar', args, { stdio: [input === undefined ? 'ignore' : 'pipe', input === undefined ? 'pipe' : 'ignore', 'inherit'] });
  const exited = new Promise<number>((res) => { tar.on('error', () => res(127)); tar.on('close', (c) => res(c ?? 128)); });
  if (input !== undefined) {
    // tar stops reading at the end-of-archive blocks; the rest of the stream (record padding) is drained
    tar.stdin!.on('error', () => undefined);
    input.pipe(tar.stdin!);
    const code = await exited;
    input.unpipe(tar.stdin!);
    input.resume();
    if (code !== 0) throw new GantryError('INVALID_ARGUMENT', `tar exited with status ${code} while unpacking`);
    return undefined;
  }
  void exited.then((code) => { if (code !== 0) tar.stdout!.destroy(new GantryError('INVALID_ARGUMENT', `tar exited with status ${code} while packing`)); });
  return tar.stdout!;
}

async function statRemote(client: DaemonClient, container: string, path: string): Promise<PathStat | undefined> {
  try {
    const res = await client.stream('HEAD', `/containers/${encodeURIComponent(container)}/archive`, { query: { path } });
    res.resume();
    return parsePathStatHeader((res as Readable & { headers?: Record<string, string> }).headers?.['x-docker-container-path-stat']);
  } catch (e) {
    if (e instanceof GantryError && (e.code === 'NOT_FOUND' || e.code === 'CONTAINER_NOT_FOUND')) {
      if (e.code === 'CONTAINER_NOT_FOUND') throw e;
      return undefined;
    }
    throw e;
  }
}

async function copyFromContainer(client: DaemonClient, container: string, path: string, dest: string, archive: boolean, follow: boolean): Promise<void> {
  let src = path;
  if (follow) {
    const stat = await statRemote(client, container, path);
    if (stat !== undefined && isGoSymlink(stat.mode)) {
      if (stat.linkTarget === '') throw new GantryError('NOT_FOUND', `${container}:${path} is a symlink to nothing that exists in the container`, { hint: 'copy the link itself without -L' });
      src = stat.linkTarget;
    }
  }
  const res = await client.stream('GET', `/containers/${encodeURIComponent(container)}/archive`, { query: { path: src } });
  if (dest === '-') { await pipeline(res, process.stdout, { end: false }); return; }
  const srcName = basename(src.replace(/\/\.?$/, '')) || '.';
  const contentsOnly = src.endsWith('/.');
  const owner = archive ? ['--same-owner', '--numeric-owner'] : ['--no-same-owner'];
  const destExists = existsSync(dest);
  if (destExists && statSync(dest).isDirectory() && !contentsOnly) {
    await runTar(['--extract', '--file=-', '--directory', dest, ...owner], res);
    return;
  }
  if (destExists && statSync(dest).isDirectory()) {
    await runTar(['--extract', '--file=-', '--directory', dest, '--strip-components=1', ...owner], res);
    return;
  }
  const parent = dirname(resolvePath(dest));
  if (!existsSync(parent)) throw usageError(`no such directory: ${parent}`, 'the destination\'s parent directory must exist');
  await runTar(['--extract', '--file=-', '--directory', parent, tarRenameExpr(srcName, basename(dest)), ...owner], res);
}

async function copyToContainer(client: DaemonClient, src: string, container: string, path: string, archive: boolean, follow: boolean): Promise<void> {
  const target = await statRemote(client, container, path);
  let body: Readable | NodeJS.ReadableStream;
  let dir = path;
  if (src === '-') {
    if (target === undefined || !isGoDir(target.mode)) throw usageError(`destination ${container}:${path} must be a directory when copying a tar stream`);
    body = process.stdin;
  } else {
    if (!existsSync(src) && !(follow && existsSync(realpathSync(src)))) throw usageError(`no such file or directory: ${src}`);
    const local = follow ? realpathSync(src) : resolvePath(src);
    const name = basename(local);
    const rename = target !== undefined && isGoDir(target.mode) ? basename(src.replace(/\/\.?$/, '')) || name : basename(path);
    if (target === undefined || !isGoDir(target.mode)) dir = path.replace(/\/[^/]*\/?$/, '') || '/';
    const owner = archive ? ['--numeric-owner'] : ['--owner=0', '--group=0', '--numeric-owner'];
    const contents = src.endsWith('/.') && target !== undefined && isGoDir(target.mode);
    body = (await runTar(['--create', '--file=-', '--directory', contents ? local : dirname(local), ...owner,
      ...(contents ? [] : [tarRenameExpr(name, rename)]), '--', contents ? '.' : name], undefined))!;
  }
  await client.call('PUT', `/containers/${encodeURIComponent(container)}/archive`, {
    query: { path: dir, copyUIDGID: archive }, bodyStream: body, headers: { 'Content-Type': 'application/x-tar' },
  });
}

export async function run(_cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const p = parseArgs(args, [{ name: 'archive', short: 'a', kind: 'bool' }, { name: 'follow-link', short: 'L', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }]);
  const [from, to] = p.positionals;
  if (!from || !to || p.positionals.length !== 2) throw usageError('cp needs a source and a destination', 'gantry cp [-a] [-L] CONTAINER:SRC DEST|-   or   gantry cp [-a] [-L] SRC|- CONTAINER:DEST');
  const src = splitContainerPath(from);
  const dst = splitContainerPath(to);
  if ((src === undefined) === (dst === undefined)) throw usageError('cp copies between a container and the local machine', 'name the container on one side: CONTAINER:PATH');
  const client = await connectDaemon(g.host);
  if (src !== undefined) await copyFromContainer(client, src.container, src.path, to, bool(p, 'archive'), bool(p, 'follow-link'));
  else await copyToContainer(client, from, dst!.container, dst!.path, bool(p, 'archive'), bool(p, 'follow-link'));
  return 0;
}
