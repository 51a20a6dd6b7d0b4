// The local image store: OCI content store, extracted layers in overlay form, references.
export { ImageStore } from './store.js';
export type { ImageRecord, ImportOptions, RemoveOptions, RemoveResultItem, AddImageOptions, RegisterOptions } from './store.js';
export type { LayerRecord, Compression, ExtractOptions } from './layers.js';
export { LayerStore, detectCompression } from './layers.js';
export { BlobStore } from './blobs.js';
export type { BlobInfo } from './blobs.js';
export {
  parseReference, formatReference, repositoryName, normalizeReference, familiarReference, DEFAULT_DOMAIN, DEFAULT_TAG,
} from './reference.js';
export type { ImageReference } from './reference.js';
export {
  MEDIA_TYPE_MANIFEST, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR,
  MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_DOCKER_CONFIG, MEDIA_TYPE_DOCKER_LAYER_GZIP,
  DEFAULT_PATH_ENV, chainIds, hostPlatform, sha256Digest, isDigest, isLayerMediaType,
} from './oci.js';
export type { ImageConfigFields, ImageHealthcheck, OciDescriptor, OciImageConfig, OciManifest, OciHistoryEntry } from './oci.js';
export { WhiteoutTransform, OPAQUE_XATTR, WHITEOUT_PREFIX, OPAQUE_MARKER } from './whiteouts.js';
export type { LayerStats } from './whiteouts.js';
export { DEFAULT_LAYER_LIMITS, LayerBudget, UploadBudget, layerLimitsFromEnv, RATIO_FLOOR_BYTES } from './limits.js';
export type { LayerLimits } from './limits.js';
