/* gantry-shim: one per container (run) or exec session (exec). The handshake and the supervision
 * loop: docs/shim-protocol.md is the contract. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static struct spec spec;
static struct shim sh;

enum phase { WAIT_GO, STARTING, RUNNING };

static struct {
  bool exec_mode;
  enum phase phase;
  int listen_fd, sig_fd, sync_fd, err_fd; /* err_fd: read end of the child's error pipe */
  int hold_fd;                            /* `detach 1`: closed once the start is settled (see main) */
  int mnt_fd, net_fd;                     /* the init's mount and network namespaces, held (release_namespaces) */
  int out[2];                             /* stdout, stderr read ends (tty: master, -1) */
  char ctl[4];
  size_t ctl_len;
  char errline[ERR_MAX + 64];
  size_t errline_len;
  bool exited, exited_before_go;
  bool prepared, go_pending; /* prepared: the init's `r` came (or it never will); go_pending: `go` waits for it */
  int template_fd;           /* run, from the spawner (`mnt-template=3`): the template mount namespace, or -1 */
  int status;
  struct timespec finished, deadline;
} st = {.listen_fd = -1, .sig_fd = -1, .sync_fd = -1, .err_fd = -1, .hold_fd = -1, .mnt_fd = -1, .net_fd = -1, .out = {-1, -1}, .template_fd = -1};

static void status_line(const char *s, size_t n) {
  (void)write_all(1, s, n); /* the daemon may be gone: EPIPE is ignored */
}

/* ---- handshake -------------------------------------------------------------------------------- */

static pid_t child_pid = -1; /* pid to kill when the handshake fails */

static noreturn void handshake_failed(void) {
  if (child_pid > 0) {
    kill(child_pid, SIGKILL);
    waitpid(child_pid, NULL, 0);
  }
  if (st.listen_fd >= 0) unlink(spec.socket);
  char line[ERR_MAX + 8] = "error ";
  strcat(line, g_err);
  strcat(line, "\n");
  status_line(line, strlen(line));
  _exit(1);
}

static int set_nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The tty: the shim keeps the master; the slave (also reachable as PTS_PATH) goes to the child.
   For exec, the pty comes from the container's own devpts instance (through /proc/PID/root), so the
   process sees its terminal as /dev/pts/N inside the container (ttyname works there). */
static int open_tty(int *master, int *slave, char pts[32], pid_t target) {
  if (target > 0) {
    char ptmx[64] = "/proc/";
    size_t n0 = 6 + fmt_uint(ptmx + 6, (unsigned)target);
    memcpy(ptmx + n0, "/root/dev/pts/ptmx", sizeof "/root/dev/pts/ptmx");
    *master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*master < 0) *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  } else {
    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  }
  if (*master < 0) return fail_errno("posix_openpt");
  unsigned n;
  if (grantpt(*master) < 0 || unlockpt(*master) < 0 || ioctl(*master, TIOCGPTN, &n) < 0)
    return fail_errno("unlockpt `/dev/ptmx`");
  memcpy(pts, "/dev/pts/", 9);
  pts[9 + fmt_uint(pts + 9, n)] = '\0';
  *slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*slave < 0) return fail_errno("ioctl TIOCGPTPEER `%s`", pts);
  /* the client's terminal size when it gave one (Docker's ConsoleSize): a program that asks at once sees it */
  struct winsize ws = {.ws_row = spec.tty_rows ? spec.tty_rows : 24, .ws_col = spec.tty_cols ? spec.tty_cols : 80};
  ioctl(*master, TIOCSWINSZ, &ws);
  return 0;
}

/* An fd of the init's namespace NAME (`net`, `mnt`), to hold it (release_namespaces); -1 without /proc. */
static int open_init_ns(pid_t pid, const char *name) {
  char path[48] = "/proc/";
  size_t n = 6 + fmt_uint(path + 6, (unsigned long long)pid);
  snprintf(path + n, sizeof path - n, "/ns/%s", name);
  return open(path, O_RDONLY | O_CLOEXEC);
}

static int pipe_pair(int p[2]) { return pipe2(p, O_CLOEXEC) < 0 ? fail_errno("pipe") : 0; }

