// /volumes/... routes.
import type { Engine } from '../../engine/engine.js';
import { volumeFilter } from '../docker/list-filters.js';
import { filtersParam, type Router } from '../router.js';
import { newId } from '../../common/ids.js';

export function volumeRoutes(r: Router, engine: Engine): void {
  const { volumes } = engine;
  r.add('GET', '/volumes', (ctx) => {
    const matches = volumeFilter(filtersParam(ctx.query), (name) => engine.volumeUsers(name).length > 0);
    return { Volumes: volumes.list().filter(matches).map((v) => volumes.inspect(v.name)), Warnings: [] };
  });
  r.add('POST', '/volumes/create', (ctx) => {
    const body = (ctx.body ?? {}) as { Name?: string; Labels?: Record<string, string>; DriverOpts?: Record<string, string> };
    const rec = engine.createVolume(body.Name || newId(), { labels: body.Labels ?? {}, options: body.DriverOpts ?? {}, anonymous: !body.Name });
    return volumes.inspect(rec.name);
  }, { status: 201 });
  r.add('GET', '/volumes/{name}', (ctx) => volumes.inspect(ctx.params['name']!));
  r.add('DELETE', '/volumes/{name}', (ctx) => {
    engine.removeVolume(ctx.params['name']!);
    return undefined;
  }, { status: 204 });
}
