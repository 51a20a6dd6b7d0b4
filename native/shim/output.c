/* Output of the process: appended to the log as Docker json-file lines, and forwarded to subscribed
 * clients with Docker's 8-byte stream header. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* Log entries being formatted go to g_work->out (mem.c), written out when it is full and at the end of each chunk. */
static size_t out_len;

/* A failed log write (full disk) must not stop the container: the entry is lost, the size is re-read. */
static void log_write(struct shim *sh, const char *s, size_t n) {
  struct stat st;
  if (write_all(sh->log_fd, s, n) == 0) sh->log_size += (off_t)n;
  else if (fstat(sh->log_fd, &st) == 0) sh->log_size = st.st_size;
}

static void flush(struct shim *sh) {
  if (out_len) log_write(sh, g_work->out, out_len);
  out_len = 0;
}

static void put(struct shim *sh, const char *s, size_t n) {
  if (out_len + n > sizeof g_work->out) flush(sh);
  if (n > sizeof g_work->out) {
    log_write(sh, s, n);
    return;
  }
  memcpy(g_work->out + out_len, s, n);
  out_len += n;
}

/* JSON string body: quotes, backslashes and control characters escaped; other bytes (including
 * invalid UTF-8) pass through as they are. */
static bool plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

/* The escape of a byte that is not plain, into e; its length. */
static size_t escape(unsigned char c, char e[6]) {
  static const char hex[] = "0123456789abcdef";
  e[0] = '\\';
  switch (c) {
    case '"': e[1] = '"'; return 2;
    case '\\': e[1] = '\\'; return 2;
    case '\n': e[1] = 'n'; return 2;
    case '\r': e[1] = 'r'; return 2;
    case '\t': e[1] = 't'; return 2;
    case '\b': e[1] = 'b'; return 2;
    case '\f': e[1] = 'f'; return 2;
    default:
      memcpy(e, "\\u00", 4);
      e[4] = hex[c >> 4];
      e[5] = hex[c & 15];
      return 6;
  }
}

static size_t escaped_len(const char *s, size_t n) {
  char e[6];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) len += plain((unsigned char)s[i]) ? 1 : escape((unsigned char)s[i], e);
  return len;
}

static void put_escaped(struct shim *sh, const char *s, size_t n) {
  size_t start = 0; /* start of the run of bytes that need no escaping */
  for (size_t i = 0; i < n; i++) {
    if (plain((unsigned char)s[i])) continue;
    put(sh, s + start, i - start);
    start = i + 1;
    char e[6];
    put(sh, e, escape((unsigned char)s[i], e));
  }
  put(sh, s + start, n - start);
}

/* PATH, or PATH.N for N > 0; 0, or -1 when it does not fit. */
static int rotated_name(char *buf, size_t size, const char *path, int n) {
  size_t len = strlen(path);
  if (len + 12 > size) return -1;
  memcpy(buf, path, len);
  if (n > 0) {
    buf[len++] = '.';
    len += fmt_uint(buf + len, (unsigned)n);
  }
  buf[len] = '\0';
  return 0;
}

int log_open(struct shim *sh) {
  const struct spec *s = sh->spec;
  sh->log_fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (sh->log_fd < 0) return fail_errno("open `%s`", s->log);
  struct stat st;
  if (fstat(sh->log_fd, &st) < 0) return fail_errno("stat `%s`", s->log);
  sh->log_size = st.st_size;
  /* rotated files from earlier runs of the container: log.1, log.2, ... without gaps */
  char name[4096];
  sh->log_rotated = 0;
  while (s->log_max_size && sh->log_rotated < s->log_max_files - 1 &&
         rotated_name(name, sizeof name, s->log, sh->log_rotated + 1) == 0 && access(name, F_OK) == 0)
    sh->log_rotated++;
  return 0;
}

/* log.(N-2) -> log.(N-1) ... log -> log.1 (the oldest is replaced, so at most N files exist), then a new
 * empty log. Whole lines only: this runs between entries. With one file, the log is emptied instead, as
 * Docker does. If a step fails, the shim keeps appending to the file it has: no line is lost. */
