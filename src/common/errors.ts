// Typed errors with a stable code, a message for the user, and a hint saying what to do.
// Plain `Error` is reserved for bugs. Exit status is decided here, in one place.

/** Exit statuses of the CLI: 0 ok, 1 failure, 2 usage error (like docker). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Every error code the project uses, with the HTTP status the API maps it to. */
export const ERROR_CODES = {
  USAGE: 400,
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  IMAGE_NOT_FOUND: 404,
  CONTAINER_NOT_FOUND: 404,
  VOLUME_NOT_FOUND: 404,
  NETWORK_NOT_FOUND: 404,
  NAME_IN_USE: 409,
  CONFLICT: 409,
  CONTAINER_RUNNING: 409,
  CONTAINER_NOT_RUNNING: 409,
  VOLUME_IN_USE: 409,
  NETWORK_IN_USE: 409,
  IMAGE_IN_USE: 409,
  PORT_IN_USE: 409,
  SUBNET_OVERLAP: 409,
  ADDRESS_IN_USE: 409,
  BIND_SOURCE_MISSING: 400,
  COMMAND_NOT_FOUND: 400,
  COMMAND_NOT_EXECUTABLE: 400,
  INVALID_IMAGE_ARCHIVE: 400,
  STACK_INVALID: 400,
  STACK_NOT_FOUND: 404,
  STACK_LOCKED: 409,
  STACK_OBJECT_NOT_OURS: 409,
  DAEMON_UNREACHABLE: 503,
  DAEMON_START_FAILED: 503,
  SYSCALL_FAILED: 500,
  SHIM_FAILED: 500,
  STATE_CORRUPT: 500,
  STATE_TOO_NEW: 500,
  UNSUPPORTED: 501,
  UNSUPPORTED_LOG_DRIVER: 400,
  SECCOMP_PROFILE_INVALID: 400,
  TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  REGISTRY_ERROR: 502,
  /** A registry refused a pull (no or wrong credentials): 403, not 401, so Docker's CLI does not prompt for a login. */
  REGISTRY_DENIED: 403,
  NO_SPACE: 507,
  INTERNAL: 500,
  DOCKERFILE_SYNTAX: 400,
  DOCKERFILE_INVALID: 400,
  BUILD_CONTEXT_INVALID: 400,
  BUILD_SOURCE_NOT_FOUND: 400,
  BUILD_STEP_FAILED: 400,
  /** No usable kubeconfig, context or cluster for `stack deploy --to kubernetes`. */
  KUBE_CONFIG_INVALID: 400,
  /** The Kubernetes API server refused or failed a request. */
  KUBE_API_ERROR: 502,
  /** A deployed object did not become ready: its condition is in the message. */
  KUBE_ROLLOUT_FAILED: 500,
  /** A service's image exists only locally (built by `build:`), so the cluster cannot pull it. */
  KUBE_IMAGE_NOT_PUSHED: 400,
  DEPLOY_NOT_FOUND: 404,
  /** git could not reach the repository, fetch, or check out (deployments from git). */
  GIT_FAILED: 502,
  GIT_REF_NOT_FOUND: 404,
  /** A webhook call whose signature or token does not match (or a source without a webhook). */
  WEBHOOK_DENIED: 403,
  /** A `RUN --mount=type=secret,required=true` whose secret the build was not given. */
  BUILD_SECRET_MISSING: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GantryErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
  /** Extra machine-readable detail (e.g. the offending name), carried through the API. */
  detail?: Record<string, unknown> | undefined;
}

export class GantryError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.code = code;
    this.hint = options.hint;
    this.detail = options.detail;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

/** A usage error: bad flags or values on the command line. Exit status 2. */
export function usageError(message: string, hint?: string): GantryError {
  return new GantryError('USAGE', message, { hint });
}

export function isGantryError(e: unknown): e is GantryError {
  return e instanceof GantryError;
}

export function exitStatusFor(e: unknown): number {
  if (isGantryError(e) && (e.code === 'USAGE' || e.code === 'INVALID_ARGUMENT')) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** Errno name of a Node system error, e.g. "ENOENT", or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A failed system operation, phrased like crun: operation + object + errno. */
export function syscallError(operation: string, object: string, cause: unknown, hint?: string): GantryError {
  const errno = errnoCode(cause) ?? (cause instanceof Error ? cause.message : String(cause));
  return new GantryError('SYSCALL_FAILED', `${operation} \`${object}\`: ${errno}`, { cause, hint });
}

const NO_SPACE_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);

/**
 * A full disk or an exhausted quota anywhere below `e` (the error or its causes) as NO_SPACE; undefined when
 * `e` is not about space. Names the path the system error carries, else `where` when given.
 */
export function noSpaceError(e: unknown, where?: string): GantryError | undefined {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const errno = errnoCode(cur);
    if (errno !== undefined && NO_SPACE_ERRNOS.has(errno)) {
      const path = typeof cur === 'object' && 'path' in cur && typeof (cur as { path: unknown }).path === 'string' ? (cur as { path: string }).path : where;
      const what = errno === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
      return new GantryError('NO_SPACE', `${what}${path === undefined ? '' : ` while writing ${path}`}`, {
        cause: e, hint: 'free some space (gantry system prune, gantry rmi, or remove old logs) and try again',
      });
    }
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return undefined;
}
