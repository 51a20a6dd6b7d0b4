// Gantry's default seccomp profile: Docker's default (moby/profiles seccomp/default.json, the one Docker 25+ ships:
// io_uring refused, AF_ALG and AF_VSOCK sockets refused) as data. Everything not
// listed fails with EPERM; some syscalls are allowed only with a capability (`--cap-add SYS_ADMIN` allows mount,
// unshare, setns…), or only with harmless arguments (clone without namespace flags, personality's usual values,
// socket of any family but AF_ALG and AF_VSOCK); clone3 answers ENOSYS without CAP_SYS_ADMIN so libcs fall back to clone,
// whose flags the filter can see.
import type { SeccompArg, SeccompProfile, SeccompRule } from './profile.js';

/** Allowed for every container. */
const ALWAYS = `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64
close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid
getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64
ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir
mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv
preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat
renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp
select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid
setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
cachestat fchmodat2 futex_requeue futex_wait futex_wake getxattrat listmount listxattrat map_shadow_stack mseal
removexattrat riscv_hwprobe setxattrat statmount uretprobe`;

/** Syscalls allowed only with a capability (Docker's `includes.caps`). */
const WITH_CAPABILITY: ReadonlyArray<[string, string]> = [
  ['CAP_DAC_READ_SEARCH', 'open_by_handle_at'],
  ['CAP_SYS_ADMIN', `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie lsm_get_self_attr
    lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd
    setdomainname sethostname setns syslog umount umount2 unshare`],
  ['CAP_SYS_BOOT', 'reboot'],
  ['CAP_SYS_CHROOT', 'chroot'],
  ['CAP_SYS_MODULE', 'delete_module init_module finit_module'],
  ['CAP_SYS_PACCT', 'acct'],
  ['CAP_SYS_PTRACE', 'kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace'],
  ['CAP_SYS_RAWIO', 'iopl ioperm'],
  ['CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'],
  ['CAP_SYS_TTY_CONFIG', 'vhangup'],
  ['CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'],
  ['CAP_SYSLOG', 'syslog'],
  ['CAP_BPF', 'bpf'],
  ['CAP_PERFMON', 'perf_event_open'],
];

/** Syscalls of some architectures only (Docker's `includes.arches`, Go's names). */
const ARCH_ONLY: ReadonlyArray<[string[], string]> = [
  [['ppc64le'], 'sync_file_range2 swapcontext'],
  [['arm', 'arm64'], 'arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls'],
  [['amd64', 'x32'], 'arch_prctl'],
  [['amd64', 'x32', 'x86'], 'modify_ldt'],
  [['s390', 's390x'], 's390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr'],
  [['riscv64'], 'riscv_flush_icache'],
];

/** The namespace flags of clone(2) (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): 0x7E020000. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000n;
/** The socket families the default refuses: AF_ALG (38) and AF_VSOCK (40). */
const AF_ALG = 38n;
const AF_VSOCK = 40n;
/** personality(2) values allowed: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and the query 0xffffffff. */
const PERSONALITIES = [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn];

const words = (s: string): string[] => s.split(/\s+/).filter((w) => w !== '');
const none = (): { caps: string[]; arches: string[] } => ({ caps: [], arches: [] });
const allow = (names: string[], extra: Partial<SeccompRule> = {}): SeccompRule =>
  ({ names, action: 'SCMP_ACT_ALLOW', args: [], includes: none(), excludes: none(), ...extra });
const cond = (index: number, op: SeccompArg['op'], value: bigint): SeccompArg => ({ index, op, value, valueTwo: 0n });

export function defaultSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1, // EPERM
    architectures: [],
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      allow(words(ALWAYS)),
      allow(['process_vm_readv', 'process_vm_writev', 'ptrace'], { includes: { ...none(), minKernel: '4.8' } }),
      allow(['socket'], { args: [cond(0, 'SCMP_CMP_LT', AF_ALG)] }),
      allow(['socket'], { args: [cond(0, 'SCMP_CMP_EQ', AF_ALG + 1n)] }),
      allow(['socket'], { args: [cond(0, 'SCMP_CMP_GT', AF_VSOCK)] }),
      ...PERSONALITIES.map((p) => allow(['personality'], { args: [cond(0, 'SCMP_CMP_EQ', p)] })),
      ...ARCH_ONLY.map(([arches, names]) => allow(words(names), { includes: { caps: [], arches } })),
      ...WITH_CAPABILITY.map(([cap, names]) => allow(words(names), { includes: { caps: [cap], arches: [] } })),
      allow(['clone'], { args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: CLONE_NAMESPACE_FLAGS, valueTwo: 0n }],
        excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } }),
      allow(['clone'], { args: [{ index: 1, op: 'SCMP_CMP_MASKED_EQ', value: CLONE_NAMESPACE_FLAGS, valueTwo: 0n }],
        includes: { caps: [], arches: ['s390', 's390x'] }, excludes: { caps: ['CAP_SYS_ADMIN'], arches: [] } }),
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 /* ENOSYS */, args: [], includes: none(),
        excludes: { caps: ['CAP_SYS_ADMIN'], arches: [] } },
    ],
  };
}
