// The device rules a container's cgroup gets: Docker's effective default list, and the allow-all of --privileged.
import { GantryError } from '../../common/errors.js';
import type { DeviceRule } from './types.js';

const c = (major: number | '*', minor: number | '*', access: string): DeviceRule => ({ type: 'c', major, minor, access });

/**
 * What a Docker container may use (moby's default spec, plus the rules runc appends to every container): mknod of
 * any node (opening it is another matter), the standard /dev nodes, ptys and /dev/net/tun. Everything else — the
 * host's consoles (c 4:*), disks, /dev/mem, /dev/kmsg, fuse — is denied, whoever owns the node.
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = Object.freeze([
  c('*', '*', 'm'), { type: 'b', major: '*', minor: '*', access: 'm' },
  c(1, 3, 'rwm'), // null
  c(1, 5, 'rwm'), // zero
  c(1, 7, 'rwm'), // full
  c(1, 8, 'rwm'), // random
  c(1, 9, 'rwm'), // urandom
  c(5, 0, 'rwm'), // tty
  c(5, 1, 'rwm'), // console
  c(5, 2, 'rwm'), // ptmx
  c(136, '*', 'rwm'), // /dev/pts/*
  c(10, 200, 'rwm'), // /dev/net/tun (runc kept it for compatibility)
]);

/** --privileged: every device. */
export const ALLOW_ALL_DEVICES: readonly DeviceRule[] = Object.freeze([{ type: 'a', major: '*', minor: '*', access: 'rwm' }]);

/** Docker's --device permissions: some of r, w, m, each once; default rwm. */
export function checkDeviceAccess(access: string, what: string): string {
  if (access === '' || !/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    throw new GantryError('INVALID_ARGUMENT', `invalid device permissions "${access}" for ${what}`, {
      hint: 'give some of r (read), w (write) and m (mknod), e.g. rw or rwm',
    });
  }
  return access;
}

/** Whether `rules` (an allow list over deny-all, as the kernel applies it) allow `access` on one device. */
export function devicesAllow(rules: readonly DeviceRule[], dev: { type: 'b' | 'c'; major: number; minor: number }, access: 'r' | 'w' | 'm'): boolean {
  return rules.some((r) => (r.type === 'a' || r.type === dev.type) && (r.major === '*' || r.major === dev.major)
    && (r.minor === '*' || r.minor === dev.minor) && r.access.includes(access));
}
