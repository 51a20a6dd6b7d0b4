/* Client <-> container pairs. Each direction has a pipe: splice(src -> pipe) then splice(pipe -> dst), so bytes
 * never enter user space. Level-triggered epoll with the interest of each end recomputed after every step:
 * an end is read only while its pipe has room and its peer is not blocked, and watched for EPOLLOUT only while a
 * write to it would block. An end with nothing to wait for is taken out of epoll (no spurious HUP wake-ups).
 * Half-close is kept: EOF on one side becomes shutdown(SHUT_WR) on the other once its pipe is drained. */
#include "portproxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define PIPE_SIZE (256 * 1024) /* asked with F_SETPIPE_SZ; the kernel's default (64 KiB) is kept if refused */

struct pair {
  struct ev ev[2];
  int fd[2];        /* 0 = client, 1 = upstream (the container) */
  int pipe[2][2];   /* direction d: from fd[d] to fd[1-d] */
  size_t cap[2];    /* pipe capacity */
  size_t inpipe[2]; /* bytes in the pipe of direction d */
  bool eof[2];      /* fd[d] said EOF */
  bool shut[2];     /* shutdown(fd[1-d], SHUT_WR) done */
  bool blocked[2];  /* a write to fd[1-d] would block */
  bool connecting;
  bool dead;        /* closed; freed by relay_reap once the current batch of events is handled */
  uint32_t mask[2]; /* what epoll watches on fd[s]; 0 = not in epoll */
  struct target to;
  struct pair *prev, *next;
};

static int g_epfd = -1;
static struct pair *g_pairs;
static struct pair *g_dead; /* closed pairs, linked through next */
static size_t g_count;
static int g_reserve_fd = -1; /* closed to accept-and-drop when out of descriptors */
#define POOL_MAX 64
static int g_pool[POOL_MAX][2]; /* empty pipes of closed pairs, reused: a connection costs 6 fewer syscalls */
static size_t g_pool_cap[POOL_MAX];
static int g_npool;

