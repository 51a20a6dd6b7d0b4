// The local image store: OCI content store + extracted layers + references, under one daemon root.
// Every mutating operation runs under one async mutex; reads use the in-memory copy of the index, which
// is replaced only after the index file has been written.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { GantryError, isGantryError } from '../../common/errors.js';
import { BlobStore, type BlobInfo } from './blobs.js';
import { ImageIndexFile, type ImageIndexData, type IndexedImage } from './image-index.js';
import { LayerStore, detectCompression, type LayerRecord } from './layers.js';
import { createDecompressor } from './inflate.js';
import type { LayerLimits } from './limits.js';
import { Mutex } from './mutex.js';
import {
  DEFAULT_PATH_ENV, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST,
  chainIds, hostPlatform, isDigest, isLayerMediaType,
  type ImageConfigFields, type OciDescriptor, type OciImageConfig, type OciManifest,
} from './oci.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from './reference.js';

export interface ImageRecord {
  /** Image id: the config digest, `sha256:<hex>` (like Docker). */
  readonly id: string;
  readonly manifestDigest: string;
  /** Familiar `name:tag` references, sorted (`busybox:latest`). */
  readonly repoTags: readonly string[];
  /** Familiar `name@sha256:…` references. */
  readonly repoDigests: readonly string[];
  /** The config's `created` (ISO 8601), or when the image entered the store. */
  readonly created: string;
  readonly lastTagTime: string | undefined;
  readonly manifest: OciManifest;
  readonly config: OciImageConfig;
  /** Bottom-most first (the order of rootfs.diff_ids). */
  readonly layers: readonly LayerRecord[];
  /** Sum of the layers' content sizes. */
  readonly size: number;
}

export interface ImportOptions {
  /** Config fields to set (like `docker import --change`); Env entries override the default PATH by key. */
  changes?: Partial<ImageConfigFields>;
  /** History comment (like `docker import --message`). */
  message?: string | undefined;
  /** What the history names as the source (default: the file's name; `-` for an upload, as Docker says). */
  source?: string | undefined;
}

export interface RemoveOptions {
  force?: boolean;
  /** Whether some container (running or not) uses the image with this id. */
  isInUse?: (imageId: string) => boolean;
  /** The containers that use it, as messages name them (`running container 3f8d6a1b2c4e (web)`). */
  usedBy?: (imageId: string) => string[];
}

export interface RemoveResultItem {
  Untagged?: string;
  Deleted?: string;
}

export interface AddImageOptions {
  config: OciImageConfig;
  /** Layer blob descriptors, bottom-most first; each blob must be in the store and extracted. */
  layers: OciDescriptor[];
  /** References to point at the image (any form `parseReference` accepts; tags only). */
  refs?: string[];
  /** `repo@sha256:…` references the image is known by in a registry. */
  repoDigests?: string[];
}

export interface RegisterOptions {
  refs?: string[];
  repoDigests?: string[];
}

interface Loaded {
  manifest: OciManifest;
  config: OciImageConfig;
  layers: LayerRecord[];
}

const NOT_FOUND_HINT = 'gantry images lists local images; import one with `gantry import`';
const SHORT_ID_MIN = 4;

