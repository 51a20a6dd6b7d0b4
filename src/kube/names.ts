// Kubernetes names, label values and quantities: the checks the OpenAPI schemas leave out (they type these as
// plain strings), and how a stack's names become valid ones.

/** RFC 1123 label: what Services, ports' names and most object names must be (Services: RFC 1035, below). */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1035 label: a Service's name (starts with a letter). */
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain: ConfigMaps, Secrets, PVCs, Deployments, StatefulSets, Jobs, Ingresses. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label value (may be empty). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** A label or annotation key's name part. */
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** A key of a ConfigMap's or Secret's data. */
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
/** resource.Quantity's canonical text: a decimal number with a binary or decimal SI suffix or an exponent. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1035Label(s: string): boolean {
  return s.length <= 63 && DNS1035_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE.test(s);
}

/** A label/annotation key: `[prefix/]name`, the prefix a DNS subdomain of at most 253, the name at most 63. */
export function isQualifiedKey(s: string): boolean {
  const slash = s.lastIndexOf('/');
  const name = slash < 0 ? s : s.slice(slash + 1);
  const prefix = slash < 0 ? undefined : s.slice(0, slash);
  return name.length <= 63 && QUALIFIED_NAME.test(name) && (prefix === undefined || isDns1123Subdomain(prefix));
}

export function isConfigKey(s: string): boolean {
  return s.length <= 253 && CONFIG_KEY.test(s) && s !== '.' && s !== '..';
}

export function isQuantity(s: string): boolean {
  return QUANTITY.test(s);
}

/** A stack name as an RFC 1035 label: lowercase, `_` and `.` become `-`, others dropped, at most 63. */
export function toDnsLabel(name: string): string {
  const s = name.toLowerCase().replace(/[_.]/g, '-').replace(/[^a-z0-9-]/g, '').replace(/^[^a-z]+/, '').slice(0, 63).replace(/-+$/, '');
  return s === '' ? 'x' : s;
}

/** Bytes as a Quantity: the largest binary unit that divides it exactly (33554432 → 32Mi). */
export function bytesQuantity(bytes: number): string {
  const units: readonly [string, number][] = [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]];
  for (const [u, n] of units) if (bytes > 0 && bytes % n === 0) return `${bytes / n}${u}`;
  return String(Math.floor(bytes));
}

/** CPUs (0.5) as a Quantity in millicores ("500m"), whole numbers as they are ("2"). */
export function cpuQuantity(cpus: number): string {
  const milli = Math.round(cpus * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
