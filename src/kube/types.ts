// The Kubernetes objects `stack convert` makes, as plain JSON data (key order is the order they print in).

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

/** The label keys Gantry puts on every object (one place, like src/reconcile/labels.ts for containers). */
export const KUBE_LABELS = {
  /** The stack's project: what `stack deploy --prune` selects by. */
  project: 'gantry.project',
  /** The stack service an object belongs to (absent on stack-wide objects: volumes, configs, secrets). */
  service: 'gantry.service',
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  partOf: 'app.kubernetes.io/part-of',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;

export const FIELD_MANAGER = 'gantry';

/** The image of the init containers that wait for a dependency (busybox: sh, nc and nslookup). */
export const WAIT_IMAGE = 'busybox:1.36';

/** The kinds `stack convert` makes, in the order they are printed and applied (a Pod's references first). */
export const KIND_ORDER: readonly string[] = ['Namespace', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Service', 'Deployment', 'StatefulSet', 'Job', 'Ingress'];
