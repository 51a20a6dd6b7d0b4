// KubeApi over the official client (@kubernetes/client-node 1.x): kubeconfig loading (files, contexts, exec and
// OIDC credentials, in-cluster config), API discovery to find each kind's resource path, and the requests.
// Imported only by `stack deploy`.

import { GantryError } from '../common/errors.js';
import type { KubeApi, ObjectRef } from './api.js';
import { KubeApiError } from './api.js';
import type { KubeObject } from './types.js';
import { FIELD_MANAGER } from './types.js';

export interface ClusterOptions {
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

export interface Cluster {
  readonly api: KubeApi;
  /** The context's namespace (default "default"). */
  readonly namespace: string;
  readonly context: string;
  readonly server: string;
}

function apiError(e: unknown, what: string): unknown {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'number') {
    const msg = e instanceof Error ? e.message : String(e);
    return new GantryError('KUBE_API_ERROR', `${what}: cannot reach the cluster: ${msg.split('\n')[0]}`, { cause: e, hint: 'check the kubeconfig\'s server and that the cluster is up' });
  }
  let body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try { body = JSON.parse(body) as unknown; } catch { /* not JSON */ }
  }
  const b = body !== null && typeof body === 'object' ? (body as { message?: unknown; reason?: unknown }) : {};
  return new KubeApiError(code, typeof b.reason === 'string' ? b.reason : '', typeof b.message === 'string' ? b.message : `HTTP ${code}`);
}

export async function connectCluster(opts: ClusterOptions): Promise<Cluster> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig !== undefined) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new GantryError('KUBE_CONFIG_INVALID', `cannot load the kubeconfig ${opts.kubeconfig ?? '(KUBECONFIG or ~/.kube/config)'}: ${e instanceof Error ? e.message : String(e)}`, { cause: e, hint: 'give --kubeconfig FILE' });
  }
  if (opts.context !== undefined) {
    if (kc.getContextObject(opts.context) === null) {
      throw new GantryError('KUBE_CONFIG_INVALID', `the kubeconfig has no context "${opts.context}"`, { hint: `its contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}` });
    }
    kc.setCurrentContext(opts.context);
  }
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new GantryError('KUBE_CONFIG_INVALID', 'the kubeconfig names no current cluster', { hint: 'give --context NAME, or set current-context in the kubeconfig' });
  const ctx = kc.getContextObject(kc.getCurrentContext());
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  type Obj = Parameters<typeof client.patch>[0];
  const api: KubeApi = {
    async apply(obj, dryRun) {
      try {
        const r = await client.patch(obj as unknown as Obj, undefined, dryRun ? 'All' : undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
        return r as unknown as KubeObject;
      } catch (e) {
        throw apiError(e, `${obj.kind}/${obj.metadata.name}`);
      }
    },
    async read(ref: ObjectRef) {
      try {
        const r = await client.read({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } });
        return r as unknown as KubeObject;
      } catch (e) {
        const err = apiError(e, `${ref.kind}/${ref.name}`);
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    async list(apiVersion, kind, namespace, labelSelector) {
      try {
        const r = await client.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector);
        return (r.items as unknown as KubeObject[]).map((o) => ({ ...o, apiVersion: o.apiVersion ?? apiVersion, kind: o.kind ?? kind }));
      } catch (e) {
        throw apiError(e, `list ${kind}`);
      }
    },
    async remove(ref, dryRun) {
      try {
        await client.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } }, undefined, dryRun ? 'All' : undefined, undefined, undefined, 'Background');
      } catch (e) {
        const err = apiError(e, `${ref.kind}/${ref.name}`);
        if (err instanceof KubeApiError && err.status === 404) return;
        throw err;
      }
    },
  };
  return { api, namespace: ctx?.namespace ?? 'default', context: kc.getCurrentContext(), server: cluster.server };
}