/* Reads a child's pipe until EOF (or cap - 1 bytes) into buf, NUL-terminated; the length. */
static size_t read_to_eof(int fd, char *buf, size_t cap) {
  size_t len = 0;
  while (len < cap - 1) {
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  return len;
}

/* exec mode: the helper reports "p<PID>" of the process it forked, or "e<MESSAGE>". */
static pid_t read_exec_pid(int fd, pid_t helper) {
  char buf[ERR_MAX + 2];
  size_t len = read_to_eof(fd, buf, sizeof buf);
  int status;
  while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {
  }
  long long pid;
  if (len > 1 && buf[0] == 'p' && parse_ll(buf + 1, 1, INT32_MAX, &pid) == 0) return (pid_t)pid;
  if (len > 1 && buf[0] == 'e') return fail("%s", buf + 1);
  return fail("exec helper exited with status %d", status);
}

/* clone3's arguments (linux/sched.h, CLONE_ARGS_SIZE_VER2: 88 bytes); not every C library's headers have them. */
struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define GANTRY_CLONE_INTO_CGROUP 0x200000000ULL

/* The init, as a fork would make it (no new stack), in the spec's namespaces. With `cgroup_into` (v2) it is made in
 * that cgroup (clone3 CLONE_INTO_CGROUP, Linux 5.7+), which takes cgroup_threadgroup_rwsem for reading only: no
 * RCU grace period, where a pid written to cgroup.procs after an idle moment waits for one (7-20 ms). A kernel or
 * a seccomp filter that refuses clone3 gets the plain clone, and the init is then moved by pid (`cgroup_procs`, or
 * DIR/cgroup.procs). *into: whether the kernel made it in the cgroup. */
static pid_t clone_init(bool *into) {
  *into = false;
  if (spec.cgroup_into) {
    int dir = open(spec.cgroup_into, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
      fail_errno("open `%s`", spec.cgroup_into);
      handshake_failed();
    }
    struct clone3_args a = {.flags = (uint64_t)spec.clone_flags | GANTRY_CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)dir};
    pid_t pid = (pid_t)syscall(SYS_clone3, &a, sizeof a);
    int saved = errno;
    if (pid == 0) return 0; /* the init: run_child closes what it does not keep */
    close(dir);
    if (pid > 0) {
      *into = true;
      return pid;
    }
    errno = saved;
    if (spec.cgroup_procs.n == 0) { /* moved by pid instead: the dir's own cgroup.procs */
      static char procs[4096];
      static const char *one[2]; /* the entry, then NULL, as every list */
      if (snprintf(procs, sizeof procs, "%s/cgroup.procs", spec.cgroup_into) >= (int)sizeof procs) {
        fail("`cgroup_into` too long");
        handshake_failed();
      }
      one[0] = procs;
      spec.cgroup_procs.v = one;
      spec.cgroup_procs.n = 1;
    }
  }
  return (pid_t)syscall(SYS_clone, spec.clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* run, cgroup_self: the init writes `c` on its error pipe once it is in its cgroups (child.c), or its setup error
 * and exits. Blocking (the pipe is made non-blocking after the start): `ready` means the init is in its cgroups. */
static void await_self_join(void) {
  char c;
  ssize_t r;
  do r = read(st.err_fd, &c, 1);
  while (r < 0 && errno == EINTR);
  if (r == 1 && c == 'c') return;
  char msg[ERR_MAX + 32];
  size_t len = r == 1 ? 1 : 0;
  if (len) msg[0] = c;
  len += read_to_eof(st.err_fd, msg + len, sizeof msg - len);
  const char *text = strncmp(msg, "setup-error ", 12) == 0 ? msg + 12 : msg;
  fail("%s", len ? text : "the container's init exited before it joined its cgroups");
  handshake_failed();
}

static void start(void) {
  st.listen_fd = server_listen(spec.socket);
  if (st.listen_fd < 0) handshake_failed();
  sh.log_fd = -1;
  if (spec.log && log_open(&sh) < 0) handshake_failed();

  struct child_fds f = {.in = -1, .out = -1, .err = -1, .aux = -1, .template = st.exec_mode ? -1 : st.template_fd};
  char pts[32];
  int sync[2], errp[2], aux[2] = {-1, -1}, in[2] = {-1, -1}, out[2], err[2];
  sh.in_fd = sh.master_fd = -1;
  if (spec.tty) {
    int slave = -1;
    if (open_tty(&sh.master_fd, &slave, pts, spec.target_pid) < 0) handshake_failed();
    f.in = f.out = f.err = slave;
    f.pts = pts;
    st.out[0] = sh.master_fd;
    if (spec.stdin_open && (sh.in_fd = fcntl(sh.master_fd, F_DUPFD_CLOEXEC, 0)) < 0) {
      fail_errno("dup pty master");
      handshake_failed();
    }
  } else {
    if (pipe_pair(out) < 0 || pipe_pair(err) < 0) handshake_failed();
    f.out = out[1];
    f.err = err[1];
    st.out[0] = out[0];
    st.out[1] = err[0];
    if (spec.stdin_open) {
      if (pipe_pair(in) < 0) handshake_failed();
      f.in = in[0];
      sh.in_fd = in[1];
    } else if ((f.in = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
      fail_errno("open `/dev/null`");
      handshake_failed();
    }
  }
  if (pipe_pair(sync) < 0 || pipe_pair(errp) < 0) handshake_failed();
  f.sync = sync[0];
  f.errpipe = errp[1];
  if (st.exec_mode) {
    if (pipe_pair(aux) < 0) handshake_failed();
    f.aux = aux[1];
  } else if (spec.netns && (f.aux = open(spec.netns, O_RDONLY | O_CLOEXEC)) < 0) {
    fail_errno("open `%s`", spec.netns);
    handshake_failed();
  }

  /* cgroup v1: the child joins its cgroups itself (child.c, join_cgroups) through these */
  for (size_t i = 0; i < spec.cgroup_self.n; i++) {
    if ((f.join[i] = open(spec.cgroup_self.v[i], O_WRONLY | O_CLOEXEC)) < 0) {
      fail_errno("open `%s`", spec.cgroup_self.v[i]);
      handshake_failed();
    }
    f.njoin = i + 1;
  }

  bool cloned_into = false;
  pid_t pid = st.exec_mode ? fork() : clone_init(&cloned_into);
  if (pid < 0) {
    fail_errno(st.exec_mode ? "fork exec helper" : "clone `%s`", spec.id ? spec.id : "container");
    handshake_failed();
  }
  if (pid == 0) {
    if (st.exec_mode) exec_child(&spec, &f);
    run_child(&spec, &f);
  }
  child_pid = pid;
  if (st.template_fd >= 0) close(st.template_fd); /* the init has it */
  st.template_fd = -1;
  st.prepared = st.exec_mode;
  if (!st.exec_mode) {
    /* Held, so that the init's exit does not tear its network namespace down (release_namespaces); its mount
     * namespace likewise, from its `r` (init_prepared). Without them (no /proc), the init's exit does, as before. */
    if (spec.clone_flags & CLONE_NEWNET) {
      st.net_fd = open_init_ns(pid, "net");
    } else if (spec.netns && f.aux >= 0) {
      st.net_fd = fcntl(f.aux, F_DUPFD_CLOEXEC, 0); /* one joined (the daemon's pool, container:X): the init may not be in it yet */
    }
  }
  /* the parent keeps only its ends */
  int child_ends[] = {f.in == f.out ? -1 : f.in, f.out, f.err == f.out ? -1 : f.err, f.sync, f.errpipe, f.aux};
  for (size_t i = 0; i < sizeof child_ends / sizeof child_ends[0]; i++)
    if (child_ends[i] >= 0) close(child_ends[i]);
  for (size_t i = 0; i < f.njoin; i++) close(f.join[i]);
  st.sync_fd = sync[1];
  st.err_fd = errp[0];
  if (st.exec_mode) {
    child_pid = -1; /* the helper is reaped by read_exec_pid */
    pid = read_exec_pid(aux[0], pid);
    close(aux[0]);
    if (pid < 0) handshake_failed();
    child_pid = pid; /* re-parented to the shim, a subreaper */
  }
  sh.child = pid;
  if (!st.exec_mode && spec.cgroup_self.n > 0) await_self_join();
  for (size_t i = 0; i < spec.cgroup_procs.n && !cloned_into; i++) {
    char buf[24];
    buf[fmt_uint(buf, (unsigned long long)pid)] = '\0';
    if (write_file(spec.cgroup_procs.v[i], buf) < 0) handshake_failed();
  }
  /* the init builds its root meanwhile (child.c); an exec's process waits for `go` only */
  if (!st.exec_mode && write_all(st.sync_fd, "j", 1) < 0) {
    fail_errno("sync pipe");
    handshake_failed();
  }
  for (int i = 0; i < 2; i++)
    if (st.out[i] >= 0) set_nonblock(st.out[i]);
  if (sh.in_fd >= 0) set_nonblock(sh.in_fd);
  set_nonblock(st.err_fd);
}

/* ---- supervision ------------------------------------------------------------------------------ */

/* After the start is settled the daemon may die at any time: stdio goes to /dev/null. */
static void detach_stdio(void) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  for (int fd = 0; fd < 3; fd++) dup2(null, fd);
  close(null);
}

static void settle_start(void) {
  if (st.errline_len == 0 && st.exited_before_go) {
    strcpy(st.errline, "setup-error init exited before `go`");
    st.errline_len = strlen(st.errline);
  }
  if (st.errline_len == 0) {
    status_line("started\n", 8);
  } else {
    for (size_t i = 0; i < st.errline_len; i++) /* one line, whatever the paths contain */
      if (st.errline[i] == '\n') st.errline[i] = ' ';
    st.errline[st.errline_len] = '\n';
    status_line(st.errline, st.errline_len + 1);
    st.errline[st.errline_len] = '\0';
  }
  detach_stdio();
  if (st.hold_fd >= 0) close(st.hold_fd); /* the spawned process may go now */
  st.hold_fd = -1;
  st.phase = RUNNING;
  spec_release(&spec); /* the child has its own copy; what is left is read by the supervision only */
}

static void abort_start(void) {
  kill(sh.child, SIGKILL);
  while (waitpid(sh.child, NULL, 0) < 0 && errno == EINTR) {
  }
  for (int i = 0; i < MAX_CLIENTS; i++)
    if (sh.clients[i].fd >= 0) client_drop(&sh.clients[i]);
  unlink(spec.socket);
  _exit(1);
}

static void send_go(void) {
  (void)write_all(st.sync_fd, "g", 1);
  close(st.sync_fd);
  st.sync_fd = -1;
  st.phase = STARTING;
}

static void control_readable(void) {
  ssize_t r = read(0, st.ctl + st.ctl_len, sizeof st.ctl - st.ctl_len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) abort_start(); /* EOF before `go` */
  st.ctl_len += (size_t)r;
  if (memcmp(st.ctl, "go\n", st.ctl_len < 3 ? st.ctl_len : 3) != 0 || st.ctl_len > 3) abort_start();
  if (st.ctl_len < 3) return;
  if (st.prepared) send_go();
  else st.go_pending = true;
}

/* The init's first byte on the error pipe, before `go`: `r` once its root is in place. The init is then in the
 * mount namespace it keeps (move_into_template moves it out of the one clone gave it), which is held from here
 * (release_namespaces). `g` is sent after it, so an init that runs and exits at once is held too. EOF: it died
 * before (reaped as usual). */
static void init_prepared(void) {
  char c;
  ssize_t r = read(st.err_fd, &c, 1);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  st.prepared = true;
  if (r == 1 && c == 'r' && (spec.clone_flags & CLONE_NEWNS)) {
    st.mnt_fd = open_init_ns(sh.child, "mnt");
  } else if (r != 1) {
    close(st.err_fd);
    st.err_fd = -1;
  } else if (c != 'r') {
    st.errline[st.errline_len++] = c;
  }
  if (st.go_pending) send_go();
}

static void errpipe_readable(void) {
  size_t room = sizeof st.errline - 1 - st.errline_len;
  ssize_t r = read(st.err_fd, st.errline + st.errline_len, room);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r > 0) {
    st.errline_len += (size_t)r;
    if (st.errline_len < sizeof st.errline - 1) return;
  }
  close(st.err_fd);
  st.err_fd = -1;
  if (st.phase == STARTING) settle_start();
}

static void output_readable(int i) {
  char *buf = g_work->io;
  ssize_t r = read(st.out[i], buf, sizeof g_work->io);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) { /* EOF, or EIO once the tty's last slave is closed */
    output_flush(&sh, i + 1);
    if (st.out[i] != sh.master_fd) close(st.out[i]);
    st.out[i] = -1;
    return;
  }
  output_chunk(&sh, i + 1, buf, (size_t)r);
}

