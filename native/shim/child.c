/* The shim's children. run: the clone()d container init (joins its cgroups itself on v1, waits until the shim has
 * put it in them on v2, builds its root up to pivot_root meanwhile the daemon sets up the network, blocks until
 * `go`, then finishes the container and execs the command, or with `init 1` the init image of init.c). exec: a
 * helper that joins the container's cgroups (v1) and the target's namespaces and forks the process (so that the
 * pid namespace applies to it). */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define FD_SYNC 3
#define FD_ERR 4
#define FD_AUX 5
#define FD_TEMPLATE 6

/* stdio to 0/1/2, the kept fds to 3/4/5/6 (via high numbers, so no dup2 clobbers another), the rest closed:
 * nothing of the shim (socket, log, control pipes) leaks into the container. All close-on-exec. */
static void arrange_fds(struct child_fds *f) {
  int keep[4] = {f->sync, f->errpipe, f->aux, f->template};
  for (int i = 0; i < 4; i++)
    if (keep[i] >= 0) keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 100);
  dup2(f->in, 0);
  dup2(f->out, 1);
  dup2(f->err, 2);
  for (int i = 0; i < 4; i++)
    if (keep[i] >= 0) dup3(keep[i], 3 + i, O_CLOEXEC);
  syscall(SYS_close_range, FD_TEMPLATE + 1, ~0U, 0); /* no libc wrapper in every C library */
  if (keep[2] < 0) close(FD_AUX);
  if (keep[3] < 0) close(FD_TEMPLATE);
  f->sync = FD_SYNC;
  f->errpipe = FD_ERR;
  f->aux = keep[2] < 0 ? -1 : FD_AUX;
  f->template = keep[3] < 0 ? -1 : FD_TEMPLATE;
}

/* cgroup v1: moves the calling process into its cgroups by writing "0" to each hierarchy's `tasks` file (opened by
 * the shim; closed by arrange_fds). The caller is single-threaded (just cloned or forked), so its one thread is the
 * whole process. A thread moving itself is the one migration for which the kernel takes no global lock: writing
 * a pid to `cgroup.procs`, as the shim does on v2, takes cgroup_threadgroup_rwsem for writing, which after an idle
 * moment waits for an RCU grace period (7-20 ms here) with the cgroup mutex held; this write takes ~0.03 ms. */
static int join_cgroups(const struct spec *s, const struct child_fds *f) {
  for (size_t i = 0; i < f->njoin; i++) {
    ssize_t r;
    do r = write(f->join[i], "0", 1);
    while (r < 0 && errno == EINTR);
    if (r != 1) return fail_errno("join cgroup `%s`", s->cgroup_self.v[i]);
  }
  return 0;
}

/* Blocks until the shim sends `byte` on the sync pipe, or went away (EOF). */
static void wait_sync(char byte) {
  char c;
  ssize_t r;
  do r = read(FD_SYNC, &c, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1 || c != byte) _exit(1);
}

/* Blocks until the daemon said `go` (the shim sends `g`) or the shim went away (EOF). */
static void wait_go(void) {
  wait_sync('g');
  close(FD_SYNC);
}

static noreturn void setup_failed(void) { report_and_exit(FD_ERR, "setup-error", 255); }

static void start_command(const struct spec *s) {
  if (apply_creds(s) < 0) setup_failed();
  if (s->init) exec_init(s, FD_ERR);
  exec_command(s, FD_ERR);
}

/* Before `go`: nothing the daemon's network set-up could change, and no user code. In its cgroups already (`j`),
 * so the cgroup namespace made here has the container's cgroup as its root. */
static int prepare(const struct spec *s, struct child_fds *f) {
  if (f->aux >= 0) {
    if (setns(f->aux, CLONE_NEWNET) < 0) return fail_errno("setns `%s`", s->netns);
    close(f->aux);
  }
  if (s->cgroup_ns && unshare(CLONE_NEWCGROUP) < 0) return fail_errno("unshare `cgroup`");
  int prepared = rootfs_prepare(s, f->pts, f->template);
  if (f->template >= 0) close(f->template);
  f->template = -1;
  return prepared;
}

