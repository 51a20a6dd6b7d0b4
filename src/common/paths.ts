// Where a daemon keeps its state, its socket and its runtime files, and the prefix of its kernel objects.
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
