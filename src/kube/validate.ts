// Checks every converted object before it is printed or applied: the kubernetes-models OpenAPI schemas, a strict
// unknown-field check (the schemas allow any extra field; the API server would drop or refuse one), and the
// name, label and quantity rules the schemas type as plain strings.
//
// The unknown-field check asks the schema itself which fields it knows: the compiled validator reads every
// property its schema declares (`data.replicas`), and enumerates the keys of a map (labels); so the object is
// validated through a Proxy that records both, and any own key the validator never looked at is unknown.

import { isConfigKey, isDns1035Label, isDns1123Label, isDns1123Subdomain, isLabelValue, isQualifiedKey, isQuantity } from './names.js';
import type { KubeObject } from './types.js';

export interface ObjectProblem {
  /** `Kind/name`. */
  readonly object: string;
  /** JSON path in the object, e.g. `spec.template.spec.containers[0].image`. */
  readonly path: string;
  readonly message: string;
}

type ValidateFn = (this: unknown) => void;
type ModelClass = { prototype: { validate: ValidateFn } };

const LOADERS: Record<string, () => Promise<ModelClass>> = {
  'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'v1/Secret': async () => (await import('kubernetes-models/v1/Secret')).Secret,
  'v1/PersistentVolumeClaim': async () => (await import('kubernetes-models/v1/PersistentVolumeClaim')).PersistentVolumeClaim,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'apps/v1/StatefulSet': async () => (await import('kubernetes-models/apps/v1/StatefulSet')).StatefulSet,
  'batch/v1/Job': async () => (await import('kubernetes-models/batch/v1/Job')).Job,
  'networking.k8s.io/v1/Ingress': async () => (await import('kubernetes-models/networking.k8s.io/v1/Ingress')).Ingress,
};

function fmt(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Runs `validate` over a proxy of `data`; returns the paths of keys it never read. */
function unknownFields(validate: ValidateFn, data: unknown): { unknown: string[]; error: string | undefined } {
  const read = new Map<object, Set<PropertyKey>>();
  const enumerated = new Set<object>();
  const proxies = new WeakMap<object, object>();
  const wrap = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    const known = proxies.get(v);
    if (known !== undefined) return known;
    const p = new Proxy(v, {
      get(target, key, receiver): unknown {
        let s = read.get(target);
        if (s === undefined) read.set(target, (s = new Set()));
        s.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
      has(target, key): boolean {
        let s = read.get(target);
        if (s === undefined) read.set(target, (s = new Set()));
        s.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target): (string | symbol)[] {
        enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(v, p);
    return p;
  };
  let error: string | undefined;
  try {
    validate.call(wrap(data));
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const unknown: string[] = [];
  const visit = (v: unknown, path: (string | number)[]): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => visit(x, [...path, i]));
      return;
    }
    const seen = read.get(v);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (!enumerated.has(v) && !(seen?.has(k) ?? false)) unknown.push(fmt([...path, k]));
      else visit(x, [...path, k]);
    }
  };
  if (error === undefined) visit(data, []);
  return { unknown, error };
}

/** Names, label keys and values, port names, data keys and quantities (walks the whole object). */
function ruleProblems(o: KubeObject): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const name = o.metadata.name;
  const nameOk = o.kind === 'Service' || o.kind === 'Namespace' ? (o.kind === 'Service' ? isDns1035Label(name) : isDns1123Label(name)) : isDns1123Subdomain(name);
  if (!nameOk) out.push({ path: 'metadata.name', message: `"${name}" is not a valid ${o.kind} name (${o.kind === 'Service' ? 'DNS-1035 label' : o.kind === 'Namespace' ? 'DNS-1123 label' : 'DNS-1123 subdomain'})` });
  if (o.metadata.namespace !== undefined && !isDns1123Label(o.metadata.namespace)) out.push({ path: 'metadata.namespace', message: `"${o.metadata.namespace}" is not a DNS-1123 label` });
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (Array.isArray(v)) { v.forEach((x, i) => walk(x, [...path, i])); return; }
    if (v === null || typeof v !== 'object') return;
    const last = path[path.length - 1];
    const obj = v as Record<string, unknown>;
    if (last === 'labels' || last === 'matchLabels' || last === 'selector' && path[path.length - 2] === 'spec' && o.kind === 'Service') {
      for (const [k, x] of Object.entries(obj)) {
        if (!isQualifiedKey(k)) out.push({ path: fmt([...path, k]), message: `label key "${k}" is not a qualified name` });
        if (typeof x !== 'string' || !isLabelValue(x)) out.push({ path: fmt([...path, k]), message: `label value ${JSON.stringify(x)} is not valid` });
      }
      return;
    }
    if (last === 'annotations') {
      for (const k of Object.keys(obj)) if (!isQualifiedKey(k)) out.push({ path: fmt([...path, k]), message: `annotation key "${k}" is not a qualified name` });
      return;
    }
    if ((last === 'data' || last === 'binaryData') && path.length === 1) {
      for (const k of Object.keys(obj)) if (!isConfigKey(k)) out.push({ path: fmt([...path, k]), message: `data key "${k}" is not valid` });
      return;
    }
    if (last === 'requests' || last === 'limits') {
      for (const [k, x] of Object.entries(obj)) if (typeof x !== 'string' || !isQuantity(x)) out.push({ path: fmt([...path, k]), message: `${JSON.stringify(x)} is not a quantity` });
    }
    if (typeof obj['sizeLimit'] === 'string' && !isQuantity(obj['sizeLimit'])) out.push({ path: fmt([...path, 'sizeLimit']), message: `${JSON.stringify(obj['sizeLimit'])} is not a quantity` });
    // Containers, volumes, ports (of containers and Services) are named by DNS-1123 labels (ports: at most 15).
    const parent = path[path.length - 2];
    if (typeof last === 'number' && typeof obj['name'] === 'string' && (parent === 'containers' || parent === 'initContainers' || parent === 'volumes')) {
      if (!isDns1123Label(obj['name'])) out.push({ path: fmt([...path, 'name']), message: `"${obj['name']}" is not a DNS-1123 label` });
    }
    if (typeof last === 'number' && parent === 'ports' && typeof obj['name'] === 'string' && !(obj['name'].length <= 15 && isDns1123Label(obj['name']) && /[a-z]/.test(obj['name']))) {
      out.push({ path: fmt([...path, 'name']), message: `port name "${obj['name']}" is not an IANA service name (at most 15 characters, a letter)` });
    }
    for (const [k, x] of Object.entries(obj)) walk(x, [...path, k]);
  };
  walk(o, []);
  return out;
}

/** Every problem of every object (empty: all valid). */
export async function validateObjects(objects: readonly KubeObject[]): Promise<ObjectProblem[]> {
  const out: ObjectProblem[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    const load = LOADERS[`${o.apiVersion}/${o.kind}`];
    if (load === undefined) {
      out.push({ object: id, path: 'kind', message: `no schema for ${o.apiVersion} ${o.kind}` });
      continue;
    }
    const model = await load();
    const r = unknownFields(model.prototype.validate, o);
    if (r.error !== undefined) out.push({ object: id, path: '', message: `schema: ${r.error}` });
    for (const u of r.unknown) out.push({ object: id, path: u, message: 'unknown field' });
    for (const p of ruleProblems(o)) out.push({ object: id, ...p });
  }
  return out;
}
