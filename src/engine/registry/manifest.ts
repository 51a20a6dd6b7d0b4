// Manifests as registries serve them: Docker v2 schema 2 and OCI image manifests, Docker manifest lists and OCI
// indexes (with platform selection). Registry documents are untrusted: capped before parsing, shapes checked.
import { GantryError } from '../../common/errors.js';
import { assertZstdAvailable } from '../images/inflate.js';
import {
  MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_MANIFEST, isDigest, type OciDescriptor, type OciManifest,
} from '../images/oci.js';

export const MEDIA_TYPE_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
const MEDIA_TYPE_OCI_NONDISTRIBUTABLE = 'application/vnd.oci.image.layer.nondistributable.v1.tar';

/** What a pull asks for, best first (the registry answers with one of them). */
export const MANIFEST_ACCEPT = [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST].join(', ');

/** Manifests and configs larger than this are refused before they are parsed. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Platform { os: string; architecture: string; variant?: string | undefined }

export interface IndexEntry extends OciDescriptor { platform?: Platform | undefined }

export type ManifestDocument =
  | { kind: 'index'; mediaType: string; manifests: IndexEntry[] }
  | { kind: 'image'; mediaType: string; manifest: OciManifest };

function bad(what: string, why: string): GantryError {
  return new GantryError('INVALID_IMAGE_ARCHIVE', `the registry sent an invalid ${what}: ${why}`, { hint: 'the image in the registry is damaged or not a container image; ask its publisher' });
}

function isDescriptor(d: unknown): d is OciDescriptor {
  if (typeof d !== 'object' || d === null) return false;
  const o = d as Record<string, unknown>;
  return typeof o['mediaType'] === 'string' && typeof o['digest'] === 'string' && isDigest(o['digest'])
    && typeof o['size'] === 'number' && Number.isSafeInteger(o['size']) && o['size'] >= 0;
}

/** Parses manifest bytes; `contentType` (the response header) decides when the document has no mediaType. */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ManifestDocument {
  if (bytes.length > MAX_MANIFEST_BYTES) throw tooLarge('manifest', bytes.length);
  let doc: unknown;
  try { doc = JSON.parse(bytes.toString('utf8')); } catch { throw bad('manifest', 'it is not JSON'); }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('manifest', 'it is not a JSON object');
  const o = doc as Record<string, unknown>;
  const header = (contentType ?? '').split(';')[0]!.trim();
  const mediaType = typeof o['mediaType'] === 'string' ? o['mediaType'] : header;
  if (o['schemaVersion'] === 1) {
    throw new GantryError('UNSUPPORTED', 'the registry serves this image only as a Docker v2 schema 1 manifest, which gantry does not read', { hint: 'push the image again with a current client (schema 1 is deprecated)' });
  }
  if (o['schemaVersion'] !== 2) throw bad('manifest', 'schemaVersion is not 2');
  if (mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_LIST || (Array.isArray(o['manifests']) && o['config'] === undefined)) {
    const list = o['manifests'];
    if (!Array.isArray(list) || !list.every(isDescriptor)) throw bad('image index', 'its manifests are not descriptors');
    return { kind: 'index', mediaType, manifests: list as IndexEntry[] };
  }
  if (!isDescriptor(o['config'])) throw bad('manifest', 'it has no config descriptor');
  const layers = o['layers'];
  if (!Array.isArray(layers) || !layers.every(isDescriptor)) throw bad('manifest', 'its layers are not descriptors');
  return { kind: 'image', mediaType: mediaType || MEDIA_TYPE_MANIFEST, manifest: doc as OciManifest };
}

export function tooLarge(what: string, bytes: number | string): GantryError {
  return new GantryError('TOO_LARGE', `the registry sent a ${what} of ${bytes} bytes; more than ${MAX_MANIFEST_BYTES} are refused`, { hint: 'manifests and image configs are small documents; this registry or image is not trustworthy' });
}

