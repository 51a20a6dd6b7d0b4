// The build context: the files a build may read, listed without following any symlink (a link is sent as a
// link, as Docker does), .dockerignore applied, capped in entries and bytes; COPY/ADD sources resolved in it
// (refusing `../x`), a missing source explained (naming the .dockerignore pattern that excluded it); and the
// content digest of a step's sources for its cache key (contents + mode + uid/gid + link targets, path-sorted;
// mtimes are not included, as in BuildKit).

import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { errnoCode, GantryError } from '../../common/errors.js';
import { ignoreFileCandidates, IgnoreMatcher, patternRegex } from './dockerignore.js';

// node:crypto is loaded on the first hash (the CLI walks contexts without hashing; it costs start-up)
let crypto: typeof Crypto | undefined;
function createHash(algorithm: string): Crypto.Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto;
  return crypto.createHash(algorithm);
}

export interface ContextEntry {
  /** Context-relative posix path, no leading `./`. */
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits and setuid/setgid/sticky (st_mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly linkTarget: string | undefined;
  /** Modification time, whole seconds (sent in the context tar; not part of any cache key). */
  readonly mtime: number;
}

export interface ContextLimits {
  /** Most entries the context may list (GANTRY_BUILD_CONTEXT_MAX_ENTRIES). */
  readonly maxEntries: number;
  /** Most bytes of regular files the context may hold (GANTRY_BUILD_CONTEXT_MAX_BYTES). */
  readonly maxBytes: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { maxEntries: 200_000, maxBytes: 8 * 1024 ** 3 };

export interface ContextListing {
  readonly root: string;
  /** Included entries, sorted by path. */
  readonly entries: readonly ContextEntry[];
  readonly totalBytes: number;
  readonly ignore: IgnoreMatcher | undefined;
}

export interface WalkOptions {
  readonly ignore?: IgnoreMatcher | undefined;
  readonly limits?: ContextLimits;
  /** Paths always listed even when .dockerignore excludes them (the Dockerfile and .dockerignore when sending). */
  readonly keep?: readonly string[];
  /** How files are reached (default: node's thread pool). */
  readonly fs?: ContextFs | undefined;
}

/**
 * The file operations a context walk, a .dockerignore read and the context tar need. The daemon uses node's thread
 * pool (POOL_FS); the CLI, which does nothing else meanwhile, the synchronous calls (DIRECT_CONTEXT_FS): for a small
 * context, starting the pool costs more than the reads.
 */
export interface ContextFs {
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<Stats>;
  readlink(path: string): Promise<string>;
  open(path: string, flags: number): Promise<ContextFile>;
}
export interface ContextFile {
  stat(): Promise<Stats>;
  read(buf: Buffer, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

export const POOL_FS: ContextFs = {
  readdir: (p) => readdir(p),
  lstat: (p) => lstat(p),
  readlink: (p) => readlink(p),
  open: async (p, flags) => {
    const h = await open(p, flags);
    return { stat: () => h.stat(), read: async (b, o, l) => (await h.read(b, o, l, null)).bytesRead, close: () => h.close() };
  },
};

export const DIRECT_CONTEXT_FS: ContextFs = {
  readdir: async (p) => readdirSync(p),
  lstat: async (p) => lstatSync(p),
  readlink: async (p) => readlinkSync(p),
  open: async (p, flags) => {
    const fd = openSync(p, flags);
    return { stat: async () => fstatSync(fd), read: async (b, o, l) => readSync(fd, b, o, l, null), close: async () => closeSync(fd) };
  },
};

/** Reads a whole (capped) file through `fs`. */
async function readCapped(file: ContextFile, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = await file.read(buf, got, size - got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Cap on a .dockerignore file. */
export const MAX_DOCKERIGNORE_BYTES = 1024 * 1024;

/**
 * The ignore rules for a build: `NAME.dockerignore` beside `-f NAME` when it exists (it wins), else the
 * context's `.dockerignore`, else none. Returns the matcher and the file it came from.
 */
export async function loadDockerignore(contextDir: string, dockerfilePath?: string, fs: ContextFs = POOL_FS): Promise<{ matcher: IgnoreMatcher; file: string } | undefined> {
  for (const file of ignoreFileCandidates(contextDir, dockerfilePath)) {
    let handle;
    try {
      handle = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') continue;
      throw e;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new GantryError('BUILD_CONTEXT_INVALID', `${file} is not a regular file`, { hint: 'make .dockerignore a plain text file' });
      if (st.size > MAX_DOCKERIGNORE_BYTES) throw new GantryError('TOO_LARGE', `${file} is larger than ${MAX_DOCKERIGNORE_BYTES} bytes`, { hint: 'a .dockerignore holds patterns, one per line' });
      const text = (await readCapped(handle, st.size)).toString('utf8');
      return { matcher: IgnoreMatcher.fromText(text, file), file };
    } finally {
      await handle.close();
    }
  }
  return undefined;
}

function typeOf(mode: number): ContextEntry['type'] {
  const fmt = mode & constants.S_IFMT;
  return fmt === constants.S_IFREG ? 'file' : fmt === constants.S_IFDIR ? 'dir' : fmt === constants.S_IFLNK ? 'symlink' : 'other';
}

/** Lists the context under `root`, never following a symlink. */
export async function walkContext(root: string, options: WalkOptions = {}): Promise<ContextListing> {
  const fs = options.fs ?? POOL_FS;
  const limits = options.limits ?? DEFAULT_CONTEXT_LIMITS;
  const keep = new Set(options.keep ?? []);
  const ignore = options.ignore;
  const entries: ContextEntry[] = [];
  let totalBytes = 0;
  const add = (e: ContextEntry): void => {
    entries.push(e);
    if (entries.length > limits.maxEntries) {
      throw new GantryError('TOO_LARGE', `the build context ${root} holds more than ${limits.maxEntries} entries (limit maxEntries, GANTRY_BUILD_CONTEXT_MAX_ENTRIES)`, {
        hint: 'exclude what the build does not need in .dockerignore (node_modules, .git, build output), or raise the limit',
      });
    }
    if (e.type === 'file') totalBytes += e.size;
    if (totalBytes > limits.maxBytes) {
      throw new GantryError('TOO_LARGE', `the build context ${root} holds more than ${limits.maxBytes} bytes (limit maxBytes, GANTRY_BUILD_CONTEXT_MAX_BYTES)`, {
        hint: 'exclude large files the build does not need in .dockerignore, or raise the limit',
      });
    }
  };
  const walk = async (rel: string): Promise<void> => {
    const names = (await fs.readdir(rel === '' ? root : join(root, rel))).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(join(root, path));
      const type = typeOf(st.mode);
      const excluded = ignore !== undefined && ignore.excludes(path) && !keep.has(path);
      if (excluded && (type !== 'dir' || !ignore.hasExceptions)) continue;
      if (!excluded) {
        add({ path, type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0,
          linkTarget: type === 'symlink' ? await fs.readlink(join(root, path)) : undefined, mtime: Math.floor(st.mtimeMs / 1000) });
      }
      if (type === 'dir') await walk(path);
    }
  };
  await walk('');
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { root, entries, totalBytes, ignore };
}

/** A COPY/ADD source as a context-relative path; `../x` (anything leaving the context) is refused. */
export function contextPath(source: string): string {
  const normalized = posix.normalize(`./${source}`);
  if (normalized === '..' || normalized.startsWith('../')) {
    throw new GantryError('BUILD_CONTEXT_INVALID', `${source}: the path is outside the build context`, {
      hint: 'a build reads only files inside its context directory; move the file into it, or build from a parent directory',
      detail: { source },
    });
  }
  const path = normalized.replace(/\/+$/, '');
  return path === '.' || path === '' ? '' : path;
}

const GLOB_CHARS = /[*?[\\]/;

const byPathCache = new WeakMap<ContextListing, Map<string, ContextEntry>>();

function byPath(listing: ContextListing): Map<string, ContextEntry> {
  let map = byPathCache.get(listing);
  if (map === undefined) {
    map = new Map(listing.entries.map((e) => [e.path, e]));
    byPathCache.set(listing, map);
  }
  return map;
}

const MAX_LINK_HOPS = 40;

function outsideError(source: string, link: string, target: string): GantryError {
  return new GantryError('BUILD_CONTEXT_INVALID', `${source}: the symlink ${link} points outside the build context (to ${target})`, {
    hint: 'a build reads only files inside its context; copy the file into the context instead of linking to it',
    detail: { source, link },
  });
}

/**
 * A source path with the symlinks among its components resolved inside the context (the last one too:
 * `COPY link /dst` copies what the link names, as Docker does; links inside a copied directory stay links).
 * A link whose target leaves the context (`../..`, or an absolute path elsewhere on the host) is refused.
 */
export function resolveSourcePath(listing: ContextListing, source: string): string {
  const entries = byPath(listing);
  let parts = contextPath(source).split('/').filter((p) => p !== '');
  for (let hops = 0; ; ) {
    let resolved: string[] | undefined;
    for (let i = 0; i < parts.length; i++) {
      const here = parts.slice(0, i + 1).join('/');
      const entry = entries.get(here);
      if (entry?.type !== 'symlink' || entry.linkTarget === undefined) continue;
      if (++hops > MAX_LINK_HOPS) throw new GantryError('BUILD_CONTEXT_INVALID', `${source}: too many levels of symbolic links`, { hint: 'a chain of links loops; fix the links in the context' });
      const target = entry.linkTarget;
      let inContext: string;
      if (posix.isAbsolute(target)) {
        const root = listing.root.replace(/\/+$/, '');
        if (target !== root && !target.startsWith(`${root}/`)) throw outsideError(source, here, target);
        inContext = posix.normalize(`./${target.slice(root.length)}`);
      } else inContext = posix.normalize(posix.join(posix.dirname(here), target));
      if (inContext === '..' || inContext.startsWith('../')) throw outsideError(source, here, target);
      resolved = [...(inContext === '.' ? [] : inContext.split('/')), ...parts.slice(i + 1)];
      break;
    }
    if (resolved === undefined) return parts.join('/');
    parts = resolved;
  }
}

export interface SelectOptions {
  /** Named in errors (COPY or ADD). */
  readonly instruction?: string;
  /** `--exclude` patterns, matched (with .dockerignore's rules) against paths relative to the source. */
  readonly exclude?: IgnoreMatcher | undefined;
}

/**
 * The entries a COPY/ADD source selects: the path itself (symlinks on the way resolved in the context) and,
 * for a directory, everything below it; a glob selects each match (and what is below matched directories).
 * Throws BUILD_SOURCE_NOT_FOUND naming the source, and saying so when .dockerignore excluded it.
 */
export function selectSources(listing: ContextListing, source: string, options: SelectOptions = {}): ContextEntry[] {
  const instruction = options.instruction ?? 'COPY';
  const rel = GLOB_CHARS.test(source) ? contextPath(source) : resolveSourcePath(listing, source);
  const under = (dir: string): ContextEntry[] => (dir === '' ? [...listing.entries] : listing.entries.filter((e) => e.path === dir || e.path.startsWith(`${dir}/`)));
  const exclude = options.exclude;
  const kept = (base: string, list: ContextEntry[]): ContextEntry[] => (exclude === undefined ? list
    : list.filter((e) => e.path === base || !exclude.excludes(base === '' ? e.path : e.path.slice(base.length + 1))));
  let selected: ContextEntry[];
  if (!GLOB_CHARS.test(rel)) selected = kept(rel, under(rel));
  else {
    const re = patternRegex(rel) ?? /^(?!)/;
    const roots = listing.entries.filter((e) => re.test(e.path));
    const seen = new Set<string>();
    selected = [];
    for (const r of roots) for (const e of kept(r.path, under(r.path))) if (!seen.has(e.path)) { seen.add(e.path); selected.push(e); }
    selected.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  if (selected.length > 0 || rel === '') return selected;
  const verdict = listing.ignore?.verdict(rel);
  const excluded = verdict?.excluded === true && verdict.by !== undefined;
  const message = excluded
    ? `${instruction} ${source}: the file is excluded by .dockerignore (pattern ${JSON.stringify(`${verdict.by?.exception === true ? '!' : ''}${verdict.by?.pattern}`)} on line ${verdict.by?.line})`
    : `${instruction} ${source}: no such file or directory in the build context`;
  throw new GantryError('BUILD_SOURCE_NOT_FOUND', message, {
    hint: excluded ? 'remove that pattern from .dockerignore, or add an exception line !PATH' : 'paths are relative to the context directory given to gantry build',
    detail: { source, excludedByDockerignore: excluded },
  });
}

/** Caps a single source file read for hashing (the context cap bounds the total). */
async function hashFile(path: string, expectedSize: number): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new GantryError('BUILD_CONTEXT_INVALID', `${path} changed while the build read it (no longer a regular file)`, { hint: 'do not modify the context during a build' });
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > Math.max(expectedSize, st.size)) throw new GantryError('BUILD_CONTEXT_INVALID', `${path} grew while the build read it`, { hint: 'do not modify the context during a build' });
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

/**
 * The digest of a step's sources: per entry (path-sorted) its path relative to `base`, type, mode, uid, gid,
 * link target and content digest. Modification times are not part of it.
 */
export async function digestSources(listing: ContextListing, entries: readonly ContextEntry[], base = ''): Promise<string> {
  const hash = createHash('sha256');
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of sorted) {
    const rel = base === '' ? e.path : posix.relative(base, e.path) || '.';
    const content = e.type === 'file' ? await hashFile(join(listing.root, e.path), e.size) : '';
    hash.update(JSON.stringify([rel, e.type, e.mode, e.uid, e.gid, e.linkTarget ?? null, content]));
    hash.update('\n');
  }
  return `sha256:${hash.digest('hex')}`;
}
