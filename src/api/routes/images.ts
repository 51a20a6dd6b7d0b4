// /images/... routes.
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GantryError } from '../../common/errors.js';
import type { Engine } from '../../engine/engine.js';
import { UploadBudget } from '../../engine/images/limits.js';
import type { HostInfo } from './index.js';
import { imageFilter } from '../docker/list-filters.js';
import { boolParam, filtersParam, type Router } from '../router.js';

export function imageRoutes(r: Router, engine: Engine, host: HostInfo): void {
  const { images } = engine;
  r.add('GET', '/images/json', (ctx) => {
    const listed = images.list();
    const byRef = (ref: string): (typeof listed)[number] | undefined => {
      const rec = images.resolve(ref);
      return rec === undefined ? undefined : listed.find((i) => i.Id === rec.id);
    };
    return listed.filter(imageFilter(filtersParam(ctx.query), byRef));
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
    const removed = await images.remove(ctx.params['name']!, { force: boolParam(ctx.query, 'force'), isInUse: (id: string) => engine.imageInUse(id) });
    for (const item of removed) {
      if (item.Untagged !== undefined) engine.events.emit('image', 'untag', item.Untagged, { name: item.Untagged });
      if (item.Deleted !== undefined) engine.events.emit('image', 'delete', item.Deleted, { name: item.Deleted });
    }
    return removed;
  });
  // Import (docker import): POST /images/create?fromSrc=-&repo=NAME&tag=TAG with the tarball as the body.
  r.add('POST', '/images/create', async (ctx) => {
    if (ctx.query.get('fromSrc') !== '-') {
      throw new GantryError('UNSUPPORTED', 'pulling from a registry is not implemented yet', { hint: 'import a root filesystem tarball with `gantry import FILE NAME[:TAG]`' });
    }
    const repo = ctx.query.get('repo');
    if (!repo) throw new GantryError('INVALID_ARGUMENT', 'import needs a repository name');
    const tag = ctx.query.get('tag');
    const tmp = mkdtempSync(join(host.root, 'tmp', 'import-'));
    try {
      const file = join(tmp, 'rootfs.tar');
      await pipeline(ctx.req, new UploadBudget(images.layers.limits), createWriteStream(file));
      const changes = ctx.query.getAll('changes');
      const ref = tag ? `${repo}:${tag}` : repo;
      const rec = await images.importTarball(file, ref, { message: ctx.query.get('message') ?? undefined, ...(changes.length ? { changes: parseChanges(changes) } : {}) });
      engine.events.emit('image', 'import', rec.id, { name: ref });
      return { status: rec.id };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, { rawBody: true });
}

/** `--change 'CMD ["sh"]'` style Dockerfile instructions for import: CMD, ENTRYPOINT, ENV, WORKDIR, USER. */
function parseChanges(changes: string[]): Record<string, unknown> {
  const out: { Cmd?: string[]; Entrypoint?: string[]; Env?: string[]; WorkingDir?: string; User?: string; Volumes?: Record<string, Record<string, never>> } = {};
  const argv = (s: string): string[] => (s.trim().startsWith('[') ? JSON.parse(s) as string[] : ['/bin/sh', '-c', s.trim()]);
  for (const c of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(c);
    if (!m) throw new GantryError('USAGE', `invalid --change "${c}"`);
    const [, instr, arg] = m as unknown as [string, string, string];
    switch (instr.toUpperCase()) {
      case 'CMD': out.Cmd = argv(arg); break;
      case 'ENTRYPOINT': out.Entrypoint = argv(arg); break;
      case 'ENV': (out.Env ??= []).push(arg.includes('=') ? arg.trim() : arg.trim().replace(/\s+/, '=')); break;
      case 'WORKDIR': out.WorkingDir = arg.trim(); break;
      case 'USER': out.User = arg.trim(); break;
      case 'VOLUME': for (const v of arg.trim().startsWith('[') ? JSON.parse(arg) as string[] : arg.trim().split(/\s+/)) (out.Volumes ??= {})[v] = {}; break;
      default: throw new GantryError('USAGE', `unsupported --change instruction ${instr}`, { hint: 'supported: CMD, ENTRYPOINT, ENV, WORKDIR, USER, VOLUME' });
    }
  }
  return out;
}
