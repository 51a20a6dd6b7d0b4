/* The unix socket: clients attach (`a`), feed stdin (`i`, `e`), resize the tty (`r`), send signals
 * (`s`, `k`), ask the protocol version (`v`). Frames are TYPE(1) LEN(4, big-endian) PAYLOAD. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

int server_listen(const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return fail("socket path `%s`: longer than %zu bytes", path, sizeof addr.sun_path - 1);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail_errno("socket `%s`", path);
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path); /* left by a dead shim */
  mode_t old = umask(0177);
  int r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (r < 0) {
    fail_errno("bind `%s`", path);
    close(fd);
    return -1;
  }
  if (chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
    fail_errno("listen `%s`", path);
    close(fd);
    unlink(path);
    return -1;
  }
  return fd;
}

void client_drop(struct client *c) {
  close(c->fd);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

void server_accept(struct shim *sh, int listen_fd) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return;
    struct client *slot = NULL;
    for (int i = 0; i < MAX_CLIENTS && !slot; i++)
      if (sh->clients[i].fd < 0) slot = &sh->clients[i];
    if (!slot) {
      close(fd);
      continue;
    }
    struct timeval one_second = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &one_second, sizeof one_second);
    memset(slot, 0, sizeof *slot);
    slot->fd = fd;
  }
}

static void stdin_close(struct shim *sh) {
  if (sh->pending_len) {
    sh->close_in_pending = true;
    return;
  }
  if (sh->in_fd >= 0) close(sh->in_fd);
  sh->in_fd = -1;
}

void stdin_flush(struct shim *sh) {
  while (sh->pending_len && sh->in_fd >= 0) {
    ssize_t w = write(sh->in_fd, g_work->pending, sh->pending_len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (w < 0) { /* the process closed its stdin: drop what is queued */
      sh->pending_len = 0;
      break;
    }
    memmove(g_work->pending, g_work->pending + w, sh->pending_len - (size_t)w);
    sh->pending_len -= (size_t)w;
  }
  if (sh->close_in_pending && !sh->pending_len) {
    sh->close_in_pending = false;
    stdin_close(sh);
  }
}

static void stdin_data(struct shim *sh, const unsigned char *p, size_t n) {
  if (sh->in_fd < 0 || sh->close_in_pending) return;
  /* clients are only read while nothing is queued, and a read is at most CHUNK bytes: it fits */
  memcpy(g_work->pending + sh->pending_len, p, n);
  sh->pending_len += n;
  stdin_flush(sh);
}

static void frame_done(struct shim *sh, struct client *c) {
  switch (c->hdr[0]) {
    case 'a':
      /* Acknowledged (stream 4, empty): the daemon waits for it before `go`, so no output is missed. */
      c->subscribed = true;
      send_frame(sh, c, 4, "", 0);
      break;
    case 'e':
      if (!sh->spec->tty) stdin_close(sh);
      break;
    case 'r':
      if (sh->master_fd >= 0 && c->small_len == 4) {
        struct winsize ws = {.ws_row = (unsigned short)(c->small[0] << 8 | c->small[1]),
                             .ws_col = (unsigned short)(c->small[2] << 8 | c->small[3])};
        ioctl(sh->master_fd, TIOCSWINSZ, &ws);
      }
      break;
    case 's':
      if (c->small_len == 1 && c->small[0] > 0 && c->small[0] < NSIG) kill(sh->child, c->small[0]);
      break;
    case 'k': kill(sh->child, SIGKILL); break;
    case 'd': /* sent before `k` by a removal; older shims skip it */
      sh->removing = true;
      sh->removal_slot = (int)(c - sh->clients) + 1;
      break;
    case 'v': { /* the protocol this shim speaks (shims before versions skip `v`: no answer = 1) */
      char v[12];
      size_t n = fmt_uint(v, SHIM_PROTOCOL_VERSION);
      v[n++] = '\n';
      send_frame(sh, c, 5, v, n);
      break;
    }
    default: break; /* unknown frames are skipped */
  }
  c->hdr_len = 0;
  c->small_len = 0;
}

void client_readable(struct shim *sh, struct client *c) {
  unsigned char *buf = (unsigned char *)g_work->io; /* shared with the output's reads: never both at once */
  size_t room = sizeof g_work->io - sh->pending_len; /* every stdin byte read must fit in the queue */
  if (room == 0) return;
  ssize_t n = read(c->fd, buf, room);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    if (sh->removal_slot == (int)(c - sh->clients) + 1) sh->removal_slot = 0; /* its slot may be taken again */
    client_drop(c);
    return;
  }
  for (size_t i = 0; i < (size_t)n;) {
    if (c->hdr_len < 5) {
      c->hdr[c->hdr_len++] = buf[i++];
      if (c->hdr_len < 5) continue;
      c->left = (uint32_t)c->hdr[1] << 24 | (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 8 | c->hdr[4];
      if (c->left == 0) frame_done(sh, c);
      continue;
    }
    size_t take = (size_t)n - i < c->left ? (size_t)n - i : c->left;
    if (c->hdr[0] == 'i') {
      stdin_data(sh, buf + i, take);
    } else {
      for (size_t k = 0; k < take && c->small_len < sizeof c->small; k++) c->small[c->small_len++] = buf[i + k];
    }
    i += take;
    c->left -= (uint32_t)take;
    if (c->left == 0) frame_done(sh, c);
  }
}
