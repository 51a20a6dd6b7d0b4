// An in-process fake Kubernetes API server (HTTP on loopback) for the deploy contract test: discovery documents,
// server-side apply (PATCH), get, list by label selector and delete over an in-memory store. It records every
// request, and serves the statuses a test scripts (`status(obj, reads)`), so a rollout is driven by it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number }; [k: string]: unknown };

interface Resource { readonly plural: string; readonly kind: string; readonly namespaced: boolean }

const GROUPS: Record<string, Resource[]> = {
  v1: [
    { plural: 'namespaces', kind: 'Namespace', namespaced: false }, { plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { plural: 'secrets', kind: 'Secret', namespaced: true }, { plural: 'services', kind: 'Service', namespaced: true },
    { plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  ],
  'apps/v1': [{ plural: 'deployments', kind: 'Deployment', namespaced: true }, { plural: 'statefulsets', kind: 'StatefulSet', namespaced: true }],
  'batch/v1': [{ plural: 'jobs', kind: 'Job', namespaced: true }],
  'networking.k8s.io/v1': [{ plural: 'ingresses', kind: 'Ingress', namespaced: true }],
};

export interface FakeKubeOptions {
  /** The status served for an object on its n-th read (1-based); default: none. */
  status?: (obj: Obj, reads: number) => Record<string, unknown> | undefined;
  /** An error answer for an apply (status code and Status message), or undefined to accept it. */
  failApply?: (obj: Obj) => { code: number; reason: string; message: string } | undefined;
}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  readonly objects = new Map<string, Obj>();
  private readonly reads = new Map<string, number>();
  private server: Server | undefined;
  url = '';

  constructor(readonly options: FakeKubeOptions = {}) {}

  static key(apiVersion: string, kind: string, namespace: string | undefined, name: string): string {
    return `${apiVersion}|${kind}|${namespace ?? ''}|${name}`;
  }

  /** Puts an object in the store, as if another apply had made it. */
  seed(obj: Obj): void {
    this.objects.set(FakeKubeApi.key(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name), obj);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  kubeconfig(namespace = 'team'): string {
    return `apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster: { server: "${this.url}", insecure-skip-tls-verify: true }
users:
  - name: tester
    user: { token: fake-token }
contexts:
  - name: fake-ctx
    context: { cluster: fake, user: tester, namespace: ${namespace} }
  - name: other-ctx
    context: { cluster: fake, user: tester }
current-context: fake-ctx
`;
  }

  private send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.send(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://fake');
    let body: unknown;
    try { body = text === '' ? undefined : JSON.parse(text); } catch { body = text; }
    this.requests.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, contentType: req.headers['content-type'], body });
    // Discovery: /api/v1, /apis/GROUP/VERSION.
    const gv = u.pathname === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(u.pathname)?.[1];
    if (gv !== undefined) {
      const list = GROUPS[gv];
      if (list === undefined) return this.status(res, 404, 'NotFound', 'no such group');
      return this.send(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
        resources: list.map((r) => ({ name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'] })) });
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(u.pathname);
    if (m === null) return this.status(res, 404, 'NotFound', `no route ${u.pathname}`);
    const apiVersion = (m[1] ?? m[2]) as string;
    const ns = m[3];
    const r = GROUPS[apiVersion]?.find((x) => x.plural === m[4]);
    const name = m[5];
    if (r === undefined) return this.status(res, 404, 'NotFound', `no resource ${m[4]}`);
    if (name === undefined) {
      if (req.method !== 'GET') return this.status(res, 405, 'MethodNotAllowed', 'only list here');
      const selector = (u.searchParams.get('labelSelector') ?? '').split(',').filter((s) => s !== '').map((s) => s.split('='));
      const items = [...this.objects.values()].filter((o) => o.kind === r.kind && o.metadata.namespace === ns && selector.every(([k, v]) => o.metadata.labels?.[k!] === v));
      return this.send(res, 200, { kind: `${r.kind}List`, apiVersion, metadata: {}, items });
    }
    return this.object(req.method ?? '', res, u, body, apiVersion, r.kind, ns, name);
  }

  private object(method: string, res: ServerResponse, u: URL, body: unknown, apiVersion: string, kind: string, ns: string | undefined, name: string): void {
    const key = FakeKubeApi.key(apiVersion, kind, ns, name);
    const existing = this.objects.get(key);
    if (method === 'PATCH') {
      const obj = body as Obj;
      const fail = this.options.failApply?.(obj);
      if (fail !== undefined) return this.status(res, fail.code, fail.reason, fail.message);
      const stored: Obj = { ...obj, metadata: { ...obj.metadata, generation: (existing?.metadata.generation ?? 0) + 1 } };
      if (u.searchParams.get('dryRun') !== 'All') this.objects.set(key, stored);
      return this.send(res, existing === undefined ? 201 : 200, stored);
    }
    if (method === 'GET') {
      if (existing === undefined) return this.status(res, 404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
      const n = (this.reads.get(key) ?? 0) + 1;
      this.reads.set(key, n);
      const status = this.options.status?.(existing, n);
      return this.send(res, 200, status === undefined ? existing : { ...existing, status });
    }
    if (method === 'DELETE') {
      if (existing === undefined) return this.status(res, 404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
      if (u.searchParams.get('dryRun') !== 'All') this.objects.delete(key);
      return this.send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
    }
    return this.status(res, 405, 'MethodNotAllowed', method);
  }
}
