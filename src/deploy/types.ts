// The data of git deployments: a source (what the user asked for), its state (what the daemon did and saw), its
// revisions (what was applied). Plain JSON, stored in one versioned record per source (store.ts).
import type { StackModel } from '../stack/model.js';
import type { Diagnostic } from '../stack/diagnostic.js';

/** How git authenticates. Only file paths are kept: the secret itself is read at each use, never stored or sent. */
export type GitAuth =
  | { readonly kind: 'none' }
  /** A file holding a token, sent as an HTTP header through git's environment (never in the URL or argv). */
  | { readonly kind: 'token'; readonly tokenFile: string }
  /** An SSH private key and a known_hosts file (StrictHostKeyChecking=yes). */
  | { readonly kind: 'ssh'; readonly keyFile: string; readonly knownHostsFile: string };

export interface DeploySpec {
  /** The source's name; also the project name unless the stack file sets `name:`. */
  readonly name: string;
  readonly repo: string;
  /** A branch, a tag, or a full commit SHA (pinned: never polled). */
  readonly ref: string;
  /** Stack files or directories in the repository, relative to its root (empty: discovery at the root). */
  readonly paths: readonly string[];
  /** A host file of KEY=VALUE lines used for interpolation (the operator's, outside the repository). */
  readonly envFile: string | undefined;
  readonly intervalMs: number;
  /** How long a revision has to become healthy before it is rolled back. */
  readonly timeoutMs: number;
  readonly prune: boolean;
  readonly selfHeal: boolean;
  readonly auth: GitAuth;
  /** A host file holding the webhook secret; undefined: the webhook is off. */
  readonly webhookSecretFile: string | undefined;
}

export type SyncStatus = 'Synced' | 'OutOfSync' | 'Unknown';
export type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing';

export interface RevisionImage { readonly ref: string; readonly id: string | undefined; readonly repoDigests?: readonly string[] | undefined }

/** One applied (or attempted) commit. `model` is the rendered stack as applied. */
export interface Revision {
  readonly rev: number;
  readonly commit: string;
  readonly appliedAt: string;
  /** good: healthy within the timeout; bad: not (then rolled back when a good one existed); applying: interrupted. */
  readonly result: 'good' | 'bad' | 'applying';
  /** Why it ran: "new commit", "rollback to rev N", "self-heal", "restart". */
  readonly cause: string;
  readonly model: StackModel;
  /** Service → image reference, the image id (digest of its config) and its registry digests (REPO@sha256:…). */
  readonly images: Readonly<Record<string, RevisionImage>>;
  readonly message?: string | undefined;
}

export interface DeployState {
  /** Set by `rollback` and `suspend`: no automatic sync until `resume`. */
  readonly suspended: boolean;
  readonly suspendedReason: string | undefined;
  /** The commit the ref pointed at when last asked (undefined: never reached). */
  readonly latestCommit: string | undefined;
  /** The revision running now (good or not), and the last good one. */
  readonly appliedRev: number | undefined;
  readonly lastGoodRev: number | undefined;
  /** A commit that failed (invalid or unhealthy): not retried until the ref moves. */
  readonly failedCommit: string | undefined;
  /** A revision being applied: set before, cleared after; found set at start = the daemon died mid-apply. */
  readonly applying: { readonly commit: string; readonly rev: number } | undefined;
  readonly lastError: string | undefined;
  /** Stack diagnostics of the latest commit (errors and warnings), located in the checkout. */
  readonly diagnostics: readonly Diagnostic[];
  readonly consecutiveFailures: number;
  readonly lastPoll: string | undefined;
  readonly nextPoll: string | undefined;
  readonly nextRev: number;
}

export interface DeployRecord {
  readonly spec: DeploySpec;
  readonly state: DeployState;
  /** Newest last; at most MAX_REVISIONS. */
  readonly revisions: readonly Revision[];
  readonly created: string;
}

export const MAX_REVISIONS = 20;

export const INITIAL_STATE: DeployState = {
  suspended: false, suspendedReason: undefined, latestCommit: undefined, appliedRev: undefined, lastGoodRev: undefined,
  failedCommit: undefined, applying: undefined, lastError: undefined, diagnostics: [], consecutiveFailures: 0,
  lastPoll: undefined, nextPoll: undefined, nextRev: 1,
};

/** Per-service health as `deploy status` shows it. */
export interface ServiceStatus {
  readonly service: string;
  readonly health: Health;
  readonly detail: string;
  /** Against the running revision: drift of this service's containers (set by computeStatus). */
  readonly sync?: SyncStatus | undefined;
  readonly syncReason?: string | undefined;
}

/** What `deploy status` and `deploy ls` answer. */
export interface DeployStatus {
  readonly name: string;
  readonly project: string | undefined;
  readonly repo: string;
  readonly ref: string;
  readonly paths: readonly string[];
  readonly sync: SyncStatus;
  readonly syncReason: string;
  readonly health: Health;
  readonly services: readonly ServiceStatus[];
  readonly appliedCommit: string | undefined;
  readonly appliedRev: number | undefined;
  readonly latestCommit: string | undefined;
  readonly failedCommit: string | undefined;
  readonly suspended: boolean;
  readonly suspendedReason: string | undefined;
  readonly lastError: string | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly lastPoll: string | undefined;
  readonly nextPoll: string | undefined;
  readonly intervalMs: number;
  readonly prune: boolean;
  readonly selfHeal: boolean;
  readonly webhook: boolean;
}