static void reap(void) {
  struct signalfd_siginfo si;
  while (read(st.sig_fd, &si, sizeof si) > 0) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid != sh.child || st.exited) continue;
    st.exited = true;
    st.exited_before_go = st.phase == WAIT_GO;
    st.status = status;
    clock_gettime(CLOCK_REALTIME, &st.finished);
    clock_gettime(CLOCK_MONOTONIC, &st.deadline);
    st.deadline.tv_nsec += 200 * 1000000L; /* drain output for at most 200 ms */
    if (st.deadline.tv_nsec >= 1000000000L) {
      st.deadline.tv_sec++;
      st.deadline.tv_nsec -= 1000000000L;
    }
  }
}

/* Milliseconds until `deadline` (CLOCK_MONOTONIC), 0 once it has passed. */
static int ms_until(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : (int)ms;
}

static int ms_left(void) { return ms_until(&st.deadline); }

/* The container's mount namespace goes with its last reference: once the init has exited, that is this fd.
 * Closing it unmounts the container's whole tree (overlay, proc, the tmpfs mounts, binds) in this process, and
 * the overlay's unmount syncs its upper filesystem (all of it: for the host's root fs, every dirty inode and a
 * disk flush). Its network namespace likewise: the kernel's cleanup of it (a worker thread's, batched) starts when
 * this fd is closed. An exit is reported after this, so a stopped container's files are on disk and its upper dir
 * is free for the next start's overlay; a removal (`d`) reports first, and releases them once the daemon closes
 * the connection that sent `d` (hold_for_removal). */