void relay_init(int epfd) {
  g_epfd = epfd;
  g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

size_t relay_count(void) { return g_count; }

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

size_t relay_count_to(const struct target *to) {
  size_t n = 0;
  for (struct pair *p = g_pairs; p; p = p->next)
    if (same_host(&p->to.addr, &to->addr)) n++;
  return n;
}

static void pair_free(struct pair *p) {
  for (int s = 0; s < 2; s++) {
    if (p->fd[s] >= 0) close(p->fd[s]); /* closing also removes it from epoll */
    if (p->pipe[s][0] >= 0 && p->inpipe[s] == 0 && g_npool < POOL_MAX) {
      g_pool[g_npool][0] = p->pipe[s][0];
      g_pool[g_npool][1] = p->pipe[s][1];
      g_pool_cap[g_npool++] = p->cap[s];
      continue;
    }
    for (int k = 0; k < 2; k++)
      if (p->pipe[s][k] >= 0) close(p->pipe[s][k]);
  }
  if (p->prev) p->prev->next = p->next;
  else g_pairs = p->next;
  if (p->next) p->next->prev = p->prev;
  g_count--;
  p->dead = true;
  p->next = g_dead;
  g_dead = p;
}

void relay_reap(void) {
  while (g_dead) {
    struct pair *p = g_dead;
    g_dead = p->next;
    free(p);
  }
}

static void set_mask(struct pair *p, int s, uint32_t m) {
  if (m == p->mask[s]) return;
  struct epoll_event ee = {.events = m, .data.ptr = &p->ev[s]};
  int op = p->mask[s] == 0 ? EPOLL_CTL_ADD : m == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  if (epoll_ctl(g_epfd, op, p->fd[s], &ee) == 0) p->mask[s] = m;
}

static void update(struct pair *p) {
  if (p->connecting) {
    set_mask(p, 0, 0);
    set_mask(p, 1, EPOLLOUT);
    return;
  }
  for (int s = 0; s < 2; s++) {
    uint32_t m = 0;
    if (!p->eof[s] && !p->blocked[s] && p->inpipe[s] < p->cap[s]) m |= EPOLLIN;
    if (p->blocked[1 - s]) m |= EPOLLOUT;
    set_mask(p, s, m);
  }
}

/* Moves what can move in direction d; -1 on a broken connection. */
static int pump(struct pair *p, int d) {
  int src = p->fd[d], dst = p->fd[1 - d];
  for (;;) {
    bool moved = false;
    if (!p->eof[d] && p->inpipe[d] < p->cap[d]) {
      ssize_t n = splice(src, NULL, p->pipe[d][1], NULL, p->cap[d] - p->inpipe[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p->inpipe[d] += (size_t)n;
        moved = true;
      } else if (n == 0) {
        p->eof[d] = true;
        moved = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        return -1;
      }
    }
    if (p->inpipe[d] > 0) {
      ssize_t n = splice(p->pipe[d][0], NULL, dst, NULL, p->inpipe[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p->inpipe[d] -= (size_t)n;
        p->blocked[d] = false;
        moved = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        p->blocked[d] = true;
      } else {
        return -1;
      }
    }
    if (p->eof[d] && p->inpipe[d] == 0 && !p->shut[d]) {
      shutdown(dst, SHUT_WR);
      p->shut[d] = true;
    }
    if (!moved) return 0;
  }
}

static void tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int make_pipe(int fds[2], size_t *cap) {
  if (g_npool > 0) {
    g_npool--;
    fds[0] = g_pool[g_npool][0];
    fds[1] = g_pool[g_npool][1];
    *cap = g_pool_cap[g_npool];
    return 0;
  }
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
  fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
  int sz = fcntl(fds[1], F_GETPIPE_SZ);
  *cap = sz > 0 ? (size_t)sz : 65536;
  return 0;
}

static void start_pair(int client, const struct target *to) {
  struct pair *p = calloc(1, sizeof *p);
  if (!p) {
    close(client);
    return;
  }
  p->fd[0] = client;
  p->fd[1] = -1;
  for (int s = 0; s < 2; s++) {
    p->pipe[s][0] = p->pipe[s][1] = -1;
    p->ev[s] = (struct ev){.kind = EV_END, .side = s, .owner = p};
  }
  p->to = *to;
  p->next = g_pairs;
  if (g_pairs) g_pairs->prev = p;
  g_pairs = p;
  g_count++;
  if (make_pipe(p->pipe[0], &p->cap[0]) < 0 || make_pipe(p->pipe[1], &p->cap[1]) < 0) {
    pair_free(p);
    return;
  }
  p->fd[1] = socket(to->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd[1] < 0) {
    pair_free(p);
    return;
  }
  tune(client);
  tune(p->fd[1]);
  if (connect(p->fd[1], (const struct sockaddr *)&to->addr, to->len) < 0 && errno != EINPROGRESS) {
    pair_free(p);
    return;
  }
  p->connecting = true;
  update(p);
}

void relay_accept(int listen_fd, const struct target *to) {
  for (int i = 0; i < 64; i++) {
    int c = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      start_pair(c, to);
      continue;
    }
    if ((errno == EMFILE || errno == ENFILE) && g_reserve_fd >= 0) {
      /* out of descriptors: take the connection off the queue and close it, or epoll would spin on it */
      close(g_reserve_fd);
      c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) close(c);
      g_reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      continue;
    }
    return; /* EAGAIN, or a transient error (ECONNABORTED...) */
  }
}

/* An event on end s: readable (or hung up) moves direction s, writable moves the direction into s. */
void relay_event(struct ev *e, uint32_t events) {
  struct pair *p = e->owner;
  int s = e->side;
  if (p->dead) return; /* its other end was handled first in this batch */
  if (p->connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
      pair_free(p);
      return;
    }
    p->connecting = false; /* what the client sent meanwhile waits in its socket: EPOLLIN comes next */
  } else if (events & EPOLLERR) {
    pair_free(p);
    return;
  } else {
    if ((events & (EPOLLIN | EPOLLHUP)) && pump(p, s) < 0) {
      pair_free(p);
      return;
    }
    if ((events & EPOLLOUT) && pump(p, 1 - s) < 0) {
      pair_free(p);
      return;
    }
  }
  if (p->shut[0] && p->shut[1]) {
    pair_free(p);
    return;
  }
  update(p);
}

void relay_close_all(void) {
  while (g_pairs) pair_free(g_pairs);
  relay_reap();
}
