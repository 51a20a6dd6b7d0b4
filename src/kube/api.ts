// The one seam between `stack deploy` and a cluster: four calls. client.ts implements it over
// @kubernetes/client-node; the contract test runs that implementation against an in-process fake API server.

import type { KubeObject } from './types.js';

export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface KubeApi {
  /** Server-side apply (PATCH application/apply-patch+yaml, fieldManager gantry, force); dryRun sends dryRun=All. */
  apply(obj: KubeObject, dryRun: boolean): Promise<KubeObject>;
  /** The object as the server has it (status included), or undefined when it does not exist. */
  read(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** Objects of a kind in a namespace that match a label selector. */
  list(apiVersion: string, kind: string, namespace: string, labelSelector: string): Promise<KubeObject[]>;
  /** Deletes (propagation Background: a Deployment's pods go too); a missing object is no error. */
  remove(ref: ObjectRef, dryRun: boolean): Promise<void>;
}

/** An error the API server answered with: status code and its Status message. */
export class KubeApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export function refOf(o: KubeObject, namespace: string): ObjectRef {
  return { apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace ?? namespace, name: o.metadata.name };
}

export function idOf(r: { kind: string; name: string } | KubeObject): string {
  return 'metadata' in r ? `${r.kind}/${r.metadata.name}` : `${r.kind}/${r.name}`;
}
