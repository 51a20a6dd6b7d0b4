// Every API route, in one router. Routes translate HTTP to Engine calls (src/engine/engine.ts) and nothing else.
import type { StackService } from '../../daemon/stack-service.js';
import type { Engine } from '../../engine/engine.js';
import { Router } from '../router.js';
import { BuildCache } from '../../engine/build/cache.js';
import { buildRoutes } from './build.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { snapshotRoutes } from './snapshots.js';
import { registryRoutes } from './registry.js';
import type { RegistryService } from '../../engine/registry/service.js';
import { stackRoutes } from './stacks.js';
import { deployRoutes } from './deploy.js';
import type { DeployService } from '../../deploy/service.js';
import { systemRoutes } from './system.js';
import { volumeRoutes } from './volumes.js';

/** What /info and image import need to know of the daemon itself. */
export interface HostInfo {
  prefix: string;
  root: string;
  cgroupVersion: 1 | 2;
  /** Things the operator should know now: cgroup detection notes, refused state records. */
  warnings: () => string[];
}

export function buildRouter(engine: Engine, stacks: StackService, host: HostInfo, registry?: RegistryService, deploy?: DeployService): Router {
  const r = new Router();
  systemRoutes(r, engine, host);
  containerRoutes(r, engine);
  const buildCache = new BuildCache(host.root);
  imageRoutes(r, engine, host, registry, () => buildCache.imageIds());
  if (registry !== undefined) registryRoutes(r, engine, registry);
  volumeRoutes(r, engine);
  stackRoutes(r, engine, stacks);
  if (deploy !== undefined) deployRoutes(r, deploy);
  networkRoutes(r, engine);
  snapshotRoutes(r, engine);
  buildRoutes(r, engine, host, registry, buildCache);
  return r;
}
