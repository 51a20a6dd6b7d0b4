/* gantry-spawner SOCKET SHIM
 *
 * Starts container shims for the daemon, so that the daemon never forks to start a container: a fork copies the
 * parent's page tables, 3-4 ms of the daemon's main thread at 100 MB of RSS and more as the daemon grows with its
 * containers; this process is a few hundred kB.
 *
 * Listens on the unix socket SOCKET (made 0600; a peer whose uid is not this process's is refused). Per
 * connection, one request line:
 *   run SPEC_FILE | exec SPEC_FILE
 * The connection then becomes the shim's stdin, stdout and stderr: SHIM is forked and exec'd in its own session
 * with an empty environment and default signal handling (`SHIM run|exec SPEC_FILE`), and speaks its start
 * handshake over it (docs/shim-protocol.md). A request that cannot be served gets one line "error TEXT".
 * It prints "ok" on stdout once it listens ("ok no-template WHY" when it could not make the template below). It
 * exits on SIGTERM or when its parent (the daemon) dies (PR_SET_PDEATHSIG), removing SOCKET; the shims it started
 * live on in their own sessions.
 *
 * It also holds the containers' template mount namespace (make_template): a `run` shim gets it as fd 3
 * (`SHIM run SPEC_FILE mnt-template=3`), and its container init moves its finished root into a copy of it and
 * chroots there instead of calling pivot_root, which visits every task of the host (docs/shim-protocol.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096
#define TEMPLATE_FD 3 /* where a `run` shim finds the template (its argv says so) */

static const char *g_socket;
static volatile sig_atomic_t g_quit;

static void on_term(int sig) { (void)sig; g_quit = 1; }

