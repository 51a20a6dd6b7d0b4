// Where a daemon keeps its state, its socket and its runtime files, and the prefix of its kernel objects.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GantryError } from './errors.js';

export const DEFAULT_ROOT = '/var/lib/gantry';
export const DEFAULT_HOST = 'unix:///run/gantry/gantry.sock';
export const DEFAULT_PREFIX = 'gantry';

export interface DaemonPaths {
  root: string;
  socket: string;
  runDir: string;
  /** Prefix of kernel objects: cgroups `<prefix>/<id>`, links start with a short form of it. */
  prefix: string;
}

export function socketPathFromHost(host: string): string {
  if (host.startsWith('unix://')) return host.slice('unix://'.length);
  if (host.startsWith('/')) return host;
  throw new GantryError('USAGE', `unsupported GANTRY_HOST "${host}"`, { hint: 'use unix:///path/to/gantry.sock' });
}

export function resolveDaemonPaths(opts: { root?: string | undefined; host?: string | undefined; prefix?: string | undefined }, env = process.env): DaemonPaths {
  const root = resolve(opts.root ?? env['GANTRY_ROOT'] ?? DEFAULT_ROOT);
  const socket = resolve(socketPathFromHost(opts.host ?? env['GANTRY_HOST'] ?? DEFAULT_HOST));
  const prefix = opts.prefix ?? env['GANTRY_PREFIX'] ?? DEFAULT_PREFIX;
  if (!/^[a-z][a-z0-9-]{0,15}$/.test(prefix)) {
    throw new GantryError('USAGE', `invalid prefix "${prefix}"`, { hint: 'a prefix is 1-16 lowercase letters, digits or dashes, starting with a letter' });
  }
  return { root, socket, runDir: dirname(socket), prefix };
}

export function containerDir(root: string, id: string): string {
  return join(root, 'containers', id);
}

/** gantry's own socket directory (`/run/gantry`): always root's alone. */
export const DEFAULT_SOCKET_DIR = dirname(socketPathFromHost(DEFAULT_HOST));

/**
 * Makes sure the socket's directory exists. A directory gantry creates (and its own default one) is made
 * 0700; an existing directory someone else made (`/tmp` for `unix:///tmp/x.sock`) is left as it is.
 * Returns whether the mode was set.
 */
export function prepareSocketDir(socketPath: string, ownDir = DEFAULT_SOCKET_DIR): boolean {
  const dir = dirname(resolve(socketPath));
  const existed = existsSync(dir);
  if (!existed) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existed && dir !== resolve(ownDir)) return false;
  chmodSync(dir, 0o700); // mkdir's mode is cut by the umask
  return true;
}
