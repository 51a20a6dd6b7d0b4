// The reconciler's data: what the engine has (ObservedState), what to do (Plan), and the knobs (options).
// Plain JSON-able data, so a plan can be printed, sent over the API and asserted as text.

export type ObservedStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'removing' | 'dead';

export interface ObservedContainer {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly number: number;
  readonly oneOff: boolean;
  readonly configHash: string;
  readonly imageId: string;
  readonly status: ObservedStatus;
  readonly health: 'starting' | 'healthy' | 'unhealthy' | undefined;
  readonly exitCode: number;
}

export interface ObservedNetwork {
  readonly name: string;
  /** The `gantry.project` label, when the network belongs to a stack. */
  readonly project: string | undefined;
}

export interface ObservedVolume {
  readonly name: string;
  readonly project: string | undefined;
}

/** What the engine has for one project (containers by label) and the networks/volumes/images it knows. */
export interface ObservedState {
  readonly project: string;
  readonly containers: readonly ObservedContainer[];
  readonly networks: readonly ObservedNetwork[];
  readonly volumes: readonly ObservedVolume[];
  /** Image reference → current image id (undefined: not present on the engine). */
  readonly images: Readonly<Record<string, string | undefined>>;
}

export interface UpOptions {
  /** Services named on the command line (empty: all enabled services). */
  readonly services: readonly string[];
  /** Do not bring up the dependencies of the named services. */
  readonly noDeps: boolean;
  readonly forceRecreate: boolean;
  readonly noRecreate: boolean;
  readonly removeOrphans: boolean;
  /** --scale SVC=N, overriding deploy.replicas. */
  readonly scale: Readonly<Record<string, number>>;
  /** Start containers that exist but are not running (false when the daemon repairs drift: a stopped
   *  container stays stopped, its restart policy decides). */
  readonly startStopped: boolean;
  /** -V: a recreated or created container gets new anonymous volumes instead of taking over the old or left ones. */
  readonly renewAnonVolumes?: boolean | undefined;
}

export interface DownOptions {
  readonly removeVolumes: boolean;
  readonly removeOrphans: boolean;
  /** Stop timeout in seconds (undefined: each service's stop_grace_period). */
  readonly timeout: number | undefined;
}

export const DEFAULT_UP_OPTIONS: UpOptions = {
  services: [], noDeps: false, forceRecreate: false, noRecreate: false, removeOrphans: false, scale: {}, startStopped: true,
};

export const DEFAULT_DOWN_OPTIONS: DownOptions = { removeVolumes: false, removeOrphans: false, timeout: undefined };

export type OperationType =
  | 'create-network' | 'remove-network'
  | 'create-volume' | 'remove-volume'
  | 'create-container' | 'recreate-container' | 'replace-container' | 'start-container' | 'stop-container' | 'remove-container'
  | 'wait-container';

export type WaitCondition = 'healthy' | 'completed';

export interface Operation {
  /** 1-based, unique in the plan; `dependsOn` refers to these. */
  readonly id: number;
  readonly type: OperationType;
  /** `network:<name>`, `volume:<name>`, `container:<name>`. */
  readonly resource: string;
  /** Why the step exists: "not found", "config hash changed", "scale 3 → 1", "orphan", ... */
  readonly cause: string;
  readonly dependsOn: readonly number[];
  /** Service key (container operations). */
  readonly service?: string | undefined;
  readonly number?: number | undefined;
  /** Id of the existing container this step acts on (start/stop/remove/recreate/wait). */
  readonly containerId?: string | undefined;
  /** Network or volume key in the stack (create-*), or engine name (remove-*). */
  readonly key?: string | undefined;
  readonly waitFor?: WaitCondition | undefined;
  /** Stop timeout, seconds (stop/recreate). */
  readonly timeout?: number | undefined;
  /** remove-container: its anonymous volumes go too (down -v); recreate-/create-container: the old or left ones
   *  are not taken over (-V). */
  readonly removeVolumes?: boolean | undefined;
  /** Ordering only: runs after these finished, whatever their outcome (update_config failure_action: continue). */
  readonly after?: readonly number[] | undefined;
  /** replace-container (deploy.update_config): the order, whether a failure puts the old container back, how long
   *  the new one must keep running, and the wait before it begins (update_config.delay, from the second group on). */
  readonly order?: 'stop-first' | 'start-first' | undefined;
  readonly rollback?: boolean | undefined;
  readonly monitorMs?: number | undefined;
  readonly delayMs?: number | undefined;
}

/** Why a plan cannot be applied at all (nothing is done): e.g. a network of the stack's name that is not ours. */
export interface PlanError {
  readonly code: 'STACK_OBJECT_NOT_OURS';
  /** `network:<name>`, `volume:<name>`. */
  readonly resource: string;
  readonly message: string;
  readonly hint: string;
}

export interface Plan {
  readonly project: string;
  /** Empty when `errors` is not. */
  readonly operations: readonly Operation[];
  /** Things the user should know that change nothing (e.g. orphans left in place). */
  readonly warnings: readonly string[];
  readonly errors: readonly PlanError[];
}