static void say(int fd, const char *text) {
  size_t n = strlen(text);
  while (n > 0) {
    ssize_t w = write(fd, text, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    text += w;
    n -= (size_t)w;
  }
}

/* Reads the request line without consuming anything after it (the shim reads the rest of the stream). */
static int read_request(int fd, char *line, size_t cap) {
  ssize_t got = recv(fd, line, cap - 1, MSG_PEEK);
  if (got <= 0) return -1;
  char *nl = memchr(line, '\n', (size_t)got);
  if (nl == NULL) return -1; /* the daemon writes the whole line at once */
  size_t len = (size_t)(nl - line) + 1;
  if (recv(fd, line, len, 0) != (ssize_t)len) return -1;
  line[len - 1] = '\0';
  return 0;
}

/*
 * The template mount namespace: a private copy of this process's, whose root is an empty read-only tmpfs (nosuid,
 * nodev, noexec; one inode) and nothing else, made once with the one pivot_root it takes. A container init made from
 * it (a copy: unshare after setns) with its root moved on `/` has only that empty tmpfs under its root, never the
 * host's (docs/shim-protocol.md, Container root). Returns an fd of it (held by this process: the helper that made it
 * exits), or -1 with WHY (the step that failed and its error) when it cannot be made; shims then pivot_root as before.
 * DIR: any directory to mount the tmpfs on, in the helper's own copy only (nothing appears on the host).
 */
static int make_template(const char *dir, char *why, size_t why_len) {
  int ready[2], done[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return snprintf(why, why_len, "pipe: %s", strerror(errno)), -1;
  if (pipe2(done, O_CLOEXEC) < 0) {
    snprintf(why, why_len, "pipe: %s", strerror(errno));
    close(ready[0]);
    close(ready[1]);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    close(done[1]);
    unsigned long empty = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    const char *step = "unshare";
    if (unshare(CLONE_NEWNS) < 0 || (step = "mount / private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) ||
        (step = "mount tmpfs", mount("tmpfs", dir, "tmpfs", empty, "size=4k,nr_inodes=1,mode=0555") < 0) ||
        (step = "pivot_root", chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) ||
        (step = "umount the old root", umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) ||
        (step = "remount read-only", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | empty, NULL) < 0)) {
      char line[160];
      int n = snprintf(line, sizeof line, "%s: %s", step, strerror(errno));
      if (write(ready[1], line, (size_t)n) < 0) _exit(1);
      _exit(1);
    }
    if (write(ready[1], "k", 1) != 1) _exit(1);
    char c;
    while (read(done[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  int fd = -1;
  ssize_t r = -1;
  if (pid < 0) {
    snprintf(why, why_len, "fork: %s", strerror(errno));
  } else {
    char line[160];
    while ((r = read(ready[0], line, sizeof line - 1)) < 0 && errno == EINTR) {
    }
    line[r > 0 ? r : 0] = '\0';
    if (r == 1 && line[0] == 'k') {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
      fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) snprintf(why, why_len, "open %s: %s", path, strerror(errno));
    } else {
      snprintf(why, why_len, "%s", r > 0 ? line : "its helper exited");
    }
  }
  close(ready[0]);
  close(done[1]);
  if (pid > 0)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
  return fd;
}

static int g_template = -1;

static void serve(int conn, const char *shim) {
  struct ucred peer;
  socklen_t plen = sizeof peer;
  if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0 || peer.uid != geteuid()) {
    say(conn, "error peer refused\n");
    return;
  }
  /* A client that connects and says nothing must not hold the spawner up. */
  struct timeval tv = { .tv_sec = 2, .tv_usec = 0 };
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char line[LINE_MAX_BYTES];
  if (read_request(conn, line, sizeof line) < 0) {
    say(conn, "error no request line\n");
    return;
  }
  const char *mode;
  const char *spec;
  if (strncmp(line, "run ", 4) == 0) { mode = "run"; spec = line + 4; }
  else if (strncmp(line, "exec ", 5) == 0) { mode = "exec"; spec = line + 5; }
  else { say(conn, "error unknown request\n"); return; }
  if (spec[0] != '/') { say(conn, "error the spec path must be absolute\n"); return; }
  tv.tv_sec = 0;
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  pid_t pid = fork();
  if (pid < 0) {
    say(conn, "error fork failed\n");
    return;
  }
  if (pid == 0) {
    /* What the shim inherits: the connection as 0-2, its own session, default signals, an empty mask. */
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    setsid();
    if (dup2(conn, 0) < 0 || dup2(conn, 1) < 0 || dup2(conn, 2) < 0) _exit(127);
    if (conn > 2) close(conn);
    static char template_arg[] = "mnt-template=3";
    bool template = g_template >= 0 && mode[0] == 'r' &&
                    (g_template == TEMPLATE_FD ? fcntl(TEMPLATE_FD, F_SETFD, 0) == 0 : dup2(g_template, TEMPLATE_FD) == TEMPLATE_FD);
    char *const argv[] = { (char *)shim, (char *)mode, (char *)spec, template ? template_arg : NULL, NULL };
    char *const envp[] = { NULL };
    execve(shim, argv, envp);
    say(1, "error cannot run the shim\n");
    _exit(127);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    say(2, "usage: gantry-spawner SOCKET SHIM\n");
    return 2;
  }
  g_socket = argv[1];
  const char *shim = argv[2];
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() == 1) return 0; /* the daemon is already gone */
  signal(SIGCHLD, SIG_IGN); /* shims are reaped by the kernel */
  signal(SIGPIPE, SIG_IGN);
  struct sigaction term = { .sa_handler = on_term };
  sigaction(SIGTERM, &term, NULL);
  sigaction(SIGINT, &term, NULL);

  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(g_socket) >= sizeof addr.sun_path) {
    say(1, "error socket path too long\n");
    return 1;
  }
  strcpy(addr.sun_path, g_socket);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0) { say(1, "error socket\n"); return 1; }
  unlink(g_socket);
  umask(0177); /* the socket: 0600 */
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 64) < 0) {
    say(1, "error cannot listen\n");
    return 1;
  }
  char dir[sizeof addr.sun_path];
  strcpy(dir, g_socket);
  char *slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) *slash = '\0';
  char why[200];
  g_template = make_template(slash != NULL && slash != dir ? dir : "/", why, sizeof why);
  if (g_template >= 0) {
    say(1, "ok\n");
  } else {
    char line[260];
    snprintf(line, sizeof line, "ok no-template %s\n", why);
    say(1, line);
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) { dup2(null, 1); close(null); }

  while (!g_quit) {
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) { usleep(10000); continue; }
      break;
    }
    serve(conn, shim);
    close(conn);
  }
  unlink(g_socket);
  return 0;
}
