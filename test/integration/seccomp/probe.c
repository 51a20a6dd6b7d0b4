/* The seccomp probe: tries syscalls a default profile refuses and a few it allows, printing `NAME ERRNO` for each
 * (0 = the call succeeded). Static, so it runs in a busybox image. Meant for a container only. Nothing it makes outlives it: keys, namespaces
 * and mounts belong to this process, a cloned child exits at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A syscall of the 32-bit ABI (i386) from this 64-bit process: seccomp sees AUDIT_ARCH_I386 and i386 numbers. */
static long int80(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

static void report(const char *name, long r) {
  printf("%s %d\n", name, r < 0 ? errno : 0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
#define TRY(name, call) do { if (!only || strcmp(only, name) == 0) { errno = 0; long r_ = (long)(call); report(name, r_); } } while (0)
  TRY("getpid", syscall(SYS_getpid));
  TRY("mkdir", syscall(SYS_mkdir, "/tmp/seccomp-probe-dir", 0700));
  TRY("socket_inet", syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0));
  TRY("socket_vsock", syscall(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0));
  TRY("personality_query", syscall(SYS_personality, 0xffffffffUL));
  TRY("personality_norandom", syscall(SYS_personality, 0x0040000UL /* ADDR_NO_RANDOMIZE */));
  TRY("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
  TRY("add_key", syscall(SYS_add_key, "gantry-no-such-type", "probe", "x", 1, -2 /* process keyring */));
  TRY("io_uring_setup", ({ unsigned char params[120] = {0}; long r = syscall(SYS_io_uring_setup, 1, params); if (r >= 0) close((int)r); r; }));
  TRY("clone3", syscall(SYS_clone3, NULL, 0));
  TRY("clone_newuser", ({ long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0); if (r == 0) _exit(0); if (r > 0) waitpid((pid_t)r, NULL, 0); r; }));
  /* a directory only the probe's image has: run on a host by mistake, this mounts nothing (ENOENT) */
  TRY("mount", syscall(SYS_mount, "none", "/seccomp-probe-mnt", "tmpfs", 0, "size=64k"));
  TRY("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER)); /* last: after it this process holds no capability */
  /* i386 only when asked (`i386` or a name): a profile without the i386 ABI kills the process for them */
#define TRY32(name, call) do { if (only && (strcmp(only, "i386") == 0 || strcmp(only, name) == 0)) { errno = 0; long r_ = (call); report(name, r_); } } while (0)
  TRY32("i386_getpid", int80(20, 0, 0, 0));
  TRY32("i386_keyctl", int80(288, 0, -3, 0));
  TRY32("i386_clone3", int80(435, 0, 0, 0));
  return 0;
}
