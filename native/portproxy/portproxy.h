/* gantry-portproxy: one published TCP port, outside the daemon (it outlives it, like the shim).
 * Contract with the daemon: docs/architecture.md, "Published ports". Single-threaded, one epoll loop. */
#ifndef GANTRY_PORTPROXY_H
#define GANTRY_PORTPROXY_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORTPROXY_PROTOCOL 1

/* What an epoll event points at. */
enum ev_kind { EV_LISTEN, EV_CTL_LISTEN, EV_CTL, EV_END };

struct ev {
  enum ev_kind kind;
  int side;    /* EV_END: 0 = client, 1 = upstream */
  void *owner; /* EV_END: struct pair; EV_CTL: struct ctl */
};

/* A target: where new connections go. */
struct target {
  struct sockaddr_storage addr;
  socklen_t len;
};

/* ---- relay.c: client <-> container pairs, bytes moved with splice(2) through a pipe per direction ---- */
void relay_init(int epfd);
void relay_accept(int listen_fd, const struct target *to);
void relay_event(struct ev *e, uint32_t events);
size_t relay_count(void);
size_t relay_count_to(const struct target *to); /* pairs whose container address equals to's (port ignored) */
void relay_reap(void); /* after each batch of events: frees the pairs closed in it */
void relay_close_all(void);

/* ---- util ---- */
const char *errno_name(int err);
int parse_port(const char *s, int min); /* -1 when not a decimal in [min, 65535] */
int parse_target(const char *ip, int port, struct target *out); /* 0, or -1 (EINVAL) */
void fmt_addr(const struct sockaddr_storage *a, char *out, size_t n);

#endif
