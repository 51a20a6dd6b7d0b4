// Linux capabilities by name, Docker's default set, and the mask handed to the shim.
import { readFileSync } from 'node:fs';
import { GantryError } from '../../common/errors.js';

export const CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID',
  'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK',
  'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT',
  'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL',
  'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE'] as const;

/** Docker's default capability set for containers. */
export const DEFAULT_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID',
  'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];

function capNumber(name: string): number {
  const n = name.toUpperCase().replace(/^CAP_/, '');
  const i = (CAPABILITIES as readonly string[]).indexOf(n);
  if (i < 0) throw new GantryError('USAGE', `unknown capability "${name}"`, { hint: `known capabilities: ${CAPABILITIES.join(', ')}, or ALL` });
  return i;
}

/** The host's own bounding set: a container can never hold more than the daemon has. */
function hostBoundingSet(): bigint {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt(`0x${m[1]}`) : (1n << 41n) - 1n;
  } catch {
    return (1n << 41n) - 1n;
  }
}

/**
 * Resolves --cap-add/--cap-drop into a 64-bit mask, the way docker does: start from the defaults (or nothing when
 * ALL is dropped), remove the drops, then grant the adds (an add wins over a drop of the same capability).
 * --privileged grants everything and ignores drops.
 */
export function capabilityMask(capAdd: readonly string[], capDrop: readonly string[], privileged = false): bigint {
  const all = (1n << BigInt(CAPABILITIES.length)) - 1n;
  const bit = (c: string): bigint => 1n << BigInt(capNumber(c));
  const isAll = (c: string): boolean => c.toUpperCase() === 'ALL';
  let mask = 0n;
  if (privileged || capAdd.some(isAll)) {
    mask = all;
  } else if (!capDrop.some(isAll)) {
    for (const c of DEFAULT_CAPABILITIES) mask |= bit(c);
  }
  if (!privileged) for (const c of capDrop) if (!isAll(c)) mask &= ~bit(c);
  for (const c of capAdd) if (!isAll(c)) mask |= bit(c);
  return mask & hostBoundingSet();
}

/** Validates names without computing (for create-time errors). */
export function validateCapabilities(names: string[]): void {
  for (const c of names) if (c.toUpperCase() !== 'ALL') capNumber(c);
}
