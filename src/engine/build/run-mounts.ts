// A RUN step's `--mount`s (BuildKit's types) as the engine's container mounts, and what they add to the step's
// cache key. Nothing a mount holds ends up in the layer: each is a bind or a tmpfs over its target (the runtime's
// stubs for missing targets are left out by Engine.containerLayer).
//   bind    the context (default), a stage or an image (`from`), at `source`; read-only unless `rw` — then a
//           copy whose writes are discarded. Its content (context: content + mode + owner; from: the image id and
//           path) counts in the cache key.
//   cache   a persistent dir of the daemon's (cache-mounts.ts) by id, with sharing; seeded from `from`/`source`
//           when made; mode/uid/gid for a new one. Its content never counts in the key.
//   tmpfs   a fresh tmpfs (`size`).
//   secret  the build's secret `id` as a read-only file (default /run/secrets/ID; mode/uid/gid) and/or an env
//           variable (`env`); only whether it was given counts in the key. Missing: skipped, unless `required`.
//   ssh     refused (no agent forwarding).
import { chmod, chown, mkdtemp, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { GantryError } from '../../common/errors.js';
import type { MountSpec } from '../containers/record.js';
import { tmpfsMountOptions } from '../containers/container-spec.js';
import type { LayerLimits } from '../images/limits.js';
import type { CacheMounts } from './cache-mounts.js';
import { digestSources, resolveSourcePath, selectSources, type ContextListing } from './context.js';
import { copyTree, extractFromImage, removeDir } from './files.js';
import type { RunMount } from './model.js';

/** A stage's or an image's files, for `from=`. */
export interface MountFrom {
  /** Layer dirs, topmost first (empty: scratch). */
  readonly layers: readonly string[];
  /** Its image id ('scratch' for an empty stage). */
  readonly id: string;
}

export interface MountSources {
  readonly listing: ContextListing;
  /** A dir of the daemon's for staging (under its root). */
  readonly tmpDir: string;
  readonly limits: LayerLimits;
  /** An empty dir (a read-only overlay of one layer gets it below). */
  readonly emptyDir: string;
  readonly cacheMounts: CacheMounts;
  /** The build's secrets by id (never logged, never in a key). */
  readonly secrets: ReadonlyMap<string, Buffer>;
  /** The stage (name or index) or image `from` names. */
  from(ref: string): Promise<MountFrom>;
}

export interface PreparedMounts {
  readonly mounts: MountSpec[];
  /** KEY=VALUE of env secrets. */
  readonly env: string[];
  /** Container paths of the mounts (their stubs stay out of the layer). */
  readonly targets: string[];
  /** Releases cache leases and removes the temporary copies (after the container is gone). */
  release(): Promise<void>;
}

/** A mount's target in the container: relative ones are taken from the WORKDIR, as BuildKit does. */
export function mountTarget(target: string, workdir: string | undefined): string {
  const path = posix.resolve(workdir !== undefined && workdir !== '' ? workdir : '/', target);
  if (path === '/') throw new GantryError('DOCKERFILE_INVALID', 'RUN --mount: the target cannot be /', { hint: 'mount at a directory below the root, e.g. target=/cache' });
  return path;
}

/** The cache mount's key: its id, and what seeds it. */
export function cacheMountKey(mount: Extract<RunMount, { type: 'cache' }>, fromId: string | undefined): string {
  return mount.from === undefined ? `id:${mount.id}` : `id:${mount.id}\u0000from:${fromId ?? ''}:${mount.source ?? '/'}`;
}

function contextRel(listing: ContextListing, source: string, what: string): string {
  const rel = resolveSourcePath(listing, source);
  if (rel !== '' && !listing.entries.some((e) => e.path === rel)) {
    throw new GantryError('BUILD_SOURCE_NOT_FOUND', `${what}: source ${source} is not in the build context`, { hint: 'check the path (relative to the context), and that .dockerignore does not exclude it' });
  }
  return rel;
}

/**
 * What the step's mounts add to its cache key: bind mounts' content (context) or source image and path (from),
 * whether each secret was given, the seed image of cache mounts. Undefined when none of that applies.
 */
export async function mountsDigest(mounts: readonly RunMount[], src: Pick<MountSources, 'listing' | 'secrets' | 'from'>): Promise<string | undefined> {
  const parts: string[] = [];
  for (const m of mounts) {
    if (m.type === 'bind') {
      if (m.from === undefined) {
        const rel = contextRel(src.listing, m.source, `RUN --mount=type=bind,target=${m.target}`);
        const entries = selectSources(src.listing, rel === '' ? '.' : rel, { instruction: 'RUN --mount' });
        parts.push(`bind:${m.target}:${await digestSources(src.listing, entries, rel)}`);
      } else parts.push(`bind:${m.target}:from:${(await src.from(m.from)).id}:${m.source}`);
    } else if (m.type === 'secret') parts.push(`secret:${m.id}:${src.secrets.has(m.id) ? 'given' : 'absent'}`);
    else if (m.type === 'cache' && m.from !== undefined) parts.push(`cache:${m.id}:from:${(await src.from(m.from)).id}`);
  }
  return parts.length === 0 ? undefined : parts.join('\n');
}

/** Where a `#!` heredoc is run from (BuildKit's place: /dev is the runtime's, so nothing lands in the layer). */
export const SCRIPT_DIR = '/dev/pipes';

/**
 * The step's mounts, made (cache leases taken, copies and secret files written); release() undoes it. `script`:
 * a `#!` heredoc, mounted read-only and executable at SCRIPT_DIR/NAME.
 */
export async function prepareRunMounts(runMounts: readonly RunMount[], workdir: string | undefined, src: MountSources, signal: AbortSignal,
  script?: { readonly name: string; readonly content: string }): Promise<PreparedMounts> {
  const mounts: MountSpec[] = [];
  const env: string[] = [];
  const targets: string[] = [];
  const temps: string[] = [];
  const leases: Array<() => void> = [];
  const release = async (): Promise<void> => {
    for (const l of leases.splice(0)) l();
    for (const d of temps.splice(0)) await removeDir(d);
  };
  const temp = async (prefix: string): Promise<string> => {
    const dir = await mkdtemp(join(src.tmpDir, prefix));
    temps.push(dir);
    await chmod(dir, 0o700);
    return dir;
  };
  /** `source` of a stage or image, extracted into a dir of ours: its host path. */
  const fromPath = async (ref: string, source: string): Promise<{ path: string; isDir: boolean }> => {
    const from = await src.from(ref);
    if (from.layers.length === 0) throw new GantryError('BUILD_SOURCE_NOT_FOUND', `RUN --mount from=${ref}: the stage has no files`, { hint: 'mount from a stage or image that has the source' });
    const got = await extractFromImage(from.layers, source, src.tmpDir, src.limits, src.emptyDir);
    temps.push(got.dir);
    return { path: join(got.dir, got.name), isDir: got.isDir };
  };
  try {
    if (script !== undefined) {
      if (script.name.includes('/') || script.name === '.' || script.name === '..') throw new GantryError('DOCKERFILE_INVALID', `RUN <<${script.name}: the delimiter names the script file, it cannot be a path`, { hint: 'use a plain word as the delimiter (<<EOF)' });
      const file = join(await temp('build-script-'), 'script');
      await writeFile(file, script.content, { mode: 0o755, flag: 'wx' });
      await chmod(file, 0o755);
      mounts.push({ type: 'bind', source: file, target: `${SCRIPT_DIR}/${script.name}`, readOnly: true });
    }
    for (const m of runMounts) {
      signal.throwIfAborted();
      if (m.type === 'ssh') {
        throw new GantryError('UNSUPPORTED', 'RUN --mount=type=ssh is not supported by this builder (it forwards no SSH agent)', { hint: 'use a secret mount (--secret id=…) for what the step needs' });
      }
      if (m.type === 'tmpfs') {
        const target = mountTarget(m.target, workdir);
        mounts.push({ type: 'tmpfs', source: '', target, readOnly: false, tmpfsOptions: tmpfsMountOptions(m.size, undefined) });
        targets.push(target);
      } else if (m.type === 'bind') {
        const target = mountTarget(m.target, workdir);
        let host: string;
        if (m.from === undefined) host = join(src.listing.root, contextRel(src.listing, m.source, `RUN --mount=type=bind,target=${m.target}`));
        else host = (await fromPath(m.from, m.source)).path;
        if (!m.readonly && m.from === undefined) {
          // rw: the step may write, its writes are discarded: a copy of ours (a from= source already is one)
          const dir = await temp('build-mount-');
          await copyTree(host, join(dir, 'src'));
          host = join(dir, 'src');
        }
        mounts.push({ type: 'bind', source: host, target, readOnly: m.readonly });
        targets.push(target);
      } else if (m.type === 'cache') {
        const target = mountTarget(m.target, workdir);
        const fromId = m.from === undefined ? undefined : (await src.from(m.from)).id;
        const lease = await src.cacheMounts.acquire(cacheMountKey(m, fromId), m.sharing, { mode: m.mode, uid: m.uid, gid: m.gid }, signal);
        leases.push(() => lease.release());
        if (lease.fresh && m.from !== undefined) {
          const seed = await fromPath(m.from, m.source ?? '/');
          if (seed.isDir) await copyTree(`${seed.path}/.`, lease.dir);
        }
        mounts.push({ type: 'bind', source: lease.dir, target, readOnly: m.readonly });
        targets.push(target);
      } else {
        const value = src.secrets.get(m.id);
        if (value === undefined) {
          if (m.required) throw new GantryError('BUILD_SECRET_MISSING', `RUN --mount=type=secret,id=${m.id}: the secret ${m.id} is required and was not given`, { hint: `pass it to the build: gantry build --secret id=${m.id},src=FILE (or env=VAR)` });
          continue;
        }
        if (m.env !== undefined) env.push(`${m.env}=${value.toString('utf8')}`);
        if (m.target !== undefined) {
          const target = mountTarget(m.target, workdir);
          const dir = await temp('build-secret-');
          const file = join(dir, 'secret');
          await writeFile(file, value, { mode: 0o600, flag: 'wx' });
          await chown(file, m.uid, m.gid);
          await chmod(file, m.mode);
          mounts.push({ type: 'bind', source: file, target, readOnly: true });
          targets.push(target);
        }
      }
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { mounts, env, targets, release };
}
