/* The process side of the container: loopback, limits, credentials, capabilities, and the final
 * exec. Each step fills g_err naming the syscall and the object. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* The shim runs as SCHED_BATCH: a woken batch task does not preempt the one running, so the daemon's write of a
 * frame (a kill, an attach) is not interrupted by the shim's work on its CPU; the shim runs at the next tick or
 * on an idle CPU. The container's processes get the policy the shim was started with, restored in the child
 * before anything of the container runs. */
static int saved_policy = -1;
static struct sched_param saved_param;

/* Raw system calls: musl's wrappers for these are stubs (ENOSYS). */
void sched_batch(void) {
  saved_policy = (int)syscall(SYS_sched_getscheduler, 0);
  if (saved_policy < 0 || syscall(SYS_sched_getparam, 0, &saved_param) < 0) {
    saved_policy = -1;
    return;
  }
  struct sched_param none = {.sched_priority = 0};
  if (syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &none) < 0) saved_policy = -1;
}

int sched_restore(void) {
  if (saved_policy < 0) return 0;
  if (syscall(SYS_sched_setscheduler, 0, saved_policy, &saved_param) < 0) return fail_errno("sched_setscheduler `%d`", saved_policy);
  return 0;
}

int loopback_up(void) {
  _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_errno("socket AF_INET");
  struct ifreq ifr = {0};
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) return fail_errno("ioctl SIOCGIFFLAGS `lo`");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) return fail_errno("ioctl SIOCSIFFLAGS `lo`");
  return 0;
}

#ifdef __GLIBC__
typedef __rlimit_resource_t rlimit_resource; /* glibc's setrlimit takes an enum under _GNU_SOURCE */
#else
typedef int rlimit_resource;
#endif

int apply_limits(const struct spec *s) {
  if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
    return fail_errno("sethostname `%s`", s->hostname);
  for (size_t i = 0; i < s->rlimits.n; i++) {
    const char **r = s->rlimits.v + i * 3;
    long long res, soft, hard; /* checked by spec_load */
    parse_ll(r[0], 0, RLIM_NLIMITS - 1, &res);
    parse_ll(r[1], -1, INT64_MAX, &soft);
    parse_ll(r[2], -1, INT64_MAX, &hard);
    struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
    if (setrlimit((rlimit_resource)res, &rl) < 0) return fail_errno("setrlimit `%s`", r[0]);
  }
  if (s->has_oom) {
    char v[16];
    snprintf(v, sizeof v, "%d", s->oom_score_adj);
    if (write_file("/proc/self/oom_score_adj", v) < 0) return -1;
  }
  return 0;
}

static int set_caps(uint64_t caps) {
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  for (int i = 0; i < 2; i++) {
    uint32_t half = (uint32_t)(caps >> (32 * i));
    data[i].effective = data[i].permitted = half;
    /* Inheritable stays empty (Docker's rule since CVE-2022-24769): with it, a non-root command could regain the
     * set through files carrying inheritable capabilities. */
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) return fail_errno("capset `%llx`", (unsigned long long)caps);
  return 0;
}

int install_seccomp(const struct spec *s, bool late) {
  if (!s->has_seccomp || late != s->no_new_privs) return 0;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &s->seccomp) < 0)
    return fail_errno("seccomp SECCOMP_SET_MODE_FILTER `%u instructions`", (unsigned)s->seccomp.len);
  return 0;
}

int apply_creds(const struct spec *s) {
  /* without no_new_privs the kernel takes a filter only from a holder of CAP_SYS_ADMIN: before any is dropped */
  if (install_seccomp(s, false) < 0) return -1;
  if (s->has_caps) {
    for (int cap = 0; cap < 64; cap++) {
      if (s->caps & ((uint64_t)1 << cap)) continue;
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
        if (errno == EINVAL) break; /* past the kernel's last capability */
        return fail_errno("prctl PR_CAPBSET_DROP `%d`", cap);
      }
    }
  }
  if (s->has_user || s->has_groups) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail_errno("prctl PR_SET_KEEPCAPS");
    if (setgroups(s->ngroups, s->groups) < 0) return fail_errno("setgroups `%zu groups`", s->ngroups);
  }
  if (s->has_user) {
    if (setresgid(s->gid, s->gid, s->gid) < 0) return fail_errno("setgid `%u`", s->gid);
    if (setresuid(s->uid, s->uid, s->uid) < 0) return fail_errno("setuid `%u`", s->uid);
  }
  if (s->has_caps) {
    if (set_caps(s->caps) < 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
      return fail_errno("prctl PR_CAP_AMBIENT_CLEAR_ALL");
  }
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail_errno("prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}

noreturn void report_and_exit(int errfd, const char *kind, int code) {
  char line[ERR_MAX + 32];
  int n = snprintf(line, sizeof line, "%s %s", kind, g_err);
  if (n > 0) write_all(errfd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  _exit(code);
}

/* The shim ignores SIGPIPE/SIGHUP and blocks SIGCHLD; none of that may reach the command. */
static void reset_signals(void) {
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int new_session(bool tty) {
  reset_signals();
  if (setsid() < 0) return fail_errno("setsid");
  if (tty && ioctl(0, TIOCSCTTY, 0) < 0) return fail_errno("ioctl TIOCSCTTY");
  return 0;
}

noreturn void exec_argv(const char *const *argv, int errfd) {
  execvp(argv[0], (char *const *)argv); /* the PATH of `environ` */
  int err = errno;
  int code = err == ENOENT || err == ENOTDIR ? 127 : 126;
  errno = err;
  fail_errno("exec `%s`", argv[0]);
  char kind[24];
  snprintf(kind, sizeof kind, "exec-error %d", code);
  report_and_exit(errfd, kind, code);
}

noreturn void exec_command(const struct spec *s, int errfd) {
  if (new_session(s->tty) < 0) report_and_exit(errfd, "setup-error", 255);
  if (s->cwd && chdir(s->cwd) < 0) {
    fail_errno("chdir `%s`", s->cwd);
    report_and_exit(errfd, "setup-error", 255);
  }
  umask(022);
  static const char *no_env[] = {NULL};
  environ = (char **)(s->env.n ? s->env.v : no_env);
  if (install_seccomp(s, true) < 0) report_and_exit(errfd, "setup-error", 255);
  exec_argv(s->args.v, errfd);
}
