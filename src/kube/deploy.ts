// `stack deploy --to kubernetes`: apply the converted objects to a cluster (server-side apply, one field manager),
// prune what the project no longer has, and wait for the rollout. Only the KubeApi port talks to the cluster;
// time comes from injected functions, so the contract test drives the rollout with the statuses it serves.

import { GantryError } from '../common/errors.js';
import type { StackModel } from '../stack/index.js';
import type { KubeApi } from './api.js';
import { idOf, KubeApiError, refOf } from './api.js';
import { rolloutState, WAITED_KINDS } from './rollout.js';
import type { KubeObject } from './types.js';
import { KUBE_LABELS } from './types.js';

export interface DeployOptions {
  readonly project: string;
  readonly namespace: string;
  /** server: every request with dryRun=All, no waiting; client: nothing is sent but reads (prune's lists). */
  readonly dryRun: 'server' | 'client' | undefined;
  readonly prune: boolean;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly progress: (line: string) => void;
}

export interface DeployReport {
  readonly applied: readonly string[];
  readonly pruned: readonly string[];
  /** Claims no longer in the stack, left alone (they hold data). */
  readonly kept: readonly string[];
}

/** The kinds prune looks at, with their apiVersion. Claims and namespaces are never pruned. */
const PRUNED: readonly (readonly [string, string])[] = [
  ['networking.k8s.io/v1', 'Ingress'], ['batch/v1', 'Job'], ['apps/v1', 'StatefulSet'], ['apps/v1', 'Deployment'],
  ['v1', 'Service'], ['v1', 'Secret'], ['v1', 'ConfigMap'],
];

/** Ordered phases: a workload goes in the phase after the Jobs it needs complete (depends_on
 *  service_completed_successfully); everything that is not a workload goes first. */
export function applyPhases(model: StackModel, objects: readonly KubeObject[]): KubeObject[][] {
  const wave = new Map<string, number>();
  const waveOf = (service: string, seen: Set<string>): number => {
    const known = wave.get(service);
    if (known !== undefined) return known;
    if (seen.has(service)) return 0;
    seen.add(service);
    const s = model.services[service];
    let w = 0;
    for (const [dep, d] of Object.entries(s?.depends_on ?? {})) if (d.condition === 'service_completed_successfully' && model.services[dep] !== undefined) w = Math.max(w, waveOf(dep, seen) + 1);
    wave.set(service, w);
    return w;
  };
  const phases: KubeObject[][] = [[]];
  for (const o of objects) {
    const service = o.metadata.labels[KUBE_LABELS.service];
    const w = WAITED_KINDS.has(o.kind) && service !== undefined ? waveOf(service, new Set()) : 0;
    while (phases.length <= w) phases.push([]);
    phases[w]!.push(o);
  }
  return phases;
}

/** Images built by `build:` that no registry can hold for the cluster: a bare name (`shop-api`, or the default
 *  `<project>-<service>`) would be pulled from Docker Hub's official library, never from where it was pushed.
 *  A name with a registry host or a Docker Hub namespace (`registry.example.com/app`, `team/app`) can be pushed. */
export function localImages(model: StackModel): { service: string; image: string }[] {
  const out: { service: string; image: string }[] = [];
  for (const [service, s] of Object.entries(model.services)) {
    if (s.build === undefined || s.image === undefined) continue;
    if (!s.image.includes('/')) out.push({ service, image: s.image });
  }
  return out;
}

function rolloutError(o: KubeObject, ns: string, what: string): GantryError {
  return new GantryError('KUBE_ROLLOUT_FAILED', `${idOf(o)} in namespace ${ns} ${what}`,
    { hint: `look at its pods and events: kubectl -n ${ns} describe ${o.kind.toLowerCase()}/${o.metadata.name}`, detail: { object: idOf(o) } });
}

