// The whole FFI surface of the project: typed koffi bindings to libc. Nothing outside src/sys imports koffi.
// koffi and libc are loaded on first use, so importing this module costs nothing (the CLI never calls it).
// Every wrapper throws GantryError('SYSCALL_FAILED') naming the call, the object and the errno name.
import { createRequire } from 'node:module';
import { GantryError } from '../common/errors.js';
import type * as Koffi from 'koffi';

type KoffiModule = typeof Koffi;

/** Raw libc functions, as koffi binds them. Buffers are passed where C takes a pointer. */
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, addrlen: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, addrlen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  close(fd: number): number;
  open(path: string, flags: number, mode: number): number;
  setns(fd: number, nstype: number): number;
  if_nametoindex(name: string): number;
  gettid(): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  unshare(flags: number): number;
  waitpid(pid: number, status: Buffer | null, options: number): number;
  prctl(option: number, a2: number, a3: number, a4: number, a5: number): number;
  /** syscall(2), variadic: koffi takes each extra argument as a (type, value) pair. */
  syscall(nr: number, ...typedArgs: unknown[]): number;
  /** ioctl(2), variadic as syscall. */
  ioctl(fd: number, request: number, ...typedArgs: unknown[]): number;
}

let koffi: KoffiModule | undefined;
let libc: Libc | undefined;
let errnoNames: Map<number, string> | undefined;

function load(): { k: KoffiModule; c: Libc } {
  if (koffi !== undefined && libc !== undefined) return { k: koffi, c: libc };
  const require = createRequire(import.meta.url);
  let k: KoffiModule;
  try {
    k = require('koffi') as KoffiModule;
  } catch (e) {
    throw new GantryError('INTERNAL', 'cannot load koffi (the FFI library)', { cause: e, hint: 'run npm install' });
  }
  const tried: string[] = [];
  let lib: Koffi.LibraryHandle | undefined;
  for (const name of ['libc.so.6', 'libc.so']) {
    try {
      lib = k.load(name);
      break;
    } catch (e) {
      tried.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (lib === undefined) throw new GantryError('INTERNAL', `cannot load libc (tried ${tried.join('; ')})`);
  const c: Libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
    bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)') as Libc['bind'],
    sendto: lib.func(
      'intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)',
    ) as Libc['sendto'],
    recv: lib.func('intptr_t recv(int fd, void *buf, size_t len, int flags)') as Libc['recv'],
    setsockopt: lib.func(
      'int setsockopt(int fd, int level, int name, const void *value, uint32_t len)',
    ) as Libc['setsockopt'],
    close: lib.func('int close(int fd)') as Libc['close'],
    open: lib.func('int open(const char *path, int flags, uint32_t mode)') as Libc['open'],
    setns: lib.func('int setns(int fd, int nstype)') as Libc['setns'],
    if_nametoindex: lib.func('uint32_t if_nametoindex(const char *name)') as Libc['if_nametoindex'],
    gettid: lib.func('int gettid()') as Libc['gettid'],
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)') as Libc['mount'],
    umount2: lib.func('int umount2(const char *target, int flags)') as Libc['umount2'],
    unshare: lib.func('int unshare(int flags)') as Libc['unshare'],
    waitpid: lib.func('int waitpid(int pid, int *status, int options)') as Libc['waitpid'],
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)') as Libc['prctl'],
    syscall: lib.func('long syscall(long nr, ...)') as Libc['syscall'],
    ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)') as Libc['ioctl'],
  };
  koffi = k;
  libc = c;
  return { k, c };
}

/** The errno name of a number ("EEXIST"), or "errno N". */
export function errnoName(errno: number): string {
  if (errnoNames === undefined) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(load().k.os.errno)) errnoNames.set(Number(value), name);
  }
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** The errno number of a name ("EEXIST" → 17), from the platform's table. */
export function errnoNumber(name: string): number | undefined {
  const v = load().k.os.errno[name];
  return v === undefined ? undefined : Number(v);
}

/** A failed system call: `call \`object\`: ENAME`. `errno` is kept in detail for callers that branch on it. */
export class SyscallError extends GantryError {
  readonly errno: number;
  readonly errnoName: string;
  readonly call: string;

  constructor(call: string, object: string, errno: number, hint?: string) {
    const name = errnoName(errno);
    super('SYSCALL_FAILED', `${call} \`${object}\`: ${name}`, { hint, detail: { call, object, errno: name } });
    this.name = 'SyscallError';
    this.errno = errno;
    this.errnoName = name;
    this.call = call;
  }
}

function check(ret: number, call: string, object: string): number {
  if (ret < 0) throw new SyscallError(call, object, load().k.errno());
  return ret;
}

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_RCVTIMEO = 20;
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const CLONE_NEWNET = 0x40000000;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40;

