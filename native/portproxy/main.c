/* gantry-portproxy LISTEN_IP FIRST_PORT LAST_PORT TARGET_IP TARGET_PORT CONTROL_DIR
 *
 * Listens on LISTEN_IP at the first free port of [FIRST_PORT, LAST_PORT] (0 = one the kernel picks) and relays
 * every TCP connection to TARGET_IP:TARGET_PORT (relay.c). It prints one line on stdout and closes it:
 *   ok PORT            listening; the control socket CONTROL_DIR/t-LISTEN_IP-PORT is ready
 *   error ENAME TEXT   nothing was started (ENAME: errno name of the failing call, e.g. EADDRINUSE)
 * It is started detached (its own session) and outlives the daemon. The daemon talks to it over the control
 * socket, one line per request (only peers with this process's uid are answered):
 *   info              -> portproxy PROTOCOL PORT TARGET_IP TARGET_PORT
 *   target IP PORT    -> ok            new connections go there; open ones stay where they are
 *   active IP         -> N             open connections to IP (any port)
 *   count             -> N             open connections
 *   quit              -> ok            stop listening, cut every connection, remove the socket, exit 0
 * SIGTERM is quit. */
#include "portproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>

#define CTL_MAX 8
#define CTL_LINE 256

struct ctl {
  struct ev ev;
  int fd;
  size_t len;
  char buf[CTL_LINE];
};

static volatile sig_atomic_t g_quit;
static struct target g_target;
static int g_port;
static int g_lfd = -1;
static char g_ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct ctl g_ctls[CTL_MAX];

const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

int parse_port(const char *s, int min) {
  if (!*s || strlen(s) > 5) return -1;
  int v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    v = v * 10 + (*c - '0');
  }
  return v >= min && v <= 65535 ? v : -1;
}

int parse_target(const char *ip, int port, struct target *out) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    out->len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    out->len = sizeof *a6;
    return 0;
  }
  errno = EINVAL;
  return -1;
}

void fmt_addr(const struct sockaddr_storage *a, char *out, size_t n) {
  if (a->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, out, (socklen_t)n);
  else inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, out, (socklen_t)n);
}

static int target_port(const struct target *t) {
  return ntohs(t->addr.ss_family == AF_INET ? ((const struct sockaddr_in *)&t->addr)->sin_port
                                            : ((const struct sockaddr_in6 *)&t->addr)->sin6_port);
}

static void refuse(const char *what, int err) {
  printf("error %s %s: %s\n", errno_name(err), what, errno_name(err));
  fflush(stdout);
  exit(1);
}

/* The first port of the range that binds; exits with `error` when none does. */
static int listen_tcp(const char *ip, int first, int last) {
  struct target where;
  if (parse_target(ip, 0, &where) < 0) refuse("listen address", EINVAL);
  int err = EADDRINUSE;
  for (int port = first; port <= last; port++) {
    int fd = socket(where.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) refuse("socket", errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as Node/libuv: TIME_WAIT does not block a rebind */
    if (where.addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (where.addr.ss_family == AF_INET) ((struct sockaddr_in *)&where.addr)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)&where.addr)->sin6_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&where.addr, where.len) == 0 && listen(fd, 4096) == 0) {
      struct sockaddr_storage got;
      socklen_t len = sizeof got;
      getsockname(fd, (struct sockaddr *)&got, &len);
      g_port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port : ((struct sockaddr_in6 *)&got)->sin6_port);
      return fd;
    }
    err = errno;
    close(fd);
    if (err != EADDRINUSE) break;
  }
  refuse("bind", err);
  return -1;
}

static int listen_ctl(const char *dir, const char *ip) {
  int n = snprintf(g_ctl_path, sizeof g_ctl_path, "%s/t-%s-%d", dir, ip, g_port);
  if (n < 0 || (size_t)n >= sizeof g_ctl_path) refuse("control socket path", ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) refuse("control socket", errno);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  memcpy(sun.sun_path, g_ctl_path, (size_t)n + 1);
  unlink(g_ctl_path); /* a stale one: no live proxy can hold this port, we just bound it */
  mode_t old = umask(077);
  int r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
  umask(old);
  if (r < 0 || listen(fd, 16) < 0) refuse("control socket bind", errno);
  return fd;
}

static void reply(struct ctl *c, const char *s) {
  size_t len = strlen(s);
  if (write(c->fd, s, len) != (ssize_t)len) { /* a control client that does not read is dropped */
    close(c->fd);
    c->fd = -1;
  }
}

/* Stop listening, remove the control socket, cut every connection. Idempotent. */
static void stop(void) {
  if (g_lfd < 0) return;
  close(g_lfd);
  g_lfd = -1;
  unlink(g_ctl_path);
  relay_close_all();
}

