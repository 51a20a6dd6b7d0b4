// `gantry pull`: manifest (index → this platform's manifest), config, then the layers the store lacks, up to
// three at a time, each streamed download → digest check → decompress → extract in one pass. A pull that fails
// at any byte leaves no blob or layer of its own behind; dropped connections are retried with backoff.
import { GantryError } from '../../common/errors.js';
import { KeyedMutex } from '../../common/mutex.js';
import type { ImageStore, ImageRecord } from '../images/store.js';
import { chainIds, isDigest, type OciDescriptor, type OciImageConfig } from '../images/oci.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from '../images/reference.js';
import { apiHost } from './endpoint.js';
import { formatPlatform, layerKind, selectManifest, type Platform } from './manifest.js';
import { ProgressCounter, progressBar, shortDigest, type Emit } from './progress.js';
import { ResumingBlobStream } from './blob-stream.js';
import { Repository, type FetchedManifest } from './repository.js';
import type { RegistrySettings } from './settings.js';
import { RegistryTransport, backoffMs, isRetryable, sleep, type Credentials, type TokenCache } from './transport.js';

export const PARALLEL_LAYERS = 3;
const LAYER_ATTEMPTS = 4;
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export interface RegistryContext {
  store: ImageStore;
  settings: RegistrySettings;
  tokens: TokenCache;
  /** One download per layer at a time: a second pull of it waits, then finds it stored. */
  layerLocks: KeyedMutex;
  /** How many running pulls need each blob digest / layer chain id: a failed pull removes only what no other needs. */
  claims: Map<string, number>;
}

export function registryContext(store: ImageStore, settings: RegistrySettings, tokens: TokenCache): RegistryContext {
  return { store, settings, tokens, layerLocks: new KeyedMutex(), claims: new Map() };
}

export interface PullRequest {
  reference: string;
  platform?: Platform | undefined;
  credentials?: Credentials | undefined;
}

export interface PullResult {
  image: ImageRecord;
  /** Layer bytes downloaded (0 when every layer was present). */
  downloaded: number;
  upToDate: boolean;
}

