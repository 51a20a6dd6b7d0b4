// What deployments need of the daemon: the stack service (up with --wait semantics, a dry-run plan, holding its
// repair loop), what the engine observes of a project, image ids, and the events bus. The daemon wires the real
// ones (src/daemon/deploy-port.ts); unit tests pass fakes.
import type { StackEvent, UpRequest } from '../daemon/stack-service.js';
import type { ObservedContainer, Operation, UpOptions } from '../reconcile/types.js';
import type { StackModel } from '../stack/model.js';

export interface StackPort {
  /** `up` as the CLI's `up --wait` runs it; resolves true when everything is up and healthy in time. */
  up(req: UpRequest, emit: (e: StackEvent) => void, signal: AbortSignal): Promise<boolean>;
  /** The operations an `up` with `options` would run now (nothing is changed). */
  plan(model: StackModel, options: UpOptions): Promise<readonly Operation[]>;
  /** Holds (true) or releases the stack service's own repair of a project. */
  setHeld(project: string, held: boolean): void;
  /** Removes the project's containers and networks (volumes are kept). */
  down(project: string): Promise<boolean>;
  containers(project: string): readonly ObservedContainer[];
  /** The image `ref` names now: its id and registry digests (undefined: not in the store). */
  image(ref: string): { id: string; repoDigests: readonly string[] } | undefined;
  event(action: string, name: string, attributes: Record<string, string>): void;
  /** Builds the image of every service that has `build:` (context in the checkout; the build cache makes an unchanged
   *  one cheap); the failure (service and why) or undefined. */
  build(model: StackModel, signal: AbortSignal): Promise<string | undefined>;
}
