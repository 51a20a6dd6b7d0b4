// `gantry push`: every blob the registry lacks (HEAD first), mounted from another repository of the same
// registry when the image came from there, else uploaded in one streamed PUT; then the manifest, byte for byte
// as stored, so an unchanged image keeps its digest.
import { GantryError } from '../../common/errors.js';
import { MEDIA_TYPE_MANIFEST, type OciDescriptor, type OciManifest } from '../images/oci.js';
import { formatReference, parseReference, repositoryName } from '../images/reference.js';
import { apiHost } from './endpoint.js';
import { PARALLEL_LAYERS, inParallel, type RegistryContext } from './pull.js';
import { ProgressCounter, progressBar, shortDigest, type Emit } from './progress.js';
import { Repository } from './repository.js';
import { RegistryTransport, type Credentials } from './transport.js';

export interface PushRequest {
  reference: string;
  credentials?: Credentials | undefined;
}

export interface PushResult {
  digest: string;
  /** Blob bytes sent to the registry (0 for an image it already holds). */
  uploaded: number;
}

export async function pushImage(ctx: RegistryContext, req: PushRequest, emit: Emit): Promise<PushResult> {
  const ref = parseReference(req.reference);
  if (ref.digest !== undefined || ref.tag === undefined) {
    throw new GantryError('INVALID_ARGUMENT', `cannot push a digest reference: ${req.reference}`, { hint: 'push NAME[:TAG]' });
  }
  const image = ctx.store.resolve(formatReference(ref, false));
  if (image === undefined) {
    throw new GantryError('IMAGE_NOT_FOUND', `an image does not exist locally with the tag: ${formatReference(ref)}`, { hint: `tag one first: gantry tag IMAGE ${formatReference(ref)}` });
  }
  const transport = new RegistryTransport(apiHost(ref.domain), ctx.settings, req.credentials, ctx.tokens);
  const repo = new Repository(transport, ref.path, 'pull,push');
  // Repositories of the same registry the image is known in: a blob may be mounted from them.
  const mountFrom = [...new Set(image.repoDigests.map((d) => parseReference(d)).filter((d) => d.domain === ref.domain && d.path !== ref.path).map((d) => d.path))];
  let uploaded = 0;
  try {
    emit({ status: `The push refers to repository [${repositoryName(ref, false)}]` });
    const manifestBytes = ctx.store.blobs.read(image.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString('utf8')) as OciManifest;
    const layers = [...manifest.layers].reverse();
    for (const l of layers) emit({ status: 'Preparing', progressDetail: {}, id: shortDigest(l.digest) });
    const pushBlob = async (d: OciDescriptor, shown: boolean): Promise<void> => {
      const id = shortDigest(d.digest);
      const say = (status: string, extra: Partial<Parameters<Emit>[0]> = {}): void => { if (shown) emit({ status, progressDetail: {}, id, ...extra }); };
      if (!ctx.store.blobs.has(d.digest)) {
        throw new GantryError('NOT_FOUND', `blob ${d.digest} of ${formatReference(ref)} is not in the local content store`, { hint: 'pull or import the image again' });
      }
      if (await repo.hasBlob(d.digest)) { say('Layer already exists'); return; }
      let location: string | undefined;
      for (const from of mountFrom) {
        const started = await repo.startUpload(d.digest, from);
        if (started.mounted) { say(`Mounted from ${from}`); return; }
        location = started.location;
        break; // the registry opened an upload instead: use it
      }
      location ??= ((await repo.startUpload(d.digest)) as { location: string }).location;
      const size = ctx.store.blobs.size(d.digest);
      say('Pushing', { progressDetail: { current: 0, total: size }, progress: progressBar(0, size) });
      let counter: ProgressCounter | undefined;
      await repo.putBlob(location, d.digest, size, () => {
        counter = new ProgressCounter((n) => say('Pushing', { progressDetail: { current: n, total: size }, progress: progressBar(n, size) }), size,
          () => new GantryError('STATE_CORRUPT', `blob ${d.digest} grew while it was pushed`));
        const src = ctx.store.blobs.openRead(d.digest);
        src.on('error', (e) => counter!.destroy(e));
        return src.pipe(counter);
      });
      uploaded += counter?.bytes ?? 0;
      say('Pushed');
    };
    await inParallel(layers, PARALLEL_LAYERS, (l) => pushBlob(l, true));
    await pushBlob(manifest.config, false);
    const mediaType = manifest.mediaType ?? MEDIA_TYPE_MANIFEST;
    const digest = await repo.putManifest(ref.tag, manifestBytes, mediaType);
    await ctx.store.addRepoDigests(image.id, [`${repositoryName(ref, false)}@${digest}`]);
    emit({ status: `${ref.tag}: digest: ${digest} size: ${manifestBytes.length}` });
    emit({ progressDetail: {}, aux: { Tag: ref.tag, Digest: digest, Size: manifestBytes.length } });
    return { digest, uploaded };
  } finally {
    transport.close();
  }
}
