// `gantry load` (Docker's `POST /images/load`): reads a docker-archive (`manifest.json`: legacy `<id>/layer.tar`
// and `<id>.json`, or Docker ≥ 25's `blobs/sha256/…`) or an OCI image layout (`index.json`, `oci-layout`), from an
// untrusted tar stream. The archive is spooled (spool.ts: no link followed, names checked, counts and JSON sizes
// capped), then each image goes into the store: its config copied byte for byte (the image id stays), each layer
// stored as it came (tar or gzip) and extracted with the layer checks, its content checked against the config's
// diff ids (and, in an OCI layout, every blob against its descriptor's digest). Layers not in the archive
// (foreign layers, `urls`) are never fetched.
import { createReadStream, mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { entryLabel } from '../images/entry-policy.js';
import { detectCompression, type Compression } from '../images/layers.js';
import {
  MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_LAYER_ZSTD, MEDIA_TYPE_MANIFEST, digestHex, hostPlatform, isDigest, sha256Digest,
  type OciDescriptor, type OciImageConfig,
} from '../images/oci.js';
import { formatReference, parseReference } from '../images/reference.js';
import type { ImageStore } from '../images/store.js';
import { ArchiveSpool, badArchive } from './spool.js';

export interface LoadedImage {
  id: string;
  /** Familiar `name:tag` references the archive gave it. */
  tags: string[];
}

interface ImageToLoad {
  /** The config bytes as the archive holds them. */
  config: Buffer;
  /** Per layer: the spooled file and, for an OCI layout, the descriptor its blob must match. */
  layers: Array<{ file: string; name: string; expected?: OciDescriptor | undefined }>;
  tags: string[];
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

function compressionOf(file: string): Compression {
  const head = Buffer.alloc(8);
  const fd = openSync(file, 'r');
  try { return detectCompression(head.subarray(0, readSync(fd, head, 0, 8, 0))); } finally { closeSync(fd); }
}

function stringArray(v: unknown, what: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badArchive(`has a ${what} that is not a list of strings`);
  return v;
}

/** A tag reference the archive names, in familiar form; undefined when it is not one (then the image is untagged). */
function tagOf(text: string): string | undefined {
  try {
    const ref = parseReference(text);
    return ref.digest === undefined ? formatReference(ref, true) : undefined;
  } catch {
    return undefined;
  }
}

function fromDockerManifest(spool: ArchiveSpool): ImageToLoad[] {
  const items = spool.readJson('manifest.json');
  if (!Array.isArray(items)) throw badArchive('manifest.json is not a list');
  return items.map((raw: unknown, i) => {
    const item = (raw ?? {}) as { Config?: unknown; RepoTags?: unknown; Layers?: unknown };
    if (typeof item.Config !== 'string') throw badArchive(`manifest.json entry ${i} names no Config`);
    const layers = stringArray(item.Layers, 'Layers list').map((name) => {
      const file = spool.resolve(name);
      if (file === undefined) throw badArchive(`has no layer file ${entryLabel(name)} (manifest.json names it)`);
      return { file: file.path, name };
    });
    const tags = stringArray(item.RepoTags, 'RepoTags list').map((t) => {
      const tag = tagOf(t);
      if (tag === undefined) throw badArchive(`names ${entryLabel(t)} in RepoTags, which is not NAME:TAG`);
      return tag;
    });
    return { config: spool.read(item.Config), layers, tags };
  });
}

/** A blob of an OCI layout, checked against its descriptor (digest, and size when small enough to read). */
function ociBlob(spool: ArchiveSpool, d: OciDescriptor): Buffer {
  if (!isDigest(d.digest)) throw badArchive(`names a blob by ${entryLabel(String(d.digest))}, not a sha256 digest`);
  const bytes = spool.read(`blobs/sha256/${digestHex(d.digest)}`);
  if (sha256Digest(bytes) !== d.digest) throw badArchive(`blob ${d.digest} does not match its digest`);
  return bytes;
}

function fromOciLayout(spool: ArchiveSpool): ImageToLoad[] {
  const platform = hostPlatform();
  const out: ImageToLoad[] = [];
  const visit = (index: { manifests?: unknown }, depth: number, inherited: string | undefined): void => {
    if (depth > 2 || !Array.isArray(index.manifests)) throw badArchive('has an index without a manifests list');
    for (const raw of index.manifests as unknown[]) {
      const d = (raw ?? {}) as OciDescriptor & { platform?: { os?: string; architecture?: string } };
      const names = d.annotations ?? {};
      const name = names['io.containerd.image.name'] ?? names['org.opencontainers.image.ref.name'];
      const tag = name === undefined ? inherited : tagOf(name) ?? inherited;
      if (INDEX_TYPES.has(d.mediaType)) { visit(JSON.parse(ociBlob(spool, d).toString('utf8')) as { manifests?: unknown }, depth + 1, tag); continue; }
      if (d.platform !== undefined && (d.platform.os !== platform.os || d.platform.architecture !== platform.architecture)) continue;
      const manifest = JSON.parse(ociBlob(spool, d).toString('utf8')) as { config?: OciDescriptor; layers?: OciDescriptor[] };
      if (manifest.config === undefined || !Array.isArray(manifest.layers)) throw badArchive(`manifest ${d.digest} is not an image manifest`);
      const layers = manifest.layers.map((l) => {
        const name = isDigest(l.digest) ? `blobs/sha256/${digestHex(l.digest)}` : '';
        const file = spool.resolve(name);
        if (file === undefined) throw badArchive(`has no blob for layer ${entryLabel(String(l.digest))}${(l as OciDescriptor & { urls?: unknown }).urls === undefined ? '' : ' (foreign layers are not fetched)'}`);
        return { file: file.path, name, expected: l };
      });
      const existing = out.find((o) => o.config.equals(ociBlob(spool, manifest.config!)));
      if (existing !== undefined) { if (tag !== undefined) existing.tags.push(tag); continue; }
      out.push({ config: ociBlob(spool, manifest.config), layers, tags: tag === undefined ? [] : [tag] });
    }
  };
  visit(spool.readJson('index.json') as { manifests?: unknown }, 0, undefined);
  return out;
}

async function storeImage(store: ImageStore, img: ImageToLoad): Promise<LoadedImage> {
  let config: OciImageConfig;
  try { config = JSON.parse(img.config.toString('utf8')) as OciImageConfig; } catch { throw badArchive('has an image config that is not JSON'); }
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== img.layers.length || !diffIds.every(isDigest)) {
    throw badArchive(`has an image config whose rootfs.diff_ids do not match its ${img.layers.length} layers`);
  }
  const descriptors: OciDescriptor[] = [];
  let parent: string | undefined;
  for (const [i, layer] of img.layers.entries()) {
    const compression = compressionOf(layer.file);
    const expected = layer.expected === undefined ? undefined : { digest: layer.expected.digest, size: layer.expected.size };
    const blob = await store.ingestBlob(createReadStream(layer.file), expected);
    const mediaType = compression === 'gzip' ? MEDIA_TYPE_LAYER_GZIP : compression === 'zstd' ? MEDIA_TYPE_LAYER_ZSTD : MEDIA_TYPE_LAYER_TAR;
    const rec = await store.addLayerFromBlob({ digest: blob.digest, mediaType }, { parent, expectedDiffId: diffIds[i] });
    parent = rec.chainId;
    descriptors.push({ mediaType, digest: blob.digest, size: blob.size });
  }
  const configBlob = await store.ingestBlob(img.config);
  const manifest = { schemaVersion: 2, mediaType: MEDIA_TYPE_MANIFEST, config: { mediaType: MEDIA_TYPE_CONFIG, digest: configBlob.digest, size: configBlob.size }, layers: descriptors };
  const manifestBlob = await store.ingestBlob(JSON.stringify(manifest));
  const rec = await store.registerManifest(manifestBlob.digest, { refs: img.tags });
  return { id: rec.id, tags: img.tags };
}

/** Loads every image of the archive `source`; `tmpDir` is the daemon's scratch dir (the spool is removed after). */
export async function loadArchive(store: ImageStore, source: Readable, tmpDir: string): Promise<LoadedImage[]> {
  const dir = mkdtempSync(join(tmpDir, 'load-'));
  try {
    const spool = new ArchiveSpool(dir);
    await pipeline(source, spool);
    const images = spool.has('manifest.json') ? fromDockerManifest(spool) : spool.has('index.json') ? fromOciLayout(spool) : undefined;
    if (images === undefined) throw badArchive('has neither manifest.json (docker-archive) nor index.json (OCI layout)');
    if (images.length === 0) throw badArchive('holds no image');
    const loaded: LoadedImage[] = [];
    for (const img of images) loaded.push(await storeImage(store, img));
    return loaded;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
