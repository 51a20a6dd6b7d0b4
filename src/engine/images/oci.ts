// OCI image-spec documents (manifest, config, descriptors) as typed values, plus the small pure helpers
// around them: media types, chain ids, the platform of this machine.
import { createHash } from 'node:crypto';

export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const MEDIA_TYPE_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
/** Docker's equivalents, which a registry may serve; accepted wherever the OCI ones are. */
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OciDescriptor {
  mediaType: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
  annotations?: Record<string, string>;
}

/** Docker's health check as it appears in an image config (durations in nanoseconds). */
export interface ImageHealthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The execution parameters of an image: the `config` member of an OCI image config (plus Docker's extras). */
export interface ImageConfigFields {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  /** Docker extensions, kept so build and commit can round-trip them. */
  Healthcheck?: ImageHealthcheck;
  Shell?: string[];
  OnBuild?: string[];
}

export interface OciHistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An OCI image config document (`application/vnd.oci.image.config.v1+json`). */
export interface OciImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  variant?: string;
  os: string;
  config?: ImageConfigFields;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: OciHistoryEntry[];
}

/** OCI architecture name of this machine (`amd64`, `arm64`, …) and its variant when it has one. */
export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  switch (process.arch) {
    case 'x64': return { os: 'linux', architecture: 'amd64' };
    case 'ia32': return { os: 'linux', architecture: '386' };
    case 'arm': return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'arm64': return { os: 'linux', architecture: 'arm64' };
    case 'ppc64': return { os: 'linux', architecture: 'ppc64le' };
    case 'mipsel': return { os: 'linux', architecture: 'mipsle' };
    default: return { os: 'linux', architecture: process.arch };
  }
}

export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Chain ids per the image spec: chain(L0) = diffID(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const parent = out[out.length - 1];
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** The 64 hex digits of a `sha256:` digest. */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new Error(`not a sha256 digest: ${digest}`);
  return digest.slice('sha256:'.length);
}

export function isLayerMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE_LAYER_GZIP || mediaType === MEDIA_TYPE_LAYER_TAR || mediaType === MEDIA_TYPE_DOCKER_LAYER_GZIP;
}