async function applyOne(api: KubeApi, o: KubeObject, opts: DeployOptions): Promise<void> {
  const dry = opts.dryRun === 'server';
  try {
    await api.apply(o, dry);
  } catch (e) {
    // A Job's pod template cannot change: a changed one-shot is replaced (delete, wait until gone, apply).
    if (e instanceof KubeApiError && e.status === 422 && o.kind === 'Job' && /immutable/i.test(e.message) && !dry) {
      opts.progress(`${idOf(o)}: its pod template changed, replacing the Job`);
      const ref = refOf(o, opts.namespace);
      await api.remove(ref, false);
      const start = opts.now();
      while ((await api.read(ref)) !== undefined) {
        if (opts.now() - start > opts.timeoutMs) throw rolloutError(o, opts.namespace, 'was not deleted in time to be replaced');
        await opts.sleep(opts.pollMs);
      }
      await api.apply(o, false);
      return;
    }
    if (e instanceof KubeApiError) {
      throw new GantryError('KUBE_API_ERROR', `applying ${idOf(o)} in namespace ${opts.namespace}: ${e.message} (HTTP ${e.status}${e.reason ? ` ${e.reason}` : ''})`,
        { cause: e, hint: e.status === 403 ? 'your cluster credentials may not change this object; ask for a role that can' : e.status === 404 ? `does the namespace ${opts.namespace} exist? give --namespace to create it` : 'fix the stack, convert it (`gantry stack convert --to kubernetes`) and look at this object' });
    }
    throw e;
  }
}

async function waitFor(api: KubeApi, objects: readonly KubeObject[], opts: DeployOptions): Promise<void> {
  const pending = objects.filter((o) => WAITED_KINDS.has(o.kind));
  const last = new Map<string, string>();
  const start = opts.now();
  while (pending.length > 0) {
    for (let i = pending.length - 1; i >= 0; i--) {
      const o = pending[i]!;
      const live = await api.read(refOf(o, opts.namespace));
      if (live === undefined) throw rolloutError(o, opts.namespace, 'disappeared while its rollout was awaited');
      const s = rolloutState(live);
      if (s.state === 'failed') throw rolloutError(o, opts.namespace, `failed: ${s.condition}`);
      if (s.state === 'done') {
        opts.progress(`${idOf(o)}: ${o.kind === 'Job' ? 'complete' : o.kind === 'Deployment' ? 'available' : 'ready'}`);
        pending.splice(i, 1);
        continue;
      }
      if (last.get(idOf(o)) !== s.progress) opts.progress(`${idOf(o)}: ${s.progress}`);
      last.set(idOf(o), s.progress);
    }
    if (pending.length === 0) break;
    if (opts.now() - start > opts.timeoutMs) {
      const o = pending[pending.length - 1]!;
      throw rolloutError(o, opts.namespace, `did not finish its rollout within ${Math.round(opts.timeoutMs / 1000)}s (${last.get(idOf(o)) ?? 'no status'})`);
    }
    await opts.sleep(opts.pollMs);
  }
}

export async function deployObjects(api: KubeApi, phases: readonly (readonly KubeObject[])[], opts: DeployOptions): Promise<DeployReport> {
  const applied: string[] = [];
  const wanted = new Set(phases.flat().map((o) => idOf(o)));
  for (const [i, phase] of phases.entries()) {
    for (const o of phase) {
      if (opts.dryRun === 'client') opts.progress(`${idOf(o)}: would be applied (client dry run)`);
      else {
        await applyOne(api, o, opts);
        opts.progress(`${idOf(o)}: applied${opts.dryRun === 'server' ? ' (server dry run)' : ''}`);
      }
      applied.push(idOf(o));
    }
    // The next phase needs this one's Jobs complete; the last one is awaited after prune.
    if (opts.dryRun === undefined && i < phases.length - 1) await waitFor(api, phase.filter((o) => o.kind === 'Job'), opts);
  }
  const pruned: string[] = [];
  const kept: string[] = [];
  const selector = `${KUBE_LABELS.project}=${opts.project},${KUBE_LABELS.managedBy}=gantry`;
  if (opts.prune) {
    for (const [apiVersion, kind] of PRUNED) {
      for (const live of await api.list(apiVersion, kind, opts.namespace, selector)) {
        const id = `${kind}/${live.metadata.name}`;
        if (wanted.has(id) || live.metadata.labels?.[KUBE_LABELS.project] !== opts.project) continue;
        if (opts.dryRun !== 'client') await api.remove({ apiVersion, kind, namespace: opts.namespace, name: live.metadata.name }, opts.dryRun === 'server');
        opts.progress(`${id}: ${opts.dryRun === undefined ? 'pruned' : `would be pruned (${opts.dryRun} dry run)`}`);
        pruned.push(id);
      }
    }
    for (const live of await api.list('v1', 'PersistentVolumeClaim', opts.namespace, selector)) {
      const id = `PersistentVolumeClaim/${live.metadata.name}`;
      if (wanted.has(id)) continue;
      opts.progress(`${id}: kept (it holds a volume's data; delete it yourself when it is no longer needed)`);
      kept.push(id);
    }
  }
  if (opts.dryRun === undefined) await waitFor(api, phases.flat(), opts);
  return { applied, pruned, kept };
}
