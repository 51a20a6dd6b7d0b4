// When a deployed workload is done, still going, or failed, read from the status the cluster reports (pure).

import type { KubeObject } from './types.js';

export type RolloutState =
  | { readonly state: 'done'; readonly progress: string }
  | { readonly state: 'waiting'; readonly progress: string }
  | { readonly state: 'failed'; readonly condition: string };

interface Condition { readonly type?: string; readonly status?: string; readonly reason?: string; readonly message?: string }

type Json = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function conditions(status: Json): Condition[] {
  return Array.isArray(status['conditions']) ? (status['conditions'] as Condition[]) : [];
}

function describe(c: Condition): string {
  return `${c.type ?? '?'}=${c.status ?? '?'}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;
}

/** The kinds whose rollout `stack deploy` waits for. */
export const WAITED_KINDS = new Set(['Deployment', 'StatefulSet', 'Job']);

export function rolloutState(o: KubeObject): RolloutState {
  const spec = (o['spec'] ?? {}) as Json;
  const status = (o['status'] ?? {}) as Json;
  const generation = num((o.metadata as unknown as Json)['generation']);
  const observed = num(status['observedGeneration']);
  const fresh = generation === 0 || observed >= generation;
  const want = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  switch (o.kind) {
    case 'Deployment': {
      const stuck = conditions(status).find((c) => c.type === 'Progressing' && c.status === 'False');
      if (stuck !== undefined) return { state: 'failed', condition: describe(stuck) };
      const updated = num(status['updatedReplicas']);
      const available = num(status['availableReplicas']);
      const total = num(status['replicas']);
      const progress = `${available}/${want} available, ${updated}/${want} updated`;
      return fresh && updated >= want && available >= want && total <= updated ? { state: 'done', progress } : { state: 'waiting', progress };
    }
    case 'StatefulSet': {
      const ready = num(status['readyReplicas']);
      const updated = status['updateRevision'] === undefined || status['updateRevision'] === status['currentRevision'] ? ready : num(status['updatedReplicas']);
      const progress = `${ready}/${want} ready`;
      return fresh && ready >= want && updated >= want ? { state: 'done', progress } : { state: 'waiting', progress };
    }
    case 'Job': {
      const cs = conditions(status);
      const failed = cs.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed !== undefined) return { state: 'failed', condition: describe(failed) };
      if (cs.some((c) => c.type === 'Complete' && c.status === 'True')) return { state: 'done', progress: 'complete' };
      return { state: 'waiting', progress: `${num(status['active'])} active, ${num(status['failed'])} failed` };
    }
    default:
      return { state: 'done', progress: 'applied' };
  }
}
