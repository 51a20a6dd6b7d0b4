// Every API route, in one router.
import type { Engine } from '../../daemon/engine.js';
import { Router } from '../router.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { networkRoutes } from './networks.js';
import { stackRoutes } from './stacks.js';
import { systemRoutes } from './system.js';
import { volumeRoutes } from './volumes.js';

export function buildRouter(engine: Engine): Router {
  const r = new Router();
  systemRoutes(r, engine);
  containerRoutes(r, engine);
  imageRoutes(r, engine);
  volumeRoutes(r, engine);
  stackRoutes(r, engine);
  networkRoutes(r, engine);
  return r;
}
