// The daemon's side of src/deploy/port.ts: deployments apply through the StackService (the reconciler) and read
// the engine through its interface.
import type { Engine } from '../engine/engine.js';
import { engineOps } from '../reconcile/engine-ops.js';
import { DEFAULT_DOWN_OPTIONS, type Operation } from '../reconcile/types.js';
import type { StackPort } from '../deploy/port.js';
import type { StackService } from './stack-service.js';

export function deployPort(stacks: StackService, engine: Engine): StackPort {
  const ops = engineOps(engine);
  return {
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