export function sysSocket(domain: number, type: number, protocol: number, object = 'socket'): number {
  return check(load().c.socket(domain, type, protocol), 'socket', object);
}

export function sysBind(fd: number, addr: Buffer, object = `fd ${fd}`): void {
  check(load().c.bind(fd, addr, addr.length), 'bind', object);
}

/** sendto(2); returns bytes sent. `addr` null sends on a connected socket. */
export function sysSendto(fd: number, buf: Buffer, addr: Buffer | null, object = `fd ${fd}`): number {
  return check(load().c.sendto(fd, buf, buf.length, 0, addr, addr === null ? 0 : addr.length), 'sendto', object);
}

/** recv(2) into `buf`; returns bytes received. */
export function sysRecv(fd: number, buf: Buffer, flags = 0, object = `fd ${fd}`): number {
  return check(load().c.recv(fd, buf, buf.length, flags), 'recv', object);
}

export function sysSetsockoptInt(fd: number, level: number, name: number, value: number, object = `fd ${fd}`): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value, 0);
  check(load().c.setsockopt(fd, level, name, b, 4), 'setsockopt', object);
}

/** SO_RCVTIMEO: a blocking recv gives up with EAGAIN after `ms`. */
export function sysSetRecvTimeout(fd: number, ms: number): void {
  const b = Buffer.alloc(16); // struct timeval on 64-bit Linux: two longs
  b.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  b.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  check(load().c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, b, 16), 'setsockopt SO_RCVTIMEO', `fd ${fd}`);
}

export function sysClose(fd: number, object = `fd ${fd}`): void {
  check(load().c.close(fd), 'close', object);
}

export function sysOpen(path: string, flags: number, mode = 0): number {
  return check(load().c.open(path, flags | O_CLOEXEC, mode), 'open', path);
}

/** setns(2) for the calling thread. */
export function sysSetns(fd: number, nstype: number, object = `fd ${fd}`): void {
  check(load().c.setns(fd, nstype), 'setns', object);
}

/** mount(2) on the host's mount table (the daemon's own namespace). */
export function sysMount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null = null): void {
  check(load().c.mount(source, target, fstype, flags, data), `mount ${fstype ?? source ?? ''}`.trim(), target);
}

export const MNT_DETACH = 2;

/** umount2(2); false when nothing is mounted there (EINVAL) or the path is gone (ENOENT). */
export function sysUmount2(target: string, flags: number): boolean {
  const { c, k } = load();
  if (c.umount2(target, flags) === 0) return true;
  const errno = k.errno();
  if (errnoName(errno) === 'EINVAL' || errnoName(errno) === 'ENOENT') return false;
  throw new SyscallError('umount2', target, errno);
}

/** unshare(2) for the calling thread (CLONE_NEWNET: a new network namespace for this thread only). */
export function sysUnshare(flags: number, object: string): void {
  check(load().c.unshare(flags), 'unshare', object);
}

/** prctl(PR_SET_CHILD_SUBREAPER): orphans of this process's descendants become its children, not init's. */
export function sysSetChildSubreaper(): void {
  check(load().c.prctl(36, 1, 0, 0, 0), 'prctl PR_SET_CHILD_SUBREAPER', 'the daemon');
}

/** waitpid(pid, WNOHANG) for one child: 'reaped', 'running' (not exited yet), or 'not-child' (ECHILD). */
export function sysReapChild(pid: number): 'reaped' | 'running' | 'not-child' {
  const { c, k } = load();
  const r = c.waitpid(pid, null, 1 /* WNOHANG */);
  if (r === pid) return 'reaped';
  if (r === 0) return 'running';
  const errno = k.errno();
  if (errnoName(errno) === 'ECHILD') return 'not-child';
  throw new SyscallError('waitpid', `pid ${pid}`, errno);
}

/** Interface index in the calling thread's network namespace, or undefined when there is none. */
export function ifNameToIndex(name: string): number | undefined {
  const i = load().c.if_nametoindex(name);
  return i === 0 ? undefined : i;
}

export function sysGettid(): number {
  return load().c.gettid();
}

/** bpf(2)'s number (glibc has no wrapper): x86-64 321, arm64 280. */
function bpfSyscallNumber(): number {
  if (process.arch === 'x64') return 321;
  if (process.arch === 'arm64') return 280;
  throw new GantryError('UNSUPPORTED', `bpf(2) is not wired for the ${process.arch} architecture`, { hint: 'use cgroup v1 on this machine, or add its syscall number' });
}

/** bpf(2): `attr` is the command's part of union bpf_attr, as bytes; returns the kernel's answer (an fd for loads). */
export function sysBpf(cmd: number, attr: Buffer, call: string, object: string): number {
  return check(load().c.syscall(bpfSyscallNumber(), 'int', cmd, 'void *', attr, 'unsigned int', attr.length), call, object);
}