/** Runs `fn` over `items` with at most `limit` at a time; the first failure rejects once all started ones end. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try { await fn(items[i]!, i); } catch (e) { failure ??= { error: e }; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

function parseConfig(bytes: Buffer, layers: number): OciImageConfig {
  let config: OciImageConfig;
  try { config = JSON.parse(bytes.toString('utf8')) as OciImageConfig; } catch {
    throw new GantryError('INVALID_IMAGE_ARCHIVE', 'the image config from the registry is not JSON', { hint: 'the image is damaged; ask its publisher' });
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && isDigest(d))) {
    throw new GantryError('INVALID_IMAGE_ARCHIVE', 'the image config from the registry lists no valid rootfs.diff_ids', { hint: 'the image is damaged; ask its publisher' });
  }
  if (diffIds.length !== layers) {
    throw new GantryError('INVALID_IMAGE_ARCHIVE', `the image config lists ${diffIds.length} layers but the manifest ${layers}`, { hint: 'the image is damaged; ask its publisher' });
  }
  return config;
}

export async function pullImage(ctx: RegistryContext, req: PullRequest, emit: Emit): Promise<PullResult> {
  const ref = parseReference(req.reference);
  const host = apiHost(ref.domain);
  const transport = new RegistryTransport(host, ctx.settings, req.credentials, ctx.tokens);
  const repo = new Repository(transport, ref.path, 'pull');
  const display = formatReference(ref);
  const created = { blobs: [] as string[], layers: [] as string[] };
  const claimed: string[] = [];
  const claim = (keys: string[]): void => { for (const k of keys) { ctx.claims.set(k, (ctx.claims.get(k) ?? 0) + 1); claimed.push(k); } };
  try {
    // After the manifest, as Docker: a missing image or a refused login is then an HTTP error (404/401) before the
    // stream starts, which is what dockerode's pull and docker-py's pull raise on.
    const top = await repo.manifest(ref.digest ?? ref.tag ?? 'latest', display);
    emit({ status: `Pulling from ${ref.path}`, id: ref.tag ?? ref.digest ?? 'latest' });
    let image: FetchedManifest = top;
    if (top.doc.kind === 'index') {
      const entry = selectManifest(top.doc.manifests, req.platform ?? DEFAULT_PLATFORM);
      image = await repo.manifest(entry.digest, `${display} (${entry.digest})`);
      if (image.doc.kind !== 'image') throw new GantryError('INVALID_IMAGE_ARCHIVE', `the index entry ${entry.digest} is not an image manifest`, { hint: 'nested indexes are not supported' });
    }
    if (image.doc.kind !== 'image') throw new Error('unreachable');
    const manifest = image.doc.manifest;
    for (const l of manifest.layers) layerKind(l as OciDescriptor & { urls?: unknown }); // foreign/zstd: refused before anything is fetched
    const before = ref.tag === undefined ? undefined : ctx.store.resolve(formatReference(ref, false))?.id;
    claim([image.digest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);

    if (!ctx.store.blobs.has(manifest.config.digest)) {
      const bytes = await withRetries(() => repo.smallBlob(manifest.config.digest), (attempt, e) => emit({ status: retryText(attempt, e) }));
      await ctx.store.ingestBlob(bytes, { digest: manifest.config.digest });
      created.blobs.push(manifest.config.digest);
    }
    const config = parseConfig(ctx.store.blobs.read(manifest.config.digest), manifest.layers.length);
    const chains = chainIds(config.rootfs.diff_ids);
    claim(chains);
    if (req.platform !== undefined && top.doc.kind === 'image' && (config.os !== req.platform.os || config.architecture !== req.platform.architecture)) {
      throw new GantryError('NOT_FOUND', `image with reference ${display} was found but its platform (${config.os}/${config.architecture}) does not match the specified platform (${formatPlatform(req.platform)})`, {
        hint: 'pull without --platform, or choose an image built for that platform',
      });
    }
    let downloaded = 0;
    const todo = manifest.layers.map((l, i) => ({ desc: l, diffId: config.rootfs.diff_ids[i]!, chainId: chains[i]!, parent: i === 0 ? undefined : chains[i - 1] }));
    const missing = todo.filter((t) => !(ctx.store.layers.has(t.chainId) && ctx.store.blobs.has(t.desc.digest)));
    for (const t of todo) emit({ status: missing.includes(t) ? 'Pulling fs layer' : 'Already exists', progressDetail: {}, id: shortDigest(t.desc.digest) });
    await inParallel(missing, PARALLEL_LAYERS, (t) => ctx.layerLocks.run(t.chainId, async () => {
      const id = shortDigest(t.desc.digest);
      if (ctx.store.layers.has(t.chainId) && ctx.store.blobs.has(t.desc.digest)) { emit({ status: 'Already exists', progressDetail: {}, id }); return; } // another pull stored it meanwhile
      const hadBlob = ctx.store.blobs.has(t.desc.digest);
      const hadLayer = ctx.store.layers.has(t.chainId);
      if (hadBlob) {
        await ctx.store.addLayerFromBlob({ digest: t.desc.digest }, { parent: t.parent, expectedDiffId: t.diffId });
      } else {
        const blob = new ResumingBlobStream(async (from) => {
          const res = await repo.blob(t.desc.digest, from);
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared !== t.desc.size - from) {
            res.destroy();
            throw new GantryError('INVALID_IMAGE_ARCHIVE', `layer ${t.desc.digest}: the registry announces ${declared + from} bytes, the manifest says ${t.desc.size}`, { hint: 'the registry sent other content than the manifest names; do not trust it' });
          }
          return res;
        }, t.desc.size, LAYER_ATTEMPTS, (attempt, from, e) => emit({ status: `${retryText(attempt, e)}${from > 0 ? `, resuming at byte ${from}` : ''}`, progressDetail: {}, id }));
        const counter = new ProgressCounter(
          (n) => emit({ status: 'Downloading', progressDetail: { current: n, total: t.desc.size }, progress: progressBar(n, t.desc.size), id }),
          t.desc.size,
          () => new GantryError('INVALID_IMAGE_ARCHIVE', `layer ${t.desc.digest} is longer than the ${t.desc.size} bytes its descriptor says`, { hint: 'the registry sent other content than the manifest names; do not trust it' }),
        );
        blob.on('error', (e) => counter.destroy(e));
        blob.pipe(counter);
        try {
          await ctx.store.ingestLayerStream(counter, t.desc, { parent: t.parent, expectedDiffId: t.diffId });
        } finally {
          downloaded += counter.bytes;
        }
        created.blobs.push(t.desc.digest);
      }
      if (!hadLayer) created.layers.push(t.chainId);
      emit({ status: 'Download complete', progressDetail: {}, id });
      emit({ status: 'Pull complete', progressDetail: {}, id });
    }));

    if (!ctx.store.blobs.has(image.digest)) { await ctx.store.ingestBlob(image.bytes, { digest: image.digest }); created.blobs.push(image.digest); }
    const registered = await ctx.store.registerManifest(image.digest, {
      refs: ref.tag === undefined ? [] : [formatReference(ref, false)],
      repoDigests: [`${repositoryName(ref, false)}@${top.digest}`],
    });
    const upToDate = before === registered.id && missing.length === 0;
    emit({ status: `Digest: ${top.digest}` });
    emit({ status: upToDate ? `Status: Image is up to date for ${display}` : `Status: Downloaded newer image for ${display}` });
    return { image: registered, downloaded, upToDate };
  } catch (e) {
    const onlyOurs = (k: string): boolean => (ctx.claims.get(k) ?? 0) <= 1;
    await ctx.store.discardUnreferenced(created.blobs.filter(onlyOurs), created.layers.filter(onlyOurs)).catch(() => undefined);
    throw e;
  } finally {
    for (const k of claimed) { const n = (ctx.claims.get(k) ?? 1) - 1; if (n <= 0) ctx.claims.delete(k); else ctx.claims.set(k, n); }
    transport.close();
  }
}

function retryText(attempt: number, e: unknown): string {
  const seconds = Math.max(1, Math.round(backoffMs(attempt) / 1000));
  return `Retrying in ${seconds} second${seconds > 1 ? 's' : ''} (${e instanceof Error ? e.message : String(e)})`;
}

/** Retries `fn` after dropped connections (and 5xx answers), with exponential backoff. */
async function withRetries<T>(fn: () => Promise<T>, onRetry: (attempt: number, e: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt + 1 >= LAYER_ATTEMPTS || !isRetryable(e)) throw e;
      onRetry(attempt, e);
      await sleep(backoffMs(attempt));
    }
  }
}

export type { ImageReference };
