// Image references like Docker's: `busybox` means `docker.io/library/busybox:latest`, a registry host is the
// first path component when it looks like one (has a `.` or `:`, or is `localhost`), a digest follows `@`.
// References are stored in their full form and shown in their familiar form (`busybox:latest`).
import { GantryError } from '../../common/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';

export interface ImageReference {
  /** Registry host, with port when given: `docker.io`, `localhost:5000`, `registry.example.com`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/busybox`, `team/app`. */
  readonly path: string;
  /** Tag; `latest` when neither a tag nor a digest was given; undefined for a digest-only reference. */
  readonly tag: string | undefined;
  /** `sha256:<64 hex>` when the reference names a manifest digest. */
  readonly digest: string | undefined;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

const HINT = 'a reference looks like NAME[:TAG] or NAME@sha256:DIGEST, e.g. busybox, busybox:1.36, ' +
  'localhost:5000/team/app:v2; names are lowercase letters, digits and . _ - separators';

function invalid(input: string, why: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', `invalid reference format "${input}": ${why}`, { hint: HINT, detail: { reference: input } });
}

/** Splits `a/b/c` into a domain and a path the way Docker does. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const looksLikeHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase());
  let domain = looksLikeHost ? first : DEFAULT_DOMAIN;
  let path = looksLikeHost ? name.slice(slash + 1) : name;
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;
  return { domain, path };
}

/**
 * Parses and normalises an image reference. A reference with neither tag nor digest gets the tag `latest`.
 * Throws GantryError INVALID_ARGUMENT (with a hint) for anything Docker would call an invalid reference.
 */
export function parseReference(input: string): ImageReference {
  if (input.length === 0) throw invalid(input, 'the reference is empty');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(input, `"${digest}" is not a sha256 digest (sha256: followed by 64 lowercase hex digits)`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (rest.length === 0) throw invalid(input, 'the repository name is empty');
  if (rest.length > MAX_NAME_LENGTH) throw invalid(input, `the repository name is longer than ${MAX_NAME_LENGTH} characters`);
  const { domain, path } = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw invalid(input, `"${domain}" is not a valid registry host`);
  for (const component of path.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (PATH_COMPONENT.test(component.toLowerCase())) throw invalid(input, `repository name "${rest}" must be lowercase`);
    throw invalid(input, `"${component}" is not a valid repository name component`);
  }
  if (domain === DEFAULT_DOMAIN && HEX64.test(path.slice(OFFICIAL_PREFIX.length)) && path.startsWith(OFFICIAL_PREFIX)) {
    throw invalid(input, 'a repository name cannot be a 64-character hexadecimal string (that is an image id)');
  }
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { domain, path, tag, digest };
}

/** `docker.io/library/busybox` (full) or `busybox` (familiar, what users see). */
export function repositoryName(ref: ImageReference, familiar = true): string {
  if (!familiar || ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  const rest = ref.path.startsWith(OFFICIAL_PREFIX) ? ref.path.slice(OFFICIAL_PREFIX.length) : ref.path;
  return rest.includes('/') ? ref.path : rest;
}

/** The whole reference as a string: `busybox:latest`, `localhost:5000/app@sha256:…` (familiar by default). */
export function formatReference(ref: ImageReference, familiar = true): string {
  let s = repositoryName(ref, familiar);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The normalised full form of a reference string, e.g. `busybox` → `docker.io/library/busybox:latest`. */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input), false);
}

/** The familiar form of a reference string, e.g. `docker.io/library/busybox` → `busybox:latest`. */
export function familiarReference(input: string): string {
  return formatReference(parseReference(input), true);
}
