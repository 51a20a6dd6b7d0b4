// bpf(2): loading a cgroup device program and attaching it to a cgroup v2 directory (instructions from
// src/engine/cgroups/bpf-devices.ts), and the tc program and hash map of the bridge bypass (instructions from
// src/engine/network/bypass-program.ts). This module only fills the kernel's union bpf_attr and makes the calls.
import { GantryError } from '../common/errors.js';
import { bufferAddress, O_RDONLY, sysBpf, sysClose, sysOpen, SyscallError } from './ffi.js';

const BPF_MAP_CREATE = 0;
const BPF_MAP_UPDATE_ELEM = 2;
const BPF_MAP_DELETE_ELEM = 3;
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_MAP_TYPE_HASH = 1;
/** Hash map entries are allocated when added, not all at creation. */
const BPF_F_NO_PREALLOC = 1;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const O_DIRECTORY = 0o200000;
/** Programs already on one cgroup that a query reads back (ours: one, briefly two). */
const MAX_QUERY = 64;

/**
 * Loads a program (`name` ≤ 15 characters) and answers its fd; on a verifier refusal, loads it again with the log on
 * so the error can say why.
 */
export function loadProgram(type: number, insns: Buffer, name: string, object: string): number {
  const license = Buffer.alloc(4);
  license.write('GPL');
  const attr = (log: Buffer | undefined): Buffer => {
    const a = Buffer.alloc(64);
    a.writeUInt32LE(type, 0);
    a.writeUInt32LE(insns.length / 8, 4);
    a.writeBigUInt64LE(bufferAddress(insns), 8);
    a.writeBigUInt64LE(bufferAddress(license), 16);
    if (log !== undefined) {
      a.writeUInt32LE(1, 24);
      a.writeUInt32LE(log.length, 28);
      a.writeBigUInt64LE(bufferAddress(log), 32);
    }
    a.write(name.slice(0, 15), 48, 'latin1');
    return a;
  };
  try {
    return sysBpf(BPF_PROG_LOAD, attr(undefined), 'bpf BPF_PROG_LOAD', object);
  } catch (e) {
    if (!(e instanceof SyscallError) || (e.errnoName !== 'EINVAL' && e.errnoName !== 'EACCES')) throw e;
    const log = Buffer.alloc(16384);
    try { sysBpf(BPF_PROG_LOAD, attr(log), 'bpf BPF_PROG_LOAD', object); } catch { /* the log says why */ }
    const lines = log.toString('latin1').replace(/\0[^]*$/, '').trim().split('\n');
    throw new GantryError('SYSCALL_FAILED', `${e.message}: the verifier refused the program ${name}`, {
      cause: e, hint: `this is a gantry bug; the verifier's last words: ${lines.slice(-2).join(' / ')}`,
    });
  }
}

/** Ids of the device programs attached directly to the cgroup. */
function attachedIds(cgroupFd: number, object: string): number[] {
  const ids = Buffer.alloc(MAX_QUERY * 4);
  const a = Buffer.alloc(40);
  a.writeUInt32LE(cgroupFd, 0);
  a.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
  a.writeBigUInt64LE(bufferAddress(ids), 16);
  a.writeUInt32LE(MAX_QUERY, 24);
  sysBpf(BPF_PROG_QUERY, a, 'bpf BPF_PROG_QUERY', object);
  const count = Math.min(a.readUInt32LE(24), MAX_QUERY);
  return Array.from({ length: count }, (_, i) => ids.readUInt32LE(i * 4));
}

function attachOrDetach(cmd: number, cgroupFd: number, progFd: number, flags: number, call: string, object: string): void {
  const a = Buffer.alloc(20);
  a.writeUInt32LE(cgroupFd, 0);
  a.writeUInt32LE(progFd, 4);
  a.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
  a.writeUInt32LE(flags, 12);
  sysBpf(cmd, a, call, object);
}

