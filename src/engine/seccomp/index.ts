// Seccomp for containers: which profile a container runs with (the choice its record keeps), and the BPF
// program the shim installs. The default profile is compiled once per distinct capability set per daemon.
import { createHash } from 'node:crypto';
import { release } from 'node:os';
import { GantryError } from '../../common/errors.js';
import { CAPABILITIES } from '../runtime/capabilities.js';
import { compileFilter, encodeFilter } from './compile.js';
import { defaultSeccompProfile } from './default-profile.js';
import { parseSeccompProfile, type SeccompProfile } from './profile.js';
import { seccompHost, kernelVersion, resolveProfile, type SeccompContext } from './rules.js';

/** The capability set a custom profile is test-compiled with at create (every start compiles it again for the
 * container's own set). */
const DEFAULT_CHECK_CAPS = 0n;

/** What a container record keeps: absent = the default profile. A custom profile is kept as its JSON text, so a
 * restart (after a daemon restart too) compiles the same filter. */
export type SeccompChoice = { kind: 'unconfined' } | { kind: 'profile'; json: string };

/** The value of `--security-opt seccomp=VALUE` as the daemon receives it: `unconfined`, `builtin` (the default) or
 * a profile's JSON (the CLI reads FILE.json and sends its content, as docker's does). The profile is checked here,
 * so a broken one fails the create before anything exists. */
export function seccompChoiceOf(value: string): SeccompChoice | undefined {
  if (value === 'unconfined') return { kind: 'unconfined' };
  if (value === 'builtin' || value === 'default') return undefined;
  if (!value.trimStart().startsWith('{')) {
    throw new GantryError('SECCOMP_PROFILE_INVALID', `seccomp profile: expected the profile's JSON, unconfined or builtin, got ${JSON.stringify(value.slice(0, 40))}`, {
      hint: 'with the gantry CLI give a file (--security-opt seccomp=profile.json): it sends the file\'s content; through the API send the JSON itself',
    });
  }
  const profile = parseSeccompProfile(value);
  // compile once now: an error the start would meet is a create error instead
  compileFor(profile, DEFAULT_CHECK_CAPS);
  return { kind: 'profile', json: value };
}

/** CAP_* names of a capability mask. */
export function capabilityNames(mask: bigint): Set<string> {
  const names = new Set<string>();
  CAPABILITIES.forEach((name, i) => { if ((mask >> BigInt(i)) & 1n) names.add(`CAP_${name}`); });
  return names;
}

function contextFor(capsMask: bigint): SeccompContext {
  return { host: seccompHost(), caps: capabilityNames(capsMask), kernel: kernelVersion(release()) };
}

function compileFor(profile: SeccompProfile, capsMask: bigint): Buffer {
  return encodeFilter(compileFilter(resolveProfile(profile, contextFor(capsMask))));
}

/** Compiled filters by capability set and profile (`default`, or the sha256 of a custom profile's JSON): a start
 * and every exec (so every healthcheck probe) of a container ask again; a custom profile is parsed once. */
const compiled = new Map<string, Buffer>();
const MAX_COMPILED = 64;

function cachedFilter(key: string, compile: () => Buffer): Buffer {
  let filter = compiled.get(key);
  if (filter === undefined) {
    filter = compile();
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, filter);
  }
  return filter;
}

/**
 * The filter (struct sock_filter[] bytes) for a container with these capabilities, or undefined to run unconfined:
 * `--privileged` is unconfined (as in Docker), whatever the choice.
 */
export function seccompFilterFor(choice: SeccompChoice | undefined, capsMask: bigint, privileged: boolean): Buffer | undefined {
  if (privileged || choice?.kind === 'unconfined') return undefined;
  if (choice?.kind === 'profile') {
    const json = choice.json;
    return cachedFilter(`${capsMask}:${createHash('sha256').update(json).digest('hex')}`, () => compileFor(parseSeccompProfile(json), capsMask));
  }
  return cachedFilter(`${capsMask}:default`, () => compileFor(defaultSeccompProfile(), capsMask));
}
