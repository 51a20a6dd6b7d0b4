// Docker's restart policy semantics, as pure decisions (unit-tested without a clock).

import type { RestartPolicy } from './record.js';

export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
/** A container that ran this long counts as healthy: its backoff resets. */
export const BACKOFF_RESET_AFTER_MS = 10_000;

export interface ExitFacts {
  exitCode: number;
  /** Stopped by `stop`/`kill` from a user. */
  manuallyStopped: boolean;
  /** Restarts already done under this policy (on-failure's counter). */
  restartCount: number;
  /** The daemon is shutting down / starting up: different rules for `always` vs `unless-stopped`. */
  daemonStarting?: boolean;
}

export function shouldRestart(policy: RestartPolicy, f: ExitFacts): boolean {
  switch (policy.name) {
    case 'no':
      return false;
    case 'always':
      // A manual stop holds until the container is started again — or the daemon restarts (docker's rule).
      return !f.manuallyStopped || f.daemonStarting === true;
    case 'unless-stopped':
      return !f.manuallyStopped;
    case 'on-failure':
      if (f.manuallyStopped || f.exitCode === 0) return false;
      return policy.maximumRetryCount <= 0 || f.restartCount < policy.maximumRetryCount;
  }
}

/** Next delay: 100 ms doubling to 1 min; reset to 100 ms when the last run lasted ≥ 10 s. */
export function nextBackoff(previousDelayMs: number, ranForMs: number): number {
  if (ranForMs >= BACKOFF_RESET_AFTER_MS || previousDelayMs <= 0) return BACKOFF_START_MS;
  return Math.min(previousDelayMs * 2, BACKOFF_MAX_MS);
}

/** "on-failure:3" → policy; throws nothing: validation is the CLI's job. */
export function parseRestartPolicy(text: string): RestartPolicy | undefined {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(text);
  if (!m) return undefined;
  if (m[2] !== undefined && m[1] !== 'on-failure') return undefined;
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
}
