// The distribution API calls on one repository: manifests (capped, digest-checked), blobs (streamed), blob
// existence, uploads (monolithic, or mounted from another repository of the same registry), manifest upload.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { sha256Digest } from '../images/oci.js';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, parseManifest, tooLarge, type ManifestDocument } from './manifest.js';
import { drain, readCapped, registryError, type RegistryTransport } from './transport.js';

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  doc: ManifestDocument;
}

export class Repository {
  constructor(readonly transport: RegistryTransport, readonly path: string, readonly actions: 'pull' | 'pull,push') {}

  get scopes(): string[] {
    return [`repository:${this.path}:${this.actions}`];
  }

  /** GET a manifest by tag or digest; a digest reference must match the bytes. */
  async manifest(tagOrDigest: string, display: string): Promise<FetchedManifest> {
    const res = await this.transport.request('GET', `/v2/${this.path}/manifests/${tagOrDigest}`, { scopes: this.scopes, headers: { Accept: MANIFEST_ACCEPT } });
    if (res.statusCode !== 200) {
      const err = await registryError(res, this.transport.host, `manifest for ${display}`);
      if (err.code === 'NOT_FOUND') throw new GantryError('IMAGE_NOT_FOUND', `manifest for ${display} not found: manifest unknown`, { hint: 'check the name and tag; `skopeo list-tags` or the registry UI shows what exists' });
      if (err.code === 'UNAUTHORIZED') {
        throw new GantryError('UNAUTHORIZED', `pull access denied for ${display}, repository does not exist or may require 'gantry login'`, { hint: `gantry login ${this.transport.host} (or docker login) with an account that may read it` });
      }
      throw err;
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_MANIFEST_BYTES) { res.destroy(); throw tooLarge('manifest', declared); }
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, 'manifest');
    const digest = sha256Digest(bytes);
    if (tagOrDigest.startsWith('sha256:') && digest !== tagOrDigest) {
      throw new GantryError('INVALID_IMAGE_ARCHIVE', `the manifest ${display} has digest ${digest}, not the one asked for`, { hint: 'the registry sent other content than it names; do not trust it' });
    }
    const header = res.headers['content-type'];
    const doc = parseManifest(bytes, header);
    return { bytes, digest, mediaType: doc.mediaType, doc };
  }

  /**
   * The repository's tags (GET /v2/NAME/tags/list, following `Link: <…>; rel="next"` pages), capped at 4 MiB per
   * page and 10 000 tags in all; names that are not valid tags are dropped, never echoed.
   */
  async tags(display: string): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${this.path}/tags/list?n=1000`;
    for (let page = 0; next !== undefined && page < 100; page++) {
      const res = await this.transport.request('GET', next, { scopes: this.scopes });
      if (res.statusCode !== 200) {
        const err = await registryError(res, this.transport.host, `tags of ${display}`);
        if (err.code === 'NOT_FOUND') throw new GantryError('IMAGE_NOT_FOUND', `repository ${display} not found`, { hint: 'check the name' });
        throw err;
      }
      const link = String(res.headers['link'] ?? '');
      const body = JSON.parse((await readCapped(res, MAX_MANIFEST_BYTES, 'tag list')).toString('utf8')) as { tags?: unknown };
      for (const t of Array.isArray(body.tags) ? body.tags : []) {
        if (typeof t === 'string' && /^[\w][\w.-]{0,127}$/.test(t) && tags.length < 10_000) tags.push(t);
      }
      const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
      next = m?.[1]?.startsWith('/v2/') ? m[1] : undefined;
    }
    return tags;
  }

  /** A small blob (an image config), capped and digest-checked. */
  async smallBlob(digest: string): Promise<Buffer> {
    const res = await this.blob(digest);
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, 'image config');
    if (sha256Digest(bytes) !== digest) {
      throw new GantryError('INVALID_IMAGE_ARCHIVE', `the image config ${digest} does not match its digest`, { hint: 'the registry sent corrupt content; try again' });
    }
    return bytes;
  }

  /** A blob's response stream (redirects followed); from byte `from` on with a Range request (206 expected). */
  async blob(digest: string, from = 0): Promise<IncomingMessage> {
    const res = await this.transport.request('GET', `/v2/${this.path}/blobs/${digest}`, { scopes: this.scopes, ...(from > 0 ? { headers: { Range: `bytes=${from}-` } } : {}) });
    const expected = from > 0 ? 206 : 200;
    if (res.statusCode === expected) return res;
    if (from > 0 && res.statusCode === 200) {
      res.destroy();
      throw new GantryError('REGISTRY_ERROR', `${this.transport.host} cannot resume blob ${digest} (no range support)`, { hint: 'pull again' });
    }
    throw await registryError(res, this.transport.host, `blob ${digest}`);
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.transport.request('HEAD', `/v2/${this.path}/blobs/${digest}`, { scopes: this.scopes });
    if (res.statusCode !== 200 && res.statusCode !== 404) throw await registryError(res, this.transport.host, `blob ${digest}`);
    await drain(res);
    return res.statusCode === 200;
  }

  /**
   * Starts an upload; with `mountFrom`, asks the registry to mount the blob from that repository instead
   * (201: mounted, nothing to send). Returns the upload location otherwise.
   */
  async startUpload(digest: string, mountFrom?: string): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = mountFrom === undefined ? '' : `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`;
    const scopes = mountFrom === undefined ? this.scopes : [...this.scopes, `repository:${mountFrom}:pull`];
    const res = await this.transport.request('POST', `/v2/${this.path}/blobs/uploads/${query}`, { scopes, body: Buffer.alloc(0) });
    if (res.statusCode !== 202 && !(res.statusCode === 201 && mountFrom !== undefined)) throw await registryError(res, this.transport.host, `upload to ${this.path}`);
    await drain(res);
    if (res.statusCode === 201) return { mounted: true };
    const location = res.headers.location;
    if (location === undefined) throw new GantryError('REGISTRY_ERROR', `${this.transport.host} started an upload without a Location`, { hint: 'the registry does not follow the distribution spec' });
    return { mounted: false, location };
  }

  /** Finishes an upload in one PUT (monolithic), streaming the blob. */
  async putBlob(location: string, digest: string, size: number, body: () => Readable): Promise<void> {
    const url = new URL(location, await this.transport.base());
    url.searchParams.set('digest', digest);
    const res = await this.transport.request('PUT', url.href, {
      scopes: this.scopes, body, headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    });
    if (res.statusCode !== 201) throw await registryError(res, this.transport.host, `upload of blob ${digest}`);
    await drain(res);
  }

  async putManifest(tag: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.transport.request('PUT', `/v2/${this.path}/manifests/${tag}`, { scopes: this.scopes, body: bytes, headers: { 'Content-Type': mediaType } });
    if (res.statusCode !== 201) throw await registryError(res, this.transport.host, `manifest ${this.path}:${tag}`);
    await drain(res);
    return sha256Digest(bytes);
  }
}
