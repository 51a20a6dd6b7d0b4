// `gantry save` (Docker's `GET /images/get`): images as one tar that is at once
//   - a docker-archive as `docker save` ≥ 25 writes it: `manifest.json` ([{Config, RepoTags, Layers}]) and
//     `repositories`, naming files under `blobs/sha256/` — what every `docker load` and `skopeo docker-archive:` read;
//   - an OCI image layout: `oci-layout`, `index.json` (one manifest per image, its name in the
//     `io.containerd.image.name` / `org.opencontainers.image.ref.name` annotations) and those blobs.
// Layers are written uncompressed (as Docker does: their digest is then the diff id); a gzip-stored layer is read
// twice, once to learn its size for the tar header, then to write it. The config blob is copied byte for byte, so
// the image id stays the same. Streamed: nothing is held in memory but the small JSON documents.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { detectCompression, type Compression } from '../images/layers.js';
import { createDecompressor } from '../images/inflate.js';
import { MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_TAR, MEDIA_TYPE_MANIFEST, digestHex, sha256Digest, type OciManifest } from '../images/oci.js';
import { parseReference, repositoryName } from '../images/reference.js';
import type { ImageRecord, ImageStore } from '../images/store.js';
import { BLOCK, encodeHeader, encodePaxHeader, paddedSize } from '../images/tar.js';

const OCTAL_SIZE_MAX = 0o77777777777;

function fileHeader(name: string, size: number): Buffer {
  const header = encodeHeader({ name, mode: 0o644, uid: 0, gid: 0, size: Math.min(size, OCTAL_SIZE_MAX), mtime: 0, type: '0', linkname: '', devmajor: 0, devminor: 0 });
  return size > OCTAL_SIZE_MAX ? Buffer.concat([encodePaxHeader([['size', String(size)]], name), header]) : header;
}

function dirHeader(name: string): Buffer {
  return encodeHeader({ name, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, type: '5', linkname: '', devmajor: 0, devminor: 0 });
}

function smallFile(name: string, data: Buffer): Buffer[] {
  return [fileHeader(name, data.length), data, Buffer.alloc(paddedSize(data.length) - data.length)];
}

/** The uncompressed bytes of a layer blob: the blob itself, or its decompressed content. */
function layerContent(path: string, compression: Compression): Readable {
  const file = createReadStream(path);
  if (compression === 'none') return file;
  const inflate = compression === 'gzip' ? createGunzip() : createDecompressor('zstd', undefined);
  file.on('error', (e) => inflate.destroy(e));
  return file.pipe(inflate);
}

async function countBytes(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

function compressionOf(path: string): Compression {
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try { return detectCompression(head.subarray(0, readSync(fd, head, 0, 8, 0))); } finally { closeSync(fd); }
}

/** Familiar `name:tag` → (repository without the default domain, tag), as `repositories` and RepoTags write it. */
function splitTag(tag: string): { repo: string; tag: string; full: string } {
  const ref = parseReference(tag);
  return { repo: repositoryName(ref, true), tag: ref.tag ?? 'latest', full: `${repositoryName(ref, false)}:${ref.tag ?? 'latest'}` };
}

/**
 * The archive of `images` (each with the tags to write: those the user named, or all of an image named by id).
 * Throws nothing once streaming: errors (a blob gone meanwhile) end the stream with an error.
 */
export function saveArchive(store: ImageStore, images: ReadonlyArray<{ image: ImageRecord; tags: readonly string[] }>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    const written = new Set<string>();
    yield dirHeader('blobs/');
    yield dirHeader('blobs/sha256/');
    const manifestJson: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    const index: Array<Record<string, unknown>> = [];
    for (const { image, tags } of images) {
      const diffIds = image.config.rootfs.diff_ids;
      const layerPaths: string[] = [];
      const descriptors: OciManifest['layers'] = [];
      for (const [i, stored] of image.manifest.layers.entries()) {
        const diffId = diffIds[i]!;
        const name = `blobs/sha256/${digestHex(diffId)}`;
        layerPaths.push(name);
        const path = store.blobs.path(stored.digest);
        const compression = compressionOf(path);
        const size = compression !== 'none' ? await countBytes(layerContent(path, compression)) : store.blobs.size(stored.digest);
        descriptors.push({ mediaType: MEDIA_TYPE_LAYER_TAR, digest: diffId, size });
        if (written.has(name)) continue;
        written.add(name);
        yield fileHeader(name, size);
        let sent = 0;
        for await (const chunk of layerContent(path, compression)) { sent += (chunk as Buffer).length; yield chunk as Buffer; }
        if (sent !== size) throw new Error(`layer ${diffId} changed while it was saved (${sent} bytes, expected ${size})`);
        yield Buffer.alloc(paddedSize(size) - size);
      }
      const configBytes = store.blobs.read(image.id);
      const configName = `blobs/sha256/${digestHex(image.id)}`;
      if (!written.has(configName)) { written.add(configName); yield* smallFile(configName, configBytes); }
      const manifest: OciManifest = {
        schemaVersion: 2, mediaType: MEDIA_TYPE_MANIFEST,
        config: { mediaType: MEDIA_TYPE_CONFIG, digest: image.id, size: configBytes.length }, layers: descriptors,
      };
      const manifestBytes = Buffer.from(JSON.stringify(manifest));
      const manifestDigest = sha256Digest(manifestBytes);
      const manifestName = `blobs/sha256/${digestHex(manifestDigest)}`;
      if (!written.has(manifestName)) { written.add(manifestName); yield* smallFile(manifestName, manifestBytes); }
      const named = tags.map(splitTag);
      manifestJson.push({ Config: configName, RepoTags: named.map((t) => `${t.repo}:${t.tag}`), Layers: layerPaths });
      const top = layerPaths[layerPaths.length - 1]?.slice('blobs/sha256/'.length) ?? '';
      for (const t of named) (repositories[t.repo] ??= {})[t.tag] = top;
      const descriptor = { mediaType: MEDIA_TYPE_MANIFEST, digest: manifestDigest, size: manifestBytes.length };
      if (named.length === 0) index.push(descriptor);
      for (const t of named) {
        index.push({ ...descriptor, annotations: { 'io.containerd.image.name': t.full, 'org.opencontainers.image.ref.name': t.tag } });
      }
    }
    yield* smallFile('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index })));
    yield* smallFile('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    yield* smallFile('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    yield* smallFile('repositories', Buffer.from(JSON.stringify(repositories)));
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(generate(), { objectMode: false });
}
