// The daemon's side of src/deploy/port.ts: deployments apply through the StackService (the reconciler) and read
// the engine through its interface.
import { join } from 'node:path';
import { BuildCache } from '../engine/build/cache.js';
import { CacheMounts } from '../engine/build/cache-mounts.js';
import { BuildExecutor } from '../engine/build/executor.js';
import type { Engine } from '../engine/engine.js';
import type { RegistryService } from '../engine/registry/service.js';
import type { StackModel } from '../stack/model.js';
import { engineOps } from '../reconcile/engine-ops.js';
import { DEFAULT_DOWN_OPTIONS, type Operation } from '../reconcile/types.js';
import type { StackPort } from '../deploy/port.js';
import type { StackService } from './stack-service.js';

/** The images of a deployed revision's `build:` services, built in the daemon from the checkout (as `up --build`). */
async function buildServices(model: StackModel, engine: Engine, root: string, registry: RegistryService | undefined, signal: AbortSignal,
  cache: BuildCache, cacheMounts: CacheMounts): Promise<string | undefined> {
  for (const [name, s] of Object.entries(model.services).sort(([a], [b]) => a.localeCompare(b))) {
    const b = s.build;
    if (b === undefined || s.image === undefined) continue;
    if (b.dockerfile_inline !== undefined) return `service ${name}: build.dockerfile_inline is not supported for deployments from git; commit the Dockerfile`;
    try {
      await new BuildExecutor({
        contextDir: b.context, dockerfile: b.dockerfile ?? 'Dockerfile', tags: [s.image, ...b.tags], buildArgs: new Map(Object.entries(b.args)),
        target: b.target, noCache: false, pull: false, labels: { ...b.labels }, signal,
        network: b.network === undefined || b.network === 'none' ? 'none' : b.network === 'host' ? 'host' : 'default',
      }, {
        engine, cache, cacheMounts, tmpDir: join(root, 'tmp'), limits: engine.images.layers.limits,
        pull: registry === undefined ? undefined : async (ref) => { await registry.pull({ reference: ref, credentials: undefined }, () => undefined); },
      }, () => undefined).run();
    } catch (e) {
      return `service ${name}: the build failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 1000);
    }
  }
  return undefined;
}

export function deployPort(stacks: StackService, engine: Engine, root: string, registry?: RegistryService): StackPort {
  const ops = engineOps(engine);
  // deployments' own RUN --mount=type=cache bookkeeping (the API's builds keep theirs: a cache dir locked by one is
  // not seen as locked by the other, and `builder prune` may remove one a deployment's build is using — rare)
  const cache = new BuildCache(root);
  const cacheMounts = new CacheMounts(cache.dir);
  return {
    build: (model, signal) => buildServices(model, engine, root, registry, signal, cache, cacheMounts),
    up: (req, emit, signal) => stacks.up(req, emit, signal),
    plan: async (model, options) => {
      let operations: readonly Operation[] = [];
      await stacks.up({ model, options, dryRun: true }, (e) => { if (e.kind === 'plan') operations = e.operations; }, new AbortController().signal);
      return operations;
    },
    setHeld: (project, held) => stacks.setHeld(project, held),
    down: (project) => stacks.down(project, { options: DEFAULT_DOWN_OPTIONS }, () => undefined, new AbortController().signal),
    containers: (project) => ops.observe(project, []).containers,
    image: (ref) => { const i = engine.images.resolve(ref); return i === undefined ? undefined : { id: i.id, repoDigests: i.repoDigests }; },
    event: (action, name, attributes) => engine.events.emit('deploy', action, name, { name, ...attributes }),
  };
}