noreturn void run_child(const struct spec *s, struct child_fds *f) {
  /* First, and told to the shim (`c` on the error pipe), which says `ready` only once the init is in its cgroups;
   * a failure is the start's error at once (the shim reports it as its own). */
  if (f->njoin > 0) {
    if (join_cgroups(s, f) < 0) report_and_exit(f->errpipe, "setup-error", 255);
    if (write_all(f->errpipe, "c", 1) < 0) _exit(1);
  }
  arrange_fds(f);
  if (sched_restore() < 0) setup_failed();
  umask(0);
  wait_sync('j');
  /* a failure is reported after `go`, as every start error is: the daemon's steps before it run as usual */
  int prepared = prepare(s, f);
  /* `r`, first on the error pipe, success or not: the init is in the mount namespace it keeps (move_into_template
   * leaves the one clone gave it), which the shim holds from now on (release_namespaces); `g` comes only after it */
  (void)write_all(FD_ERR, "r", 1);
  wait_go();
  if (prepared < 0) setup_failed();
  /* lo comes up after the daemon turned IPv6 off in the namespace (docs/shim-protocol.md) */
  if ((s->clone_flags & CLONE_NEWNET) && loopback_up() < 0) setup_failed();
  if (rootfs_finish(s) < 0) setup_failed();
  if (apply_limits(s) < 0) setup_failed();
  start_command(s);
  _exit(255); /* not reached */
}

/* exec mode. The pid pipe (aux) carries "p<PID>" (the process, as the host sees it) or "e<MESSAGE>". */
static noreturn void helper_failed(int pidpipe) {
  char line[ERR_MAX + 1];
  int n = snprintf(line, sizeof line, "e%s", g_err);
  write_all(pidpipe, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
  _exit(1);
}

noreturn void exec_child(const struct spec *s, struct child_fds *f) {
  /* the process forked below inherits the cgroups */
  if (join_cgroups(s, f) < 0) helper_failed(f->aux);
  arrange_fds(f);
  static const struct { const char *name; int type; } ns[] = {
      {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
      {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS},
  };
  enum { NNS = sizeof ns / sizeof ns[0] };
  int fds[NNS];
  char path[64];
  /* open everything first: once in the mount namespace, /proc/PID is no longer the same path */
  for (size_t i = 0; i < NNS; i++) {
    snprintf(path, sizeof path, "/proc/%d/ns/%s", s->target_pid, ns[i].name);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0 && errno != ENOENT) {
      fail_errno("open `%s`", path);
      helper_failed(f->aux);
    }
  }
  snprintf(path, sizeof path, "/proc/%d/root", s->target_pid);
  _cleanup_close_ int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    fail_errno("open `%s`", path);
    helper_failed(f->aux);
  }
  for (size_t i = 0; i < NNS; i++) {
    if (fds[i] < 0) continue;
    if (setns(fds[i], ns[i].type) < 0) {
      fail_errno("setns `/proc/%d/ns/%s`", s->target_pid, ns[i].name);
      helper_failed(f->aux);
    }
    close(fds[i]);
  }
  if (fchdir(root) < 0 || chroot(".") < 0) {
    fail_errno("chroot `%s`", path);
    helper_failed(f->aux);
  }
  pid_t pid = fork();
  if (pid < 0) {
    fail_errno("fork in `/proc/%d/ns/pid`", s->target_pid);
    helper_failed(f->aux);
  }
  if (pid == 0) {
    close(f->aux);
    if (sched_restore() < 0) setup_failed();
    umask(0);
    wait_go();
    /* exec does not create `cwd` (docker's exec fails on a missing one): exec_command's chdir reports it */
    if (apply_limits(s) < 0) setup_failed();
    start_command(s);
  }
  char line[24];
  int n = snprintf(line, sizeof line, "p%d", pid);
  write_all(f->aux, line, (size_t)n);
  _exit(0);
}