/**
 * Makes `insns` the cgroup's device filter: loads it, attaches it (BPF_F_ALLOW_MULTI, so nested cgroups can add
 * their own), then detaches the programs that were there before — new before old, so no access slips through
 * in between. The attachment holds the program; it goes when the cgroup is removed.
 */
export function setCgroupDeviceProgram(cgroupDir: string, insns: Buffer): void {
  const progFd = loadProgram(BPF_PROG_TYPE_CGROUP_DEVICE, insns, 'gantry_devices', cgroupDir);
  let cgroupFd = -1;
  try {
    cgroupFd = sysOpen(cgroupDir, O_RDONLY | O_DIRECTORY);
    const before = attachedIds(cgroupFd, cgroupDir);
    attachOrDetach(BPF_PROG_ATTACH, cgroupFd, progFd, BPF_F_ALLOW_MULTI, 'bpf BPF_PROG_ATTACH', cgroupDir);
    for (const id of before) {
      const idAttr = Buffer.alloc(12);
      idAttr.writeUInt32LE(id, 0);
      const oldFd = sysBpf(BPF_PROG_GET_FD_BY_ID, idAttr, 'bpf BPF_PROG_GET_FD_BY_ID', `${cgroupDir} program ${id}`);
      try {
        attachOrDetach(BPF_PROG_DETACH, cgroupFd, oldFd, 0, 'bpf BPF_PROG_DETACH', `${cgroupDir} program ${id}`);
      } finally {
        sysClose(oldFd);
      }
    }
  } finally {
    if (cgroupFd >= 0) sysClose(cgroupFd);
    sysClose(progFd);
  }
}

/** Ids of the device programs attached directly to a cgroup v2 directory (for tests and diagnostics). */
export function cgroupDeviceProgramIds(cgroupDir: string): number[] {
  const fd = sysOpen(cgroupDir, O_RDONLY | O_DIRECTORY);
  try { return attachedIds(fd, cgroupDir); } finally { sysClose(fd); }
}

/** A hash map (entries allocated as they are added, up to `maxEntries`); answers its fd. `name` ≤ 15 characters. */
export function createHashMap(keySize: number, valueSize: number, maxEntries: number, name: string): number {
  const a = Buffer.alloc(48);
  a.writeUInt32LE(BPF_MAP_TYPE_HASH, 0);
  a.writeUInt32LE(keySize, 4);
  a.writeUInt32LE(valueSize, 8);
  a.writeUInt32LE(maxEntries, 12);
  a.writeUInt32LE(BPF_F_NO_PREALLOC, 16);
  a.write(name.slice(0, 15), 28, 'latin1');
  return sysBpf(BPF_MAP_CREATE, a, 'bpf BPF_MAP_CREATE', `map ${name}`);
}

/** Sets `key` to `value` (BPF_ANY: added or replaced). */
export function mapUpdate(mapFd: number, key: Buffer, value: Buffer, object: string): void {
  const a = Buffer.alloc(32);
  a.writeUInt32LE(mapFd, 0);
  a.writeBigUInt64LE(bufferAddress(key), 8);
  a.writeBigUInt64LE(bufferAddress(value), 16);
  sysBpf(BPF_MAP_UPDATE_ELEM, a, 'bpf BPF_MAP_UPDATE_ELEM', object);
}

/** Removes `key`; false when it was not there. */
export function mapDelete(mapFd: number, key: Buffer, object: string): boolean {
  const a = Buffer.alloc(16);
  a.writeUInt32LE(mapFd, 0);
  a.writeBigUInt64LE(bufferAddress(key), 8);
  try {
    sysBpf(BPF_MAP_DELETE_ELEM, a, 'bpf BPF_MAP_DELETE_ELEM', object);
    return true;
  } catch (e) {
    if (e instanceof SyscallError && e.errnoName === 'ENOENT') return false;
    throw e;
  }
}
