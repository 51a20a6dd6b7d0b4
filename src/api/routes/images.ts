// /images/... routes.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GantryError } from '../../common/errors.js';
import type { Engine } from '../../engine/engine.js';
import { applyChanges } from '../../engine/images/instructions.js';
import { UploadBudget } from '../../engine/images/limits.js';
import { DEFAULT_PATH_ENV } from '../../engine/images/oci.js';
import { parseReference } from '../../engine/images/reference.js';
import type { RegistryService } from '../../engine/registry/service.js';
import type { HostInfo } from './index.js';
import { pullRoute } from './registry.js';
import { imageFilter, referencePatternMatches } from '../docker/list-filters.js';
import { boolParam, filtersParam, type Router } from '../router.js';

export function imageRoutes(r: Router, engine: Engine, host: HostInfo, registry?: RegistryService, intermediates?: () => ReadonlySet<string>): void {
  const { images } = engine;
  r.add('GET', '/images/json', (ctx) => {
    const listed = images.list();
    const byRef = (ref: string): (typeof listed)[number] | undefined => {
      const rec = images.resolve(ref);
      return rec === undefined ? undefined : listed.find((i) => i.Id === rec.id);
    };
    // Without all=1, the builder's intermediate images (untagged, kept for its cache) are hidden, as Docker does.
    const hidden = boolParam(ctx.query, 'all') || intermediates === undefined ? new Set<string>() : intermediates();
    const filters = filtersParam(ctx.query);
    const shown = listed.filter((i) => (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>').length > 0 || !hidden.has(i.Id)).filter(imageFilter(filters, byRef));
    // With a reference filter an image lists only its matching tags (Docker's rule: `images REPO` shows REPO's rows).
    const patterns = filters['reference'] ?? [];
    if (patterns.length === 0) return shown;
    return shown.map((i) => ({ ...i, RepoTags: (i.RepoTags ?? []).filter((t) => patterns.some((p) => referencePatternMatches(p, t))) }));
  });
  r.add('GET', '/images/{name}/json', (ctx) => images.inspect(ctx.params['name']!));
  r.add('POST', '/images/{name}/tag', async (ctx) => {
    const repo = ctx.query.get('repo');
    if (!repo) throw new GantryError('INVALID_ARGUMENT', 'tag needs a repository name', { hint: 'gantry tag SOURCE TARGET[:TAG]' });
    const tag = ctx.query.get('tag');
    const target = tag ? `${repo}:${tag}` : repo;
    const rec = await images.tag(ctx.params['name']!, target);
    engine.events.emit('image', 'tag', rec.id, { name: target });
    return undefined;
  }, { status: 201 });
  r.add('DELETE', '/images/{name}', async (ctx) => {
    const removed = await images.remove(ctx.params['name']!, {
      force: boolParam(ctx.query, 'force'), isInUse: (id: string) => engine.imageInUse(id),
      usedBy: (id: string) => engine.containers().filter((c) => c.config.imageId === id)
        .map((c) => `${c.state.status === 'running' ? 'running' : 'stopped'} container ${c.id.slice(0, 12)} (${c.name})`),
    });
    for (const item of removed) {
      if (item.Untagged !== undefined) engine.events.emit('image', 'untag', item.Untagged, { name: item.Untagged });
      if (item.Deleted !== undefined) engine.events.emit('image', 'delete', item.Deleted, { name: item.Deleted });
    }
    return removed;
  });
  // Import (docker import): POST /images/create?fromSrc=-&repo=NAME&tag=TAG with the tarball as the body.
  r.add('POST', '/images/create', async (ctx) => {
    if (ctx.query.get('fromSrc') !== '-') {
      if (registry !== undefined && ctx.query.get('fromImage') !== null) return pullRoute(ctx, registry);
      throw new GantryError('UNSUPPORTED', 'only import (fromSrc=-) and pull (fromImage=) are supported', { hint: 'import a root filesystem tarball with `gantry import FILE NAME[:TAG]`, or `gantry pull NAME`' });
    }
    const repo = ctx.query.get('repo');
    const tag = ctx.query.get('tag');
    const ref = repo ? (tag ? `${repo}:${tag}` : repo) : undefined;
    // Everything the request says is checked before a byte of the upload is read.
    if (ref !== undefined) parseReference(ref);
    const config = applyChanges({ Env: [DEFAULT_PATH_ENV] }, ctx.query.getAll('changes'));
    const tmp = mkdtempSync(join(host.root, 'tmp', 'import-'));
    try {
      const file = join(tmp, 'rootfs.tar');
      await pipeline(ctx.req, new UploadBudget(images.layers.limits), createWriteStream(file));
      const rec = await images.importTarball(file, ref, { message: ctx.query.get('message') || undefined, changes: config, source: '-' });
      if (ref !== undefined) engine.events.emit('image', 'import', rec.id, { name: ref });
      else engine.events.emit('image', 'import', rec.id, {});
      return { status: rec.id };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, { rawBody: true });
}

