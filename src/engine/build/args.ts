// Build arguments: `--build-arg K[=V]` (K alone takes the value from the environment, and is not passed when
// the environment has none, as the docker CLI does), the predefined ones (proxies, platform, BuildKit's), and
// the warning for those no ARG consumed.

import { arch as hostArch } from 'node:os';
import { usageError } from '../../common/errors.js';

/** Usable in RUN without an ARG, and left out of the image history unless declared (reference: "Predefined ARGs"). */
export const PROXY_ARGS: readonly string[] = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/** Set automatically: in the global scope as is, in a stage once declared with `ARG NAME` (no default). */
export const PLATFORM_ARGS: readonly string[] = ['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT'];

/** BuildKit's own switches; accepted, never reported as unused. */
export const BUILDKIT_ARGS: readonly string[] = ['BUILDKIT_INLINE_CACHE', 'BUILDKIT_MULTI_PLATFORM', 'BUILDKIT_SANDBOX_HOSTNAME', 'BUILDKIT_CONTEXT_KEEP_GIT_DIR', 'BUILDKIT_SYNTAX', 'SOURCE_DATE_EPOCH'];

export interface Platform {
  readonly os: string;
  readonly arch: string;
  readonly variant: string | undefined;
}

const NODE_TO_OCI_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): Platform {
  const a = NODE_TO_OCI_ARCH[hostArch()] ?? hostArch();
  return { os: 'linux', arch: a, variant: a === 'arm64' ? 'v8' : a === 'arm' ? 'v7' : undefined };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.arch}${p.variant === undefined ? '' : `/${p.variant}`}`;
}

/** The automatic platform arguments for a build on `build` for `target` (the same machine unless cross-building). */
export function platformArgs(build: Platform = hostPlatform(), target: Platform = build): ReadonlyMap<string, string> {
  return new Map([
    ['BUILDPLATFORM', formatPlatform(build)], ['BUILDOS', build.os], ['BUILDARCH', build.arch], ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)], ['TARGETOS', target.os], ['TARGETARCH', target.arch], ['TARGETVARIANT', target.variant ?? ''],
  ]);
}

/** `--build-arg` values: `K=V`, or `K` alone taking $K from `env` (skipped when $K is unset). Last one wins. */
export function parseBuildArgs(items: readonly string[], env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '') throw usageError(`invalid --build-arg ${JSON.stringify(item)}: the name is empty`, 'write --build-arg NAME=VALUE, or --build-arg NAME to pass $NAME');
    if (eq >= 0) out.set(key, item.slice(eq + 1));
    else if (env[key] !== undefined) out.set(key, env[key] as string);
  }
  return out;
}

/** Docker's warning for build args that no ARG of the built stages (or the global scope) declared. */
export function unusedBuildArgsWarning(buildArgs: ReadonlyMap<string, string>, declared: ReadonlySet<string>): string | undefined {
  const unused = [...buildArgs.keys()]
    .filter((k) => !declared.has(k) && !PROXY_ARGS.includes(k) && !PLATFORM_ARGS.includes(k) && !BUILDKIT_ARGS.includes(k))
    .sort();
  return unused.length === 0 ? undefined : `[Warning] One or more build-args [${unused.join(' ')}] were not consumed`;
}