/** `linux/arm64/v8` → a platform; `arm64` alone means linux/arm64. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/');
  if (parts.length === 1 && parts[0] !== '') return { os: 'linux', architecture: normalizeArch(parts[0]!).architecture, variant: normalizeArch(parts[0]!).variant };
  const [os, arch, variant] = parts;
  if (parts.length > 3 || !os || !arch || (parts.length === 3 && !variant)) {
    throw new GantryError('INVALID_ARGUMENT', `invalid platform "${text}"`, { hint: 'a platform looks like linux/amd64 or linux/arm64/v8' });
  }
  const n = normalizeArch(arch, variant);
  return { os, architecture: n.architecture, variant: n.variant };
}

/** containerd's normalisation: x86_64 → amd64, aarch64 → arm64 (variant v8 by default), armhf → arm/v7. */
function normalizeArch(arch: string, variant?: string): { architecture: string; variant: string | undefined } {
  switch (arch) {
    case 'x86_64': case 'x86-64': case 'amd64': return { architecture: 'amd64', variant: variant === 'v1' ? undefined : variant };
    case 'aarch64': case 'arm64': return { architecture: 'arm64', variant: variant === undefined || variant === '8' ? 'v8' : variant };
    case 'armhf': return { architecture: 'arm', variant: 'v7' };
    case 'armel': return { architecture: 'arm', variant: 'v6' };
    case 'arm': return { architecture: 'arm', variant: variant ?? 'v7' };
    case 'i386': case '386': return { architecture: '386', variant };
    default: return { architecture: arch, variant };
  }
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The manifest of an index for `want`: same os and architecture, and the variant when one is asked for. */
export function selectManifest(index: readonly IndexEntry[], want: Platform): IndexEntry {
  const candidates = index.filter((m) => m.platform !== undefined && m.platform.os === want.os
    && normalizeArch(m.platform.architecture, m.platform.variant).architecture === want.architecture);
  const variantOf = (m: IndexEntry): string | undefined => normalizeArch(m.platform!.architecture, m.platform!.variant).variant;
  const exact = candidates.find((m) => variantOf(m) === want.variant);
  const chosen = exact ?? (want.variant === undefined || want.architecture === 'arm64' ? candidates.find((m) => want.architecture !== 'arm64' || variantOf(m) === undefined || variantOf(m) === 'v8') : undefined);
  if (chosen !== undefined) return chosen;
  const offered = index.flatMap((m) => (m.platform === undefined || m.platform.architecture === 'unknown' ? [] : [formatPlatform(m.platform)]));
  throw new GantryError('NOT_FOUND', `no matching manifest for ${formatPlatform(want)} in the manifest list entries`, {
    hint: offered.length > 0 ? `the image is published for: ${[...new Set(offered)].join(', ')}; choose one with --platform` : 'the index lists no platforms',
  });
}

export type LayerKind = 'gzip' | 'zstd' | 'tar';

/** How a layer is decompressed, or why gantry does not fetch it. */
export function layerKind(d: OciDescriptor & { urls?: unknown }): LayerKind {
  if (d.mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER || d.mediaType.startsWith(MEDIA_TYPE_OCI_NONDISTRIBUTABLE) || Array.isArray(d.urls)) {
    throw new GantryError('UNSUPPORTED', `layer ${d.digest} is a foreign layer (its content lives outside the registry); gantry does not fetch foreign layer URLs`, {
      hint: 'push the image with its foreign layers included (e.g. skopeo copy with --dest-... or docker\'s allow-nondistributable-artifacts)',
    });
  }
  if (d.mediaType.endsWith('+zstd') || d.mediaType.endsWith('.zstd')) {
    assertZstdAvailable(`layer ${d.digest}`);
    return 'zstd';
  }
  if (d.mediaType.endsWith('.gzip') || d.mediaType.endsWith('+gzip')) return 'gzip';
  if (d.mediaType.endsWith('.tar') || d.mediaType.endsWith('.diff.tar')) return 'tar';
  throw new GantryError('UNSUPPORTED', `layer ${d.digest} has media type ${d.mediaType}, which is not an image layer gantry knows`, { hint: 'gantry pulls tar, tar+gzip and tar+zstd layers' });
}