// The new mount API's syscall numbers are the same on every architecture (they came after the unification).
const SYS_FSOPEN = 430;
const SYS_FSCONFIG = 431;
const SYS_FSMOUNT = 432;
const FSOPEN_CLOEXEC = 1;
const FSCONFIG_SET_FD = 5;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;
const MOUNT_ATTR_NOSUID_NODEV_NOEXEC = 0x2 | 0x4 | 0x8;

/**
 * A procfs instance of the pid namespace `pidnsFd`, as a detached mount (an O_PATH-like fd of its root, reached as
 * /proc/self/fd/N/…): it is in no mount table and goes away with its last fd. fsopen(2) + the `pidns` option
 * (Linux 6.15+); the caller falls back to /proc when this throws.
 */
export function sysProcInstance(pidnsFd: number, object: string): number {
  const { c } = load();
  const fs = check(c.syscall(SYS_FSOPEN, 'const char *', 'proc', 'unsigned int', FSOPEN_CLOEXEC), 'fsopen', 'proc');
  try {
    check(c.syscall(SYS_FSCONFIG, 'int', fs, 'unsigned int', FSCONFIG_SET_FD, 'const char *', 'pidns', 'void *', null, 'int', pidnsFd), 'fsconfig pidns', object);
    check(c.syscall(SYS_FSCONFIG, 'int', fs, 'unsigned int', FSCONFIG_CMD_CREATE, 'void *', null, 'void *', null, 'int', 0), 'fsconfig create', 'proc');
    return check(c.syscall(SYS_FSMOUNT, 'int', fs, 'unsigned int', FSMOUNT_CLOEXEC, 'unsigned int', MOUNT_ATTR_NOSUID_NODEV_NOEXEC), 'fsmount', 'proc');
  } finally {
    c.close(fs);
  }
}

/** The address of a buffer's bytes, for a pointer inside a struct given to the kernel; keep the buffer referenced until the call returns. */
export function bufferAddress(buf: Buffer): bigint {
  return BigInt(load().k.address(buf) as unknown as bigint);
}

const O_DIRECTORY = 0o200000;
const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

/**
 * Marks `dir` as the top of directory hierarchies for ext4's Orlov allocator (`chattr +T`): each directory made in
 * it is placed in a block group of its own choosing, with few directories, rather than near its parent. False when
 * the filesystem has no such flag (anything but ext2/3/4); the flag is only a placement hint.
 */
export function sysSetTopDirFlag(dir: string): boolean {
  const { c, k } = load();
  const fd = c.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError('open', dir, k.errno());
  try {
    const flags = Buffer.alloc(4);
    if (c.ioctl(fd, FS_IOC_GETFLAGS, 'void *', flags) !== 0) return false;
    const now = flags.readInt32LE(0);
    if ((now & FS_TOPDIR_FL) !== 0) return true;
    flags.writeInt32LE(now | FS_TOPDIR_FL, 0);
    return c.ioctl(fd, FS_IOC_SETFLAGS, 'void *', flags) === 0;
  } finally {
    c.close(fd);
  }
}

const SIOCGIFINDEX = 0x8933;
const IFNAMSIZ = 16;

/**
 * The index of network device `name` in the network namespace of socket `fd` (any socket: the kernel answers
 * SIOCGIFINDEX for every family), or undefined when there is none (ENODEV). Unlike an RTM_GETLINK it fills no link
 * message: for a veth whose peer is in another namespace that fill looks up (or allocates) the peer namespace's id
 * among all of this namespace's, one walk per call that grows with the containers on the host.
 */
export function sysIfIndex(fd: number, name: string): number | undefined {
  const ifreq = Buffer.alloc(40); // struct ifreq: ifr_name[IFNAMSIZ], then the union (ifr_ifindex: an int)
  if (Buffer.byteLength(name) >= IFNAMSIZ || name.includes('\0')) return undefined; // no device has such a name
  ifreq.write(name, 0, 'utf8');
  if (load().c.ioctl(fd, SIOCGIFINDEX, 'void *', ifreq) === 0) return ifreq.readInt32LE(IFNAMSIZ);
  const errno = load().k.errno();
  if (errno === 19) return undefined; // ENODEV
  throw new SyscallError('ioctl SIOCGIFINDEX', name, errno);
}

const SIOCOUTQ = 0x5411; // TIOCOUTQ: for a socket, the bytes sent that the peer has not read yet

/**
 * How many bytes written to the stream socket `fd` its peer has not read yet (on a unix socket: not received by
 * the reading process); undefined when the kernel cannot tell.
 */
export function sysUnreadByPeer(fd: number): number | undefined {
  const out = Buffer.alloc(4);
  return load().c.ioctl(fd, SIOCOUTQ, 'void *', out) === 0 ? out.readInt32LE(0) : undefined;
}