static void rotate(struct shim *sh) {
  const struct spec *s = sh->spec;
  if (s->log_max_files <= 1) {
    if (ftruncate(sh->log_fd, 0) == 0) sh->log_size = 0;
    else sh->log_stuck = true;
    return;
  }
  char from[4096], to[4096];
  int top = sh->log_rotated < s->log_max_files - 1 ? sh->log_rotated + 1 : s->log_max_files - 1;
  for (int i = top; i >= 1; i--) {
    if (rotated_name(from, sizeof from, s->log, i - 1) < 0 || rotated_name(to, sizeof to, s->log, i) < 0 ||
        (rename(from, to) < 0 && errno != ENOENT)) {
      sh->log_stuck = true;
      return;
    }
  }
  sh->log_rotated = top;
  int fd = open(s->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    sh->log_stuck = true;
    return;
  }
  close(sh->log_fd);
  sh->log_fd = fd;
  struct stat st;
  sh->log_size = fstat(fd, &st) == 0 ? st.st_size : 0;
}

static void log_entries(struct shim *sh, int stream, const char *buf, size_t n) {
  const struct spec *s = sh->spec;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char head[32] = "\",\"stream\":\"stdout\"";
  size_t hl = strlen(head);
  if (stream == 2) memcpy(head + 12, "stderr", 6);
  char tail[64] = ",\"time\":\"";
  size_t tl = strlen(tail);
  tl += fmt_time(tail + tl, &now);
  memcpy(tail + tl, "\"}\n", 3);
  tl += 3;
  size_t al = s->log_attrs ? strlen(s->log_attrs) : 0;
  /* one entry per line; a partial line at the end of the chunk is an entry of its own */
  for (size_t start = 0; start < n;) {
    const char *nl = memchr(buf + start, '\n', n - start);
    size_t end = nl ? (size_t)(nl - buf) + 1 : n;
    if (s->log_max_size && !sh->log_stuck) {
      off_t size = sh->log_size + (off_t)out_len;
      off_t entry = (off_t)(8 + escaped_len(buf + start, end - start) + hl + (al ? 9 + al : 0) + tl);
      if (size > 0 && size + entry > s->log_max_size) {
        flush(sh);
        rotate(sh);
      }
    }
    put(sh, "{\"log\":\"", 8);
    put_escaped(sh, buf + start, end - start);
    put(sh, head, hl);
    if (al) {
      put(sh, ",\"attrs\":", 9);
      put(sh, s->log_attrs, al);
    }
    put(sh, tail, tl);
    start = end;
  }
  flush(sh);
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

/* Like Docker, a log entry is a whole line: the end of a read that stops mid-line waits for the rest (up to
 * CHUNK bytes; a longer line is logged in CHUNK-sized parts). Per stream: stdout, stderr. */
static size_t carry_len[2]; /* of g_work->carry[0] (stdout), [1] (stderr) */

static void log_output(struct shim *sh, int stream, const char *buf, size_t n) {
  char *c = g_work->carry[stream == 2];
  size_t *cl = &carry_len[stream == 2];
  const char *nl = memchr(buf, '\n', n);
  if (*cl && nl) { /* the first line completes the carried one */
    size_t len = (size_t)(nl - buf) + 1;
    if (*cl + len > CHUNK) {
      log_entries(sh, stream, c, *cl);
    } else {
      memcpy(c + *cl, buf, len);
      log_entries(sh, stream, c, *cl + len);
      buf += len;
      n -= len;
    }
    *cl = 0;
  }
  const char *last = n ? memrchr(buf, '\n', n) : NULL;
  size_t whole = last ? (size_t)(last - buf) + 1 : 0;
  if (whole) log_entries(sh, stream, buf, whole);
  buf += whole;
  n -= whole;
  if (*cl + n > CHUNK) { /* a line longer than CHUNK: its first part is an entry of its own */
    log_entries(sh, stream, c, *cl);
    *cl = 0;
  }
  memcpy(c + *cl, buf, n);
  *cl += n;
}

void output_flush(struct shim *sh, int stream) {
  size_t *cl = &carry_len[stream == 2];
  if (sh->log_fd >= 0 && *cl) log_entries(sh, stream, g_work->carry[stream == 2], *cl);
  *cl = 0;
}

void output_idle(void) {
  for (int i = 0; i < 2; i++)
    if (!carry_len[i]) mem_release(g_work->carry[i], sizeof g_work->carry[i]);
}

void output_chunk(struct shim *sh, int stream, const char *buf, size_t n) {
  if (sh->log_fd >= 0) log_output(sh, stream, buf, n);
  for (int i = 0; i < MAX_CLIENTS; i++) {
    struct client *c = &sh->clients[i];
    if (c->fd >= 0 && c->subscribed) send_frame(sh, c, stream, buf, n);
  }
}
