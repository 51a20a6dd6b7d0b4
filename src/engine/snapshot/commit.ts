// `gantry commit` (Docker's `POST /commit`): the container's upper dir becomes a new layer on top of its image's,
// the config is the container's (command, env, user, workdir, labels, ports) with `--change` instructions applied,
// and the history gains an entry (CreatedBy: the container's command, as Docker writes it). A running container
// is frozen while its upper dir is read (`pause`, the default), so the layer is one moment of it.
import { createGzip } from 'node:zlib';
import type { ContainerView } from '../containers/record.js';
import { applyChanges } from '../images/instructions.js';
import { MEDIA_TYPE_LAYER_GZIP, type ImageConfigFields, type OciDescriptor, type OciImageConfig } from '../images/oci.js';
import type { ImageRecord, ImageStore } from '../images/store.js';
import { runtimeMountpointsIn, upperChanges } from './changes.js';
import { layerLimitsFromEnv } from '../images/limits.js';
import { upperAsLayer } from './upper-tar.js';

export interface CommitOptions {
  /** NAME[:TAG] to tag the new image with; untagged when absent (Docker's dangling image). */
  ref?: string | undefined;
  /** Dockerfile instructions (CMD, ENV, …), applied to the container's config. */
  changes?: readonly string[] | undefined;
  comment?: string | undefined;
  author?: string | undefined;
  /** Freeze a running container while its files are read (default true). */
  pause?: boolean | undefined;
}

export interface CommitDeps {
  images: ImageStore;
  upperDir: string;
  freeze: () => Promise<void>;
  thaw: () => Promise<void>;
}

/** The container's execution config as an image config: the image's, with what the container set. */
export function containerConfigFields(rec: ContainerView, image: ImageConfigFields): ImageConfigFields {
  const c = rec.config;
  const fields: ImageConfigFields = {
    ...structuredClone(image),
    Env: [...c.env],
    Cmd: [...c.cmd],
    Labels: { ...image.Labels, ...c.labels },
    ExposedPorts: { ...image.ExposedPorts, ...Object.fromEntries(c.exposedPorts.map((p) => [p.includes('/') ? p : `${p}/tcp`, {}])) },
  };
  if (c.entrypoint.length > 0) fields.Entrypoint = [...c.entrypoint]; else delete fields.Entrypoint;
  if (c.user !== '') fields.User = c.user;
  if (c.workingDir !== '') fields.WorkingDir = c.workingDir;
  if (c.stopSignal !== '' && (c.stopSignal !== 'SIGTERM' || image.StopSignal !== undefined)) fields.StopSignal = c.stopSignal;
  if (Object.keys(fields.Labels ?? {}).length === 0) delete fields.Labels;
  if (Object.keys(fields.ExposedPorts ?? {}).length === 0) delete fields.ExposedPorts;
  return fields;
}

/**
 * The container's changes as a gzip layer on top of its image's (no image made: the builder composes its own
 * config), or undefined when it changed nothing. The container must not run (nothing is frozen). `mountTargets`:
 * container paths of mounts whose runtime-made stubs are no change.
 */
export async function changesAsLayer(rec: ContainerView, deps: Pick<CommitDeps, 'images' | 'upperDir'>, mountTargets: readonly string[] = []): Promise<{ descriptor: OciDescriptor; diffId: string; chainId: string } | undefined> {
  const { images } = deps;
  const image = images.get(rec.config.imageId);
  const lowers = images.layerDirs(image);
  // `mountTargets`: where a build step's mounts were; the stubs the runtime made for them stay out (BuildKit's rule).
  const hidden = await runtimeMountpointsIn(deps.upperDir, lowers, mountTargets);
  if ((await upperChanges(deps.upperDir, lowers, layerLimitsFromEnv().maxEntries, hidden)).length === 0) return undefined;
  const { stream } = upperAsLayer(deps.upperDir, hidden);
  const gzip = createGzip();
  stream.on('error', (e) => gzip.destroy(e));
  const blob = await images.ingestBlob(stream.pipe(gzip));
  const top = image.layers[image.layers.length - 1];
  const layer = await images.addLayerFromBlob({ digest: blob.digest, mediaType: MEDIA_TYPE_LAYER_GZIP }, { parent: top?.chainId });
  return { descriptor: { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }, diffId: layer.diffId, chainId: layer.chainId };
}

export async function commitContainer(rec: ContainerView, opts: CommitOptions, deps: CommitDeps): Promise<ImageRecord> {
  const { images } = deps;
  const image = images.get(rec.config.imageId);
  // Everything the request says is checked before anything is read or frozen.
  const fields = applyChanges(containerConfigFields(rec, image.config.config ?? {}), opts.changes ?? []);
  if (opts.ref !== undefined) images.resolve(opts.ref); // throws for a malformed name
  const freeze = (opts.pause ?? true) && rec.state.status === 'running';
  if (freeze) await deps.freeze();
  let blob;
  try {
    // the runtime's mountpoints (empty /etc/hosts … the image lacks) stay out, as Docker's init layer keeps them out
    const { stream } = upperAsLayer(deps.upperDir, await runtimeMountpointsIn(deps.upperDir, images.layerDirs(image)));
    const gzip = createGzip();
    stream.on('error', (e) => gzip.destroy(e));
    blob = await images.ingestBlob(stream.pipe(gzip));
  } finally {
    if (freeze) await deps.thaw();
  }
  const top = image.layers[image.layers.length - 1];
  const layer = await images.addLayerFromBlob({ digest: blob.digest, mediaType: MEDIA_TYPE_LAYER_GZIP }, { parent: top?.chainId });
  const now = new Date().toISOString();
  const config: OciImageConfig = {
    ...structuredClone(image.config),
    created: now,
    config: fields,
    rootfs: { type: 'layers', diff_ids: [...image.config.rootfs.diff_ids, layer.diffId] },
    history: [...structuredClone(image.config.history ?? []), {
      created: now, created_by: rec.config.cmd.join(' '),
      ...(opts.author ? { author: opts.author } : {}), ...(opts.comment ? { comment: opts.comment } : {}),
    }],
  };
  if (opts.author) config.author = opts.author; else delete config.author;
  return images.addImage({
    config,
    layers: [...image.manifest.layers, { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: blob.digest, size: blob.size }],
    refs: opts.ref === undefined ? [] : [opts.ref],
  });
}