static void command(struct ctl *c, char *line) {
  char out[160], ip[64];
  int port;
  if (strcmp(line, "info") == 0) {
    fmt_addr(&g_target.addr, ip, sizeof ip);
    snprintf(out, sizeof out, "portproxy %d %d %s %d\n", PORTPROXY_PROTOCOL, g_port, ip, target_port(&g_target));
    reply(c, out);
  } else if (strcmp(line, "count") == 0) {
    snprintf(out, sizeof out, "%zu\n", relay_count());
    reply(c, out);
  } else if (sscanf(line, "active %63s", ip) == 1) {
    struct target t;
    if (parse_target(ip, 0, &t) < 0) return reply(c, "error EINVAL\n");
    snprintf(out, sizeof out, "%zu\n", relay_count_to(&t));
    reply(c, out);
  } else if (sscanf(line, "target %63s %d", ip, &port) == 2) {
    struct target t;
    if (port < 1 || port > 65535 || parse_target(ip, port, &t) < 0) return reply(c, "error EINVAL\n");
    g_target = t;
    reply(c, "ok\n");
  } else if (strcmp(line, "quit") == 0) {
    stop(); /* before the answer: once the daemon reads `ok`, the port is free again */
    reply(c, "ok\n");
    g_quit = 1;
  } else {
    reply(c, "error EINVAL\n");
  }
}

static void ctl_accept(int epfd, int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  struct ucred cred;
  socklen_t len = sizeof cred;
  struct ctl *slot = NULL;
  for (int i = 0; i < CTL_MAX && !slot; i++)
    if (g_ctls[i].fd < 0) slot = &g_ctls[i];
  if (!slot || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
    close(fd);
    return;
  }
  slot->fd = fd;
  slot->len = 0;
  struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &slot->ev};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ee) < 0) {
    close(fd);
    slot->fd = -1;
  }
}

static void ctl_read(struct ctl *c) {
  ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    close(c->fd);
    c->fd = -1;
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = 0;
  char *nl;
  while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len))) {
    *nl = 0;
    command(c, c->buf);
    size_t used = (size_t)(nl - c->buf) + 1;
    memmove(c->buf, nl + 1, c->len - used);
    c->len -= used;
  }
  if (c->fd >= 0 && c->len == sizeof c->buf - 1) { /* a line too long */
    close(c->fd);
    c->fd = -1;
  }
}

static void on_term(int sig) {
  (void)sig;
  g_quit = 1;
}

#define USAGE "usage: gantry-portproxy LISTEN_IP FIRST_PORT LAST_PORT TARGET_IP TARGET_PORT CONTROL_DIR\n"

int main(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(USAGE "\nRelays TCP connections on LISTEN_IP:PORT (the first free port of the range; 0 = any) to\n"
          "TARGET_IP:TARGET_PORT with splice(2). Started by gantryd, one per published TCP port; it outlives the\n"
          "daemon, which controls it through the unix socket CONTROL_DIR/t-LISTEN_IP-PORT (see main.c).\n", stdout);
    return 0;
  }
  if (argc != 7) {
    fputs(USAGE, stderr);
    return 2;
  }
  int first = parse_port(argv[2], 0), last = parse_port(argv[3], 0), tport = parse_port(argv[5], 1);
  if (first < 0 || last < first || tport < 0 || parse_target(argv[4], tport, &g_target) < 0) refuse("arguments", EINVAL);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { /* 6 descriptors per connection */
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int lfd = g_lfd = listen_tcp(argv[1], first, last);
  int cfd = listen_ctl(argv[6], argv[1]);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) refuse("epoll_create1", errno);
  struct ev lev = {.kind = EV_LISTEN}, cev = {.kind = EV_CTL_LISTEN};
  struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &lev};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ee);
  ee.data.ptr = &cev;
  epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ee);
  for (int i = 0; i < CTL_MAX; i++) g_ctls[i] = (struct ctl){.ev = {.kind = EV_CTL, .owner = &g_ctls[i]}, .fd = -1};
  relay_init(epfd);

  printf("ok %d\n", g_port);
  fflush(stdout);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
  if (chdir("/") < 0) { /* nothing to do: no relative path is used */
  }

  struct epoll_event evs[64];
  while (!g_quit) {
    int n = epoll_wait(epfd, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n && !g_quit; i++) {
      struct ev *e = evs[i].data.ptr;
      switch (e->kind) {
      case EV_LISTEN: relay_accept(lfd, &g_target); break;
      case EV_CTL_LISTEN: ctl_accept(epfd, cfd); break;
      case EV_CTL: {
        struct ctl *c = e->owner;
        if (c->fd >= 0) ctl_read(c);
        break;
      }
      case EV_END: relay_event(e, evs[i].events); break;
      }
    }
    relay_reap();
  }
  stop();
  for (int i = 0; i < CTL_MAX; i++)
    if (g_ctls[i].fd >= 0) close(g_ctls[i].fd);
  return 0;
}
