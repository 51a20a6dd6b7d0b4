/* Output of the process: appended to the log as Docker json-file lines, and forwarded to subscribed
 * clients with Docker's 8-byte stream header. */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static char out[8192];
static size_t out_len;

/* A failed log write (full disk) must not stop the container: the entry is lost. */
static void flush(int fd) {
  if (out_len) (void)write_all(fd, out, out_len);
  out_len = 0;
}

static void put(int fd, const char *s, size_t n) {
  if (out_len + n > sizeof out) flush(fd);
  if (n > sizeof out) {
    (void)write_all(fd, s, n);
    return;
  }
  memcpy(out + out_len, s, n);
  out_len += n;
}

/* JSON string body: quotes, backslashes and control characters escaped; other bytes (including
 * invalid UTF-8) pass through as they are. */
static void put_escaped(int fd, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t plain = 0; /* start of the run of bytes that need no escaping */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(fd, s + plain, i - plain);
    plain = i + 1;
    char e[6] = {'\\', 0};
    size_t len = 2;
    switch (c) {
      case '"': e[1] = '"'; break;
      case '\\': e[1] = '\\'; break;
      case '\n': e[1] = 'n'; break;
      case '\r': e[1] = 'r'; break;
      case '\t': e[1] = 't'; break;
      case '\b': e[1] = 'b'; break;
      case '\f': e[1] = 'f'; break;
      default:
        memcpy(e, "\\u00", 4);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        len = 6;
    }
    put(fd, e, len);
  }
  put(fd, s + plain, n - plain);
}

static void log_chunk(int fd, int stream, const char *buf, size_t n) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char tail[64] = "\",\"stream\":\"stdout\",\"time\":\"";
  size_t tl = strlen(tail);
  if (stream == 2) memcpy(tail + 12, "stderr", 6);
  tl += fmt_time(tail + tl, &now);
  memcpy(tail + tl, "\"}\n", 3);
  tl += 3;
  /* one entry per line; a partial line at the end of the chunk is an entry of its own */
  for (size_t start = 0; start < n;) {
    const char *nl = memchr(buf + start, '\n', n - start);
    size_t end = nl ? (size_t)(nl - buf) + 1 : n;
    put(fd, "{\"log\":\"", 8);
    put_escaped(fd, buf + start, end - start);
    put(fd, tail, tl);
    start = end;
  }
  flush(fd);
}

void send_frame(struct shim *sh, struct client *c, int stream, const char *buf, size_t n) {
  (void)sh;
  unsigned char hdr[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
  struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)buf, n}};
  size_t total = sizeof hdr + n;
  /* the client socket has a 1 s send timeout: a client that cannot keep up is dropped */
  while (total > 0) {
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      client_drop(c);
      return;
    }
    total -= (size_t)w;
    for (int i = 0; i < 2 && w > 0; i++) {
      size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
      iov[i].iov_base = (char *)iov[i].iov_base + take;
      iov[i].iov_len -= take;
      w -= (ssize_t)take;
    }
  }
}

void output_chunk(struct shim *sh, int stream, const char *buf, size_t n) {
  if (sh->log_fd >= 0) log_chunk(sh->log_fd, stream, buf, n);
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &sh->clients[i];
    if (c->fd >= 0 && c->subscribed) send_frame(sh, c, stream, buf, n);
  }
}