function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export class ImageStore {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  /** Images dropped at open because their blobs or layers were gone (one line each). */
  readonly repairs: string[] = [];
  readonly #indexFile: ImageIndexFile;
  readonly #mutex = new Mutex();
  #index: ImageIndexData;
  readonly #loaded = new Map<string, Loaded>();

  /** `limits` caps what one layer may unpack to (default: from GANTRY_MAX_LAYER_* in the environment). */
  constructor(opts: { root: string; limits?: LayerLimits | undefined }) {
    this.root = opts.root;
    this.blobs = new BlobStore(opts.root);
    this.layers = new LayerStore(opts.root, opts.limits);
    this.#indexFile = new ImageIndexFile(opts.root);
    this.blobs.cleanTemp();
    this.layers.cleanTemp();
    this.#index = this.#indexFile.load();
    this.#loadAll();
    this.#sweepOrphans();
  }

  // ---------------------------------------------------------------- reading

  /**
   * Finds an image by reference (`busybox`, `name:tag`, `host:5000/a/b:t`, `name@sha256:…`) or by id
   * (`sha256:<hex>`, or an unambiguous hex prefix of at least 4 characters). Undefined when nothing matches.
   * Throws INVALID_ARGUMENT for malformed input and for an id prefix that matches several images.
   */
  resolve(refOrId: string): ImageRecord | undefined {
    const id = this.#lookup(refOrId).id;
    return id === undefined ? undefined : this.#record(id);
  }

  /** Like `resolve`, but throws IMAGE_NOT_FOUND when nothing matches. */
  get(refOrId: string | ImageRecord): ImageRecord {
    if (typeof refOrId !== 'string') return this.get(refOrId.id);
    const found = this.resolve(refOrId);
    if (found === undefined) {
      throw new GantryError('IMAGE_NOT_FOUND', `no such image: ${refOrId}`, { hint: NOT_FOUND_HINT, detail: { image: refOrId } });
    }
    return found;
  }

  /** Every image, newest first, in the shape of Docker's `GET /images/json`. */
  list(): import('dockerode').ImageInfo[] {
    return Object.keys(this.#index.images)
      .map((id) => this.#record(id))
      .sort((a, b) => b.created.localeCompare(a.created) || a.id.localeCompare(b.id))
      .map((r) => ({
        Id: r.id,
        ParentId: '',
        RepoTags: [...r.repoTags],
        RepoDigests: [...r.repoDigests],
        Created: Math.floor(Date.parse(r.created) / 1000),
        Size: r.size,
        VirtualSize: r.size,
        SharedSize: -1,
        Labels: { ...(r.config.config?.Labels ?? {}) },
        Containers: -1,
      }));
  }

  /** Docker's `GET /images/{name}/json` shape. */
  inspect(refOrId: string): import('dockerode').ImageInspectInfo {
    const r = this.get(refOrId);
    const c = r.config.config ?? {};
    const containerConfig = {
      Hostname: '', Domainname: '', User: c.User ?? '',
      AttachStdin: false, AttachStdout: false, AttachStderr: false,
      ExposedPorts: { ...(c.ExposedPorts ?? {}) },
      Tty: false, OpenStdin: false, StdinOnce: false,
      Env: [...(c.Env ?? [])],
      Cmd: [...(c.Cmd ?? [])],
      ArgsEscaped: c.ArgsEscaped ?? false,
      Image: '',
      Volumes: { ...(c.Volumes ?? {}) },
      WorkingDir: c.WorkingDir ?? '',
      ...(c.Entrypoint === undefined ? {} : { Entrypoint: [...c.Entrypoint] }),
      OnBuild: [...(c.OnBuild ?? [])],
      Labels: { ...(c.Labels ?? {}) },
    };
    const config = {
      ...containerConfig,
      ...(c.StopSignal === undefined ? {} : { StopSignal: c.StopSignal }),
      ...(c.Healthcheck === undefined ? {} : { Healthcheck: structuredClone(c.Healthcheck) }),
      ...(c.Shell === undefined ? {} : { Shell: [...c.Shell] }),
    };
    const history = r.config.history ?? [];
    const graphData = { LowerDir: this.layerDirs(r).join(':') } as unknown as import('dockerode').ImageInspectInfo['GraphDriver']['Data'];
    const info = {
      Id: r.id,
      RepoTags: [...r.repoTags],
      RepoDigests: [...r.repoDigests],
      Parent: '',
      Comment: history[history.length - 1]?.comment ?? '',
      Created: r.created,
      Container: '',
      ContainerConfig: containerConfig,
      DockerVersion: '',
      Author: r.config.author ?? '',
      Config: config,
      Architecture: r.config.architecture,
      ...(r.config.variant === undefined ? {} : { Variant: r.config.variant }),
      Os: r.config.os,
      Size: r.size,
      VirtualSize: r.size,
      GraphDriver: { Name: 'overlay', Data: graphData },
      RootFS: { Type: 'layers', Layers: [...r.config.rootfs.diff_ids] },
      Metadata: { LastTagTime: r.lastTagTime ?? '0001-01-01T00:00:00Z' },
      Descriptor: { mediaType: MEDIA_TYPE_MANIFEST, digest: r.manifestDigest, size: this.blobs.size(r.manifestDigest) },
    };
    return info;
  }

  /** Absolute `diff/` dirs of the image's layers, top-most first (overlay lowerdir order). */
  layerDirs(image: ImageRecord | string): string[] {
    const r = typeof image === 'string' ? this.get(image) : image;
    return r.layers.map((l) => this.layers.diffDir(l.chainId)).reverse();
  }

  /** The image's execution parameters (the OCI config's `config` member), as a copy. */
  config(image: ImageRecord | string): ImageConfigFields {
    const r = typeof image === 'string' ? this.get(image) : image;
    return structuredClone(r.config.config ?? {});
  }

  // ---------------------------------------------------------------- import, tag, remove

  /**
   * `gantry import`: makes a one-layer image from a rootfs tarball (plain or gzip) and tags it `ref` (untagged without).
   * The layer blob is stored gzip-compressed (a gzip input is kept as it is).
   */
  async importTarball(path: string, ref: string | undefined, opts: ImportOptions = {}): Promise<ImageRecord> {
    const target = ref === undefined ? undefined : parseTagReference(ref);
    return this.#mutex.run(async () => {
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new GantryError('NOT_FOUND', `no such file: ${path}`, { hint: 'give the path of a rootfs tarball (.tar or .tar.gz)' });
      }
      const blob = await this.#ingestTarball(path);
      let layer: LayerRecord;
      try {
        layer = await this.layers.extract(this.blobs.path(blob.digest), { expectedDigest: blob.digest });
      } catch (e) {
        if (!this.#blobInUse(blob.digest)) this.blobs.remove(blob.digest);
        throw e;
      }
      const now = new Date().toISOString();
      const config: OciImageConfig = {
        created: now,
        ...hostPlatform(),
        config: importConfig(opts.changes),
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created: now, comment: opts.message ?? `Imported from ${opts.source ?? basename(path)}` }],
      };
      return this.#addImage({
        config,
        layers: [{ mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }],
        refs: target === undefined ? [] : [formatReference(target, false)],
      });
    });
  }

  /** Points `target` (NAME[:TAG]) at the image `source` refers to. */
  async tag(source: string, target: string): Promise<ImageRecord> {
    const ref = parseTagReference(target);
    return this.#mutex.run(() => {
      const image = this.get(source);
      const next = structuredClone(this.#index);
      const already = next.refs[formatReference(ref, false)] === image.id;
      next.refs[formatReference(ref, false)] = image.id;
      const entry = next.images[image.id];
      if (entry !== undefined) entry.lastTagTime = new Date().toISOString();
      if (already) this.#commitTagTime(next);
      else this.#commit(next);
      return this.#record(image.id);
    });
  }

  /**
   * `gantry rmi`, with Docker's semantics: a name untags; the image is deleted when its last reference goes
   * and no container uses it; its layers and blobs are deleted when no other image uses them. An image in
   * use needs `force`, and is then only untagged (it stays, dangling, while a container uses it).
   */
  async remove(refOrId: string, opts: RemoveOptions = {}): Promise<RemoveResultItem[]> {
    return this.#mutex.run(() => this.#remove(refOrId, opts));
  }

  // ---------------------------------------------------------------- building blocks for pull and build

  /** Stores a blob (verifying `expected` digest/size when given). */
  async ingestBlob(source: Readable | Uint8Array | string, expected?: Partial<BlobInfo>): Promise<BlobInfo> {
    return this.#mutex.run(() => typeof source === 'string' || source instanceof Uint8Array
      ? this.blobs.write(source, expected)
      : this.blobs.writeStream(source, expected));
  }

  /**
   * Extracts a layer blob that is already in the content store, on top of the layer `parent` (a chain
   * id). With `expectedDiffId` (from the image config) an existing layer is reused without extracting,
   * and extracted content must match it.
   */
  async addLayerFromBlob(blob: Pick<OciDescriptor, 'digest'> & Partial<OciDescriptor>, opts: { parent?: string | undefined; expectedDiffId?: string | undefined } = {}): Promise<LayerRecord> {
    return this.#mutex.run(() => {
      if (blob.mediaType !== undefined && !isLayerMediaType(blob.mediaType)) {
        throw new GantryError('UNSUPPORTED', `layer media type ${blob.mediaType} is not supported`, { hint: 'gantry handles tar and tar+gzip layers' });
      }
      if (!this.blobs.has(blob.digest)) {
        throw new GantryError('NOT_FOUND', `layer blob ${blob.digest} is not in the content store`, { hint: 'ingest it first (ingestBlob)' });
      }
      return this.layers.extract(this.blobs.path(blob.digest), { parent: opts.parent, expectedDiffId: opts.expectedDiffId, expectedDigest: blob.digest });
    });
  }

  /** Writes an image's config and manifest (layers must already be stored and extracted) and tags it. */
  async addImage(opts: AddImageOptions): Promise<ImageRecord> {
    return this.#mutex.run(() => this.#addImage(opts));
  }

  /** Registers an image whose manifest blob (and config and layers) are already stored, e.g. after a pull. */
  async registerManifest(manifestDigest: string, opts: RegisterOptions = {}): Promise<ImageRecord> {
    return this.#mutex.run(() => this.#register(manifestDigest, opts));
  }

  /**
   * A pull's one pass: a layer blob streamed from `source` is written to the content store and extracted at the
   * same time, and must match `blob` (digest, size) and `expectedDiffId`. Not serialised with other writers while
   * it streams (a pull fetches layers in parallel); when it fails, nothing it placed stays unless an image uses it.
   */
  async ingestLayerStream(source: Readable, blob: Pick<OciDescriptor, 'digest' | 'size'>, opts: { parent?: string | undefined; expectedDiffId: string }): Promise<LayerRecord> {
    const chainId = opts.parent === undefined ? opts.expectedDiffId : (chainIds([opts.parent, opts.expectedDiffId])[1] as string);
    const known = this.layers.get(chainId);
    if (known !== undefined) { await this.blobs.writeStream(source, blob); return known; }
    const toBlob = new PassThrough();
    const toLayer = new PassThrough();
    let networkError: unknown;
    let stopping = false;
    const stop = (e: unknown): void => {
      stopping = true;
      const err = e instanceof Error ? e : new Error(String(e));
      source.destroy(err); toBlob.destroy(err); toLayer.destroy(err);
    };
    source.on('error', (e) => { if (!stopping) networkError ??= e; stop(e); });
    source.pipe(toBlob);
    source.pipe(toLayer);
    const written = this.blobs.writeStream(toBlob, blob);
    // The blob writer checks the digest of these same bytes: the extraction checks only the diff id.
    const extracted = this.layers.extractStream(toLayer, { parent: opts.parent, expectedDiffId: opts.expectedDiffId, blobSize: blob.size });
    written.catch(stop);
    // A failed extraction lets the blob finish (the source drops the dead branch), so content that does not match
    // its digest is reported as such; a cap stops at once (a bomb is not downloaded to its end).
    extracted.catch((e: unknown) => { if (isGantryError(e) && e.code === 'TOO_LARGE') stop(e); });
    const [w, x] = await Promise.allSettled([written, extracted]);
    if (w.status === 'fulfilled' && x.status === 'fulfilled') return x.value;
    await this.discardUnreferenced(w.status === 'fulfilled' ? [blob.digest] : [], x.status === 'fulfilled' ? [x.value.chainId] : []);
    // The real cause: the download's own error (a dropped connection, which a pull retries), else content that
    // does not match its digest, else what the extraction refused.
    if (networkError !== undefined) throw networkError;
    const causes = [w, x].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    throw causes.find((c) => c instanceof GantryError) ?? causes[0];
  }

  /** Removes the given blobs and layers when no image references them (what a failed pull had stored). */
  async discardUnreferenced(blobDigests: readonly string[], layerChainIds: readonly string[]): Promise<void> {
    await this.#mutex.run(() => {
      const usedLayers = new Set([...this.#loaded.values()].flatMap((img) => img.layers.map((l) => l.chainId)));
      for (const chainId of [...layerChainIds].reverse()) if (!usedLayers.has(chainId)) this.layers.remove(chainId);
      for (const d of blobDigests) if (!this.#blobInUse(d)) this.blobs.remove(d);
    });
  }

  /** Adds `repo@sha256:…` references to an image (after a push the registry names it so). */
  async addRepoDigests(refOrId: string, repoDigests: string[]): Promise<ImageRecord> {
    return this.#mutex.run(() => this.#register(this.get(refOrId).manifestDigest, { repoDigests }));
  }

  // ---------------------------------------------------------------- internals

  async #ingestTarball(path: string): Promise<BlobInfo> {
    const head = Buffer.alloc(8);
    const fd = await open(path, 'r');
    let n: number;
    try { n = (await fd.read(head, 0, 8, 0)).bytesRead; } finally { await fd.close(); }
    const compression = detectCompression(head.subarray(0, n));
    if (compression === 'gzip') return this.blobs.writeStream(createReadStream(path));
    // Plain and zstd tarballs are stored as gzip, the layer form every client reads.
    const gzip = createGzip();
    const fail = (e: unknown): void => { gzip.destroy(e instanceof Error ? e : new Error(String(e))); };
    if (compression === 'zstd') pipeline(createReadStream(path), createDecompressor('zstd', undefined), gzip).catch(fail);
    else pipeline(createReadStream(path), gzip).catch(fail);
    return this.blobs.writeStream(gzip);
  }

  async #addImage(opts: AddImageOptions): Promise<ImageRecord> {
    if (opts.config.rootfs.diff_ids.length !== opts.layers.length) {
      throw new GantryError('INVALID_ARGUMENT', `the image config lists ${opts.config.rootfs.diff_ids.length} layers but ${opts.layers.length} were given`);
    }
    const configBlob = await this.blobs.writeJson(opts.config);
    const manifest: OciManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_MANIFEST,
      config: { mediaType: MEDIA_TYPE_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: opts.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const manifestBlob = await this.blobs.writeJson(manifest);
    return this.#register(manifestBlob.digest, { refs: opts.refs ?? [], repoDigests: opts.repoDigests ?? [] });
  }

  #register(manifestDigest: string, opts: RegisterOptions): ImageRecord {
    const refs = (opts.refs ?? []).map((r) => formatReference(parseTagReference(r), false));
    const repoDigests = (opts.repoDigests ?? []).map((r) => {
      const p = parseReference(r);
      if (p.digest === undefined) throw new GantryError('INVALID_ARGUMENT', `"${r}" is not a digest reference`, { hint: 'a repo digest looks like NAME@sha256:DIGEST' });
      return `${repositoryName(p, false)}@${p.digest}`;
    });
    const loaded = this.#loadImage(manifestDigest);
    if (typeof loaded === 'string') throw new GantryError('INVALID_ARGUMENT', `cannot register image ${manifestDigest}: ${loaded}`, { hint: 'store its blobs and extract its layers first' });
    const id = loaded.manifest.config.digest;
    const now = new Date().toISOString();
    const next = structuredClone(this.#index);
    const prior = next.images[id];
    const entry: IndexedImage = {
      manifest: manifestDigest,
      repoDigests: [...new Set([...(prior?.repoDigests ?? []), ...repoDigests])],
      added: prior?.added ?? now,
      ...(refs.length > 0 ? { lastTagTime: now } : prior?.lastTagTime === undefined ? {} : { lastTagTime: prior.lastTagTime }),
    };
    next.images[id] = entry;
    // an image registered again as it was (a fully cached build, a pull of what is here)
    const onlyTagTime = prior !== undefined && prior.manifest === manifestDigest && entry.repoDigests.length === prior.repoDigests.length
      && refs.every((ref) => next.refs[ref] === id);
    for (const ref of refs) next.refs[ref] = id;
    this.#loaded.set(id, loaded);
    if (onlyTagTime) this.#commitTagTime(next);
    else this.#commit(next);
    return this.#record(id);
  }

  #remove(refOrId: string, opts: RemoveOptions): RemoveResultItem[] {
    const found = this.#lookup(refOrId);
    if (found.id === undefined) {
      throw new GantryError('IMAGE_NOT_FOUND', `no such image: ${refOrId}`, { hint: NOT_FOUND_HINT, detail: { image: refOrId } });
    }
    const id = found.id;
    const force = opts.force ?? false;
    const inUse = opts.isInUse?.(id) ?? false;
    const users = (imageId: string, fallback: string): string => {
      const names = opts.usedBy?.(imageId) ?? [];
      return names.length === 0 ? fallback : names.join(', ');
    };
    const next = structuredClone(this.#index);
    const entry = next.images[id];
    if (entry === undefined) throw new Error(`index has no entry for ${id}`);
    const tags = Object.keys(next.refs).filter((r) => next.refs[r] === id);
    const results: RemoveResultItem[] = [];
    const untag = (full: string): void => {
      if (next.refs[full] === id) delete next.refs[full];
      entry.repoDigests = entry.repoDigests.filter((d) => d !== full);
      results.push({ Untagged: formatReference(parseReference(full), true) });
    };

    if (found.ref !== undefined) {
      const referenceCount = tags.length + entry.repoDigests.length;
      if (referenceCount <= 1 && inUse && !force) {
        throw new GantryError('IMAGE_IN_USE',
          `unable to remove repository reference "${refOrId}" (must force) - ${users(id, 'a container')} is using its referenced image ${shortImageId(id)}`,
          { hint: 'remove the containers that use it first (gantry ps -a), or use --force to untag it anyway', detail: { image: id } });
      }
      untag(found.ref);
      if (referenceCount > 1 || inUse) {
        this.#commit(next);
        return results;
      }
    } else {
      if (tags.length > 1 && !force) {
        throw new GantryError('CONFLICT', `unable to delete ${shortImageId(id)} (must be forced) - image is referenced in multiple repositories`,
          { hint: `remove its tags one at a time (${tags.map((t) => `gantry rmi ${formatReference(parseReference(t), true)}`).join(', ')}) or use --force`, detail: { image: id } });
      }
      if (inUse && !force) {
        throw new GantryError('IMAGE_IN_USE', `unable to delete ${shortImageId(id)} (must be forced) - image is being used by ${users(id, 'a container')}`,
          { hint: 'remove the containers that use it first (gantry ps -a), or use --force to untag it anyway', detail: { image: id } });
      }
      for (const t of tags) untag(t);
      for (const d of [...entry.repoDigests]) untag(d);
      if (inUse) {
        this.#commit(next);
        return results;
      }
    }

    // The image goes: index first (the commit point), then layers and blobs no other image uses.
    const gone = this.#loaded.get(id);
    delete next.images[id];
    this.#commit(next);
    this.#loaded.delete(id);
    results.push({ Deleted: id });
    if (gone !== undefined) {
      const keepLayers = new Set<string>();
      const keepBlobs = new Set<string>();
      for (const other of this.#loaded.values()) {
        for (const l of other.layers) keepLayers.add(l.chainId);
        for (const d of blobsOf(other)) keepBlobs.add(d);
      }
      for (const layer of [...gone.layers].reverse()) {
        if (keepLayers.has(layer.chainId)) continue;
        this.layers.remove(layer.chainId);
        results.push({ Deleted: layer.chainId });
      }
      for (const d of blobsOf(gone)) if (!keepBlobs.has(d)) this.blobs.remove(d);
      const manifestDigest = entry.manifest;
      if (!keepBlobs.has(manifestDigest)) this.blobs.remove(manifestDigest);
    }
    return results;
  }

  #blobInUse(digest: string): boolean {
    for (const [id, img] of Object.entries(this.#index.images)) {
      if (img.manifest === digest) return true;
      const loaded = this.#loaded.get(id);
      if (loaded !== undefined && blobsOf(loaded).includes(digest)) return true;
    }
    return false;
  }

  #writeScheduled = false;

  /**
   * A change of tag times only (the same name on the same image again: a rebuild, a re-tag, a pull of what is here):
   * the in-memory index now, the file right after the request is answered (a crash in between loses only that time).
   */
  #commitTagTime(next: ImageIndexData): void {
    this.#index = next;
    this.#writeSoon();
  }

  /** Writes the in-memory index on the next turn of the loop (once, however many changes are made meanwhile). */
  #writeSoon(): void {
    if (this.#writeScheduled) return;
    this.#writeScheduled = true;
    setImmediate(() => {
      void this.#mutex.run(() => {
        this.#writeScheduled = false;
        this.#indexFile.save(this.#index, { flushLater: true });
      });
    });
  }

  /** Writes the index, then makes it the in-memory state. */
  #commit(next: ImageIndexData): void {
    this.#indexFile.save(next);
    this.#index = next;
  }

  #lookup(input: string): { id?: string; ref?: string } {
    if (/^sha256:[a-f0-9]+$/.test(input)) return { id: this.#byIdPrefix(input.slice(7), input) };
    if (/^[a-f0-9]{64}$/.test(input)) return { id: this.#byIdPrefix(input, input) };
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(input);
    } catch (e) {
      if (/^[a-f0-9]+$/.test(input)) return { id: this.#byIdPrefix(input, input) };
      throw e;
    }
    if (ref.digest !== undefined) {
      const full = `${repositoryName(ref, false)}@${ref.digest}`;
      for (const [id, img] of Object.entries(this.#index.images)) if (img.repoDigests.includes(full)) return { id, ref: full };
      // Not a recorded repo digest, but the manifest digest of a local image: found, as if by id.
      for (const [id, img] of Object.entries(this.#index.images)) if (img.manifest === ref.digest) return { id };
      return {};
    }
    const full = formatReference(ref, false);
    const id = this.#index.refs[full];
    if (id !== undefined && this.#index.images[id] !== undefined) return { id, ref: full };
    if (/^[a-f0-9]+$/.test(input)) return { id: this.#byIdPrefix(input, input) };
    return {};
  }

  #byIdPrefix(hex: string, input: string): string | undefined {
    if (hex.length < SHORT_ID_MIN) return undefined;
    const matches = Object.keys(this.#index.images).filter((id) => id.slice(7).startsWith(hex));
    if (matches.length > 1) {
      throw new GantryError('INVALID_ARGUMENT', `image id prefix "${input}" matches ${matches.length} images`, { hint: 'give more characters of the id (gantry images --no-trunc shows them whole)' });
    }
    return matches[0];
  }

  #record(id: string): ImageRecord {
    const entry = this.#index.images[id];
    const loaded = this.#loaded.get(id);
    if (entry === undefined || loaded === undefined) throw new Error(`image ${id} is not loaded`);
    const repoTags = Object.keys(this.#index.refs)
      .filter((r) => this.#index.refs[r] === id)
      .map((r) => formatReference(parseReference(r), true))
      .sort();
    return {
      id,
      manifestDigest: entry.manifest,
      repoTags,
      repoDigests: entry.repoDigests.map((d) => formatReference(parseReference(d), true)).sort(),
      created: loaded.config.created ?? entry.added,
      lastTagTime: entry.lastTagTime,
      manifest: loaded.manifest,
      config: loaded.config,
      layers: loaded.layers,
      size: loaded.layers.reduce((sum, l) => sum + l.size, 0),
    };
  }

  /** Loads a manifest, its config and its layers; a string says what is missing. */
  #loadImage(manifestDigest: string): Loaded | string {
    if (!this.blobs.has(manifestDigest)) return `manifest blob ${manifestDigest} is missing`;
    const manifest = this.blobs.readJson<OciManifest>(manifestDigest);
    if (manifest.schemaVersion !== 2 || !isDigest(manifest.config?.digest ?? '') || !Array.isArray(manifest.layers)) {
      return `blob ${manifestDigest} is not an image manifest`;
    }
    if (!this.blobs.has(manifest.config.digest)) return `config blob ${manifest.config.digest} is missing`;
    const config = this.blobs.readJson<OciImageConfig>(manifest.config.digest);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) return `config lists ${diffIds.length} layers, manifest ${manifest.layers.length}`;
    const layers: LayerRecord[] = [];
    for (const chainId of chainIds(diffIds)) {
      const layer = this.layers.get(chainId);
      if (layer === undefined) return `layer ${chainId} is not extracted`;
      layers.push(layer);
    }
    return { manifest, config, layers };
  }

  #loadAll(): void {
    const next = structuredClone(this.#index);
    let changed = false;
    for (const [id, entry] of Object.entries(this.#index.images)) {
      let loaded: Loaded | string;
      try {
        loaded = this.#loadImage(entry.manifest);
      } catch (e) {
        if (isGantryError(e) && e.code === 'STATE_TOO_NEW') throw e; // a newer gantry's layer: never drop or sweep it
        loaded = e instanceof Error ? e.message : String(e);
      }
      if (typeof loaded !== 'string' && loaded.manifest.config.digest === id) {
        this.#loaded.set(id, loaded);
        continue;
      }
      this.repairs.push(`image ${shortImageId(id)} dropped: ${typeof loaded === 'string' ? loaded : 'its manifest names another config'}`);
      delete next.images[id];
      for (const [ref, target] of Object.entries(next.refs)) if (target === id) delete next.refs[ref];
      changed = true;
    }
    for (const [ref, target] of Object.entries(next.refs)) {
      if (next.images[target] === undefined) { delete next.refs[ref]; changed = true; }
    }
    if (changed) this.#commit(next);
  }

  /** Removes layers and blobs no image references: leftovers of an operation a crash interrupted. */
  #sweepOrphans(): void {
    const keepLayers = new Set<string>();
    const keepBlobs = new Set<string>();
    for (const [id, img] of Object.entries(this.#index.images)) {
      keepBlobs.add(img.manifest);
      const loaded = this.#loaded.get(id);
      if (loaded === undefined) continue;
      for (const l of loaded.layers) keepLayers.add(l.chainId);
      for (const d of blobsOf(loaded)) keepBlobs.add(d);
    }
    for (const chainId of this.layers.list()) if (!keepLayers.has(chainId)) this.layers.remove(chainId);
    for (const digest of this.blobs.list()) if (!keepBlobs.has(digest)) this.blobs.remove(digest);
  }
}

function blobsOf(img: Loaded): string[] {
  return [img.manifest.config.digest, ...img.manifest.layers.map((l) => l.digest)];
}

/** A reference a tag can be created for: NAME[:TAG], not a digest. */
function parseTagReference(input: string): ImageReference {
  const ref = parseReference(input);
  if (ref.digest !== undefined) {
    throw new GantryError('INVALID_ARGUMENT', `refusing to create a tag with a digest reference: "${input}"`, { hint: 'give NAME[:TAG], e.g. myimage:1.0' });
  }
  return ref;
}

function importConfig(changes: Partial<ImageConfigFields> = {}): ImageConfigFields {
  const env = new Map<string, string>();
  for (const e of [DEFAULT_PATH_ENV, ...(changes.Env ?? [])]) env.set(e.split('=', 1)[0] ?? e, e);
  const config: ImageConfigFields = { ...structuredClone(changes), Env: [...env.values()] };
  for (const key of Object.keys(config) as Array<keyof ImageConfigFields>) if (config[key] === undefined) delete config[key];
  return config;
}

