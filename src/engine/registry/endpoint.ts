// Where a reference's registry lives and how it is named in Docker's credential store. `docker.io` is served by
// `registry-1.docker.io`, and `docker login` stores its credentials under `https://index.docker.io/v1/`.
import { DEFAULT_DOMAIN, parseReference, type ImageReference } from '../images/reference.js';

/** The key `docker login` uses in config.json for Docker Hub. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** host[:port] the API is reached at for a reference's domain. */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
}

/** Host (with port when given) and port number of `host[:port]`; `[::1]:5000` included. */
export function splitHostPort(host: string): { hostname: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (m === null) return { hostname: host, port: undefined };
  const hostname = m[1]!.replace(/^\[|\]$/g, '');
  return { hostname, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Loopback hosts: plain HTTP is allowed to them without listing them as insecure (Docker's rule). */
export function isLoopbackHost(host: string): boolean {
  const { hostname } = splitHostPort(host);
  return hostname === 'localhost' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * The registry a login names, as a domain (`docker.io` for Docker Hub in any spelling: `docker.io`,
 * `index.docker.io`, `https://index.docker.io/v1/`, `registry-1.docker.io`).
 */
export function loginDomain(server: string | undefined): string {
  if (server === undefined || server === '') return DEFAULT_DOMAIN;
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase();
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io') return DEFAULT_DOMAIN;
  return host;
}

/** The config.json key a domain's credentials are stored under. */
export function authKey(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_AUTH_KEY : domain;
}

/** The domain of an image reference string (`nginx` → `docker.io`, `127.0.0.1:5000/a` → `127.0.0.1:5000`). */
export function referenceDomain(ref: string): string {
  return parseReference(ref).domain;
}

export type { ImageReference };