static void release_namespaces(void) {
  if (st.mnt_fd >= 0) close(st.mnt_fd);
  if (st.net_fd >= 0) close(st.net_fd);
  st.mnt_fd = st.net_fd = -1;
}

/* A removal's teardown waits for the daemon: it closes the connection that sent `d` once no removal is in flight
 * (so a burst of `rm -f` is not slowed by the unmounts, syncs and namespace cleanups of the ones before), or when it
 * exits; at most 10 s. Whatever the connection still sends is read and dropped. */
static void hold_for_removal(int fd) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += 10;
  for (int ms; (ms = ms_until(&until)) > 0;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char drop[256];
    ssize_t n = read(fd, drop, sizeof drop);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
  }
  close(fd);
}

/* Written and renamed before the exit frame (the daemon reads it when that frame comes), made durable after the
 * frame (finish): nobody waits on the disk for an exit (an fsync costs 0.3-5 ms here). A host crash between the
 * rename and the fsync can leave the file empty, which the daemon reads as an unknown exit; the daemon had not
 * recorded that exit durably either. Returns the file, still open, for that fsync (-1: none written, or a
 * removal's, which needs no fsync: its directory is deleted next). */
static int write_exit_file(int code, int sig) {
  char line[96];
  size_t n = fmt_uint(line, (unsigned)code);
  line[n++] = ' ';
  n += fmt_uint(line + n, (unsigned)sig);
  line[n++] = ' ';
  n += fmt_time(line + n, &st.finished);
  char tmp[4096];
  size_t len = strlen(spec.exit_file);
  if (len + 5 > sizeof tmp) return -1;
  memcpy(tmp, spec.exit_file, len);
  memcpy(tmp + len, ".tmp", 5);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (write_all(fd, line, n) < 0 || rename(tmp, spec.exit_file) < 0) {
    close(fd);
    unlink(tmp);
    return -1;
  }
  if (sh.removing) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Not inlined: its 4 kB path buffer (write_exit_file) would make the loop's own frame span two pages, both resident
 * for as long as the container runs (the loop's frame is the one part of its stack that work_idle cannot give back). */
static noreturn __attribute__((noinline)) void finish(void) {
  if (st.err_fd >= 0) { /* normally at EOF by now; a writer still alive after the drain counts as started */
    ssize_t r;
    while ((r = read(st.err_fd, st.errline + st.errline_len, sizeof st.errline - 1 - st.errline_len)) > 0)
      st.errline_len += (size_t)r;
    close(st.err_fd);
    st.err_fd = -1;
  }
  if (st.phase == STARTING) settle_start();
  if (!sh.removing) release_namespaces();
  int code, sig = 0;
  if (st.errline_len) {
    long long v = 255;
    if (strncmp(st.errline, "exec-error ", 11) == 0) {
      char num[4] = {st.errline[11], st.errline[12], st.errline[13], 0};
      if (parse_ll(num, 0, 255, &v) < 0) v = 126;
    }
    code = (int)v;
  } else if (WIFEXITED(st.status)) {
    code = WEXITSTATUS(st.status);
  } else {
    sig = WTERMSIG(st.status);
    code = 128 + sig;
  }
  output_flush(&sh, 1);
  output_flush(&sh, 2);
  int exit_fd = write_exit_file(code, sig);
  char payload[8];
  size_t n = fmt_uint(payload, (unsigned)code);
  payload[n++] = '\n';
  int held = -1; /* a removal's: the connection that sent `d` */
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &sh.clients[i];
    if (c->fd < 0) continue;
    send_frame(&sh, c, 3, payload, n);
    if (c->fd < 0) continue;
    if (sh.removing && held < 0 && sh.removal_slot == i + 1) {
      held = c->fd;
      c->fd = -1;
    } else {
      client_drop(c);
    }
  }
  unlink(spec.socket);
  if (exit_fd >= 0) {
    fsync(exit_fd);
    close(exit_fd);
  }
  if (held >= 0) hold_for_removal(held);
  release_namespaces(); /* a removal's: after its exit was reported */
  _exit(0);
}

/* How long the loop waits, after it last handled something, before it gives back what that touched (work_idle):
 * one wake-up per burst of activity, not one per event, so steady output does not pay a page fault per read. */
#define IDLE_MS 1000

static noreturn void supervise(void) {
  enum { MAXFDS = 8 + MAX_CLIENTS };
  bool touched = true; /* the start's work */
  for (;;) {
    bool draining = st.exited && st.phase != WAIT_GO;
    if (draining) {
      bool drained = st.out[0] < 0 && st.out[1] < 0 && st.err_fd < 0;
      if (drained || ms_left() == 0) finish();
    }
    struct pollfd p[MAXFDS];
    int who[MAXFDS]; /* what p[i] is: -1 control, -2 errpipe, -3/-4 output, -5 signals, -6 listen, -7 stdin, >=0 client */
    nfds_t n = 0;
#define ADD(fd_, ev_, who_) (p[n] = (struct pollfd){.fd = (fd_), .events = (ev_)}, who[n++] = (who_))
    if (st.phase == WAIT_GO && !st.go_pending) ADD(0, POLLIN, -1);
    if ((st.phase != WAIT_GO || !st.prepared) && st.err_fd >= 0) ADD(st.err_fd, POLLIN, -2);
    for (int i = 0; i < 2; i++)
      if (st.out[i] >= 0) ADD(st.out[i], POLLIN, -3 - i);
    ADD(st.sig_fd, POLLIN, -5);
    ADD(st.listen_fd, POLLIN, -6);
    if (sh.pending_len && sh.in_fd >= 0) ADD(sh.in_fd, POLLOUT, -7);
    for (int i = 0; i < MAX_CLIENTS; i++)
      if (sh.clients[i].fd >= 0 && !sh.pending_len) ADD(sh.clients[i].fd, POLLIN, i);
#undef ADD
    int r = poll(p, n, draining ? ms_left() : touched ? IDLE_MS : -1);
    if (r < 0 && errno != EINTR) _exit(2);
    if (r == 0 && touched && !draining) {
      work_idle(&sh, stack_is_work());
      touched = false;
      continue;
    }
    if (r > 0) touched = true;
    for (nfds_t i = 0; r > 0 && i < n; i++) {
      if (!p[i].revents) continue;
      switch (who[i]) {
        case -1: control_readable(); break;
        case -2:
          if (st.err_fd >= 0 && !st.prepared) init_prepared();
          else if (st.err_fd >= 0) errpipe_readable();
          break;
        case -3: case -4: if (st.out[-3 - who[i]] >= 0) output_readable(-3 - who[i]); break;
        case -5: reap(); break;
        case -6: server_accept(&sh, st.listen_fd); break;
        case -7: stdin_flush(&sh); break;
        default:
          if (sh.clients[who[i]].fd == p[i].fd) client_readable(&sh, &sh.clients[who[i]]);
      }
    }
  }
}

int main(int argc, char **argv) {
  for (int fd = 0; fd < 3; fd++) /* pipes created later must never land on 0-2 */
    if (fcntl(fd, F_GETFD) < 0) open("/dev/null", O_RDWR);
  if (argc >= 3 && strcmp(argv[1], "--") == 0) init_main((const char *const *)argv + 2); /* `init 1`: init.c */
  bool with_template = argc == 4 && strcmp(argv[1], "run") == 0 && strcmp(argv[3], "mnt-template=3") == 0;
  if ((argc != 3 && !with_template) || (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "exec") != 0)) {
    static const char usage[] = "error usage: gantry-shim run|exec SPEC_FILE | run SPEC_FILE mnt-template=3 | -- COMMAND [ARG...]\n";
    status_line(usage, sizeof usage - 1);
    return 2;
  }
  /* The daemon hands over 0-2 only (and the spawner the template mount namespace as 3); anything else was inherited
   * from whoever started the daemon (a launcher's pipe, a socket-activation fd) and is never held by a shim, which
   * outlives the daemon. */
  close_fds_from(with_template ? 4 : 3);
  if (with_template && fcntl(3, F_SETFD, FD_CLOEXEC) == 0) st.template_fd = 3;
  st.exec_mode = argv[1][0] == 'e';
  for (int i = 0; i < MAX_CLIENTS; i++) sh.clients[i].fd = -1;
  sh.spec = &spec;
  if (spec_load(argv[2], st.exec_mode, &spec) < 0) handshake_failed();
  if (spec.detach) {
    /* The spawned process forks this shim and exits once the start is settled (its spawner closes the shim's
     * stdin when it exits: that would abort a start before `go`); this shim becomes the child of the spawner's
     * subreaper (the daemon) or of init. A daemon waits on each of its children at every SIGCHLD (libuv walks them
     * all): with thousands of shims as its children, every exit cost a walk over all of them. */
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) {
      fail_errno("pipe");
      handshake_failed();
    }
    pid_t p = fork();
    if (p < 0) {
      fail_errno("fork");
      handshake_failed();
    }
    if (p > 0) {
      close(hold[1]);
      char c;
      while (read(hold[0], &c, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    close(hold[0]);
    st.hold_fd = hold[1];
  }

  sched_batch();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  st.sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (st.sig_fd < 0) {
    fail_errno("signalfd");
    handshake_failed();
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    fail_errno("prctl PR_SET_CHILD_SUBREAPER");
    handshake_failed();
  }
  if (work_map() < 0) handshake_failed();
  start();

  char line[64] = "ready ";
  size_t n = 6;
  n += fmt_uint(line + n, (unsigned long long)getpid());
  line[n++] = ' ';
  n += fmt_uint(line + n, (unsigned long long)sh.child);
  line[n++] = ' ';
  n += fmt_uint(line + n, SHIM_PROTOCOL_VERSION);
  line[n++] = '\n';
  status_line(line, n);
  run_on_work_stack(supervise); /* nothing in this frame (or the start's) is read from here on */
}
