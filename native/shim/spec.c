/* The spec file: NUL-terminated strings, a key then `arity` values (docs/shim-protocol.md).
 * Everything is validated here, so that the handshake fails before any process exists. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

enum kind { SCALAR, LIST };

struct key {
  const char *name;
  unsigned arity;
  enum kind kind;
  size_t off; /* offsetof(struct spec, ...) of a `const char *` (SCALAR) or a struct strlist (LIST) */
};

/* Scalars whose value is converted after parsing are read from this side table. */
struct raw {
  const char *version, *user[2], *groups, *caps, *no_new_privs, *readonly_rootfs, *tty, *stdin_open, *init, *oom, *target_pid;
  const char *log_max_size, *log_max_files, *seccomp, *tty_size[2], *detach;
};

/* off: offsetof in struct spec, or (with RAW) in struct raw; `ns` (RAW | 1) is collected separately */
#define RAW ((size_t)1 << 30)
#define S(field) offsetof(struct spec, field)
#define R(field) (offsetof(struct raw, field) | RAW)

static const struct key keys[] = {
    {"version", 1, SCALAR, R(version)},
    {"id", 1, SCALAR, S(id)},
    {"rootfs", 1, SCALAR, S(rootfs)},
    {"overlay", 1, SCALAR, S(overlay)},
    {"ns", 1, LIST, RAW | 1},
    {"netns", 1, SCALAR, S(netns)},
    {"hostname", 1, SCALAR, S(hostname)},
    {"mount", 5, LIST, S(mounts)},
    {"device", 4, LIST, S(devices)},
    {"device_owner", 4, LIST, S(device_owners)},
    {"symlink", 2, LIST, S(symlinks)},
    {"remount", 2, LIST, S(remounts)},
    {"mask", 1, LIST, S(masks)},
    {"ro_path", 1, LIST, S(ro_paths)},
    {"sysctl", 2, LIST, S(sysctls)},
    {"readonly_rootfs", 1, SCALAR, R(readonly_rootfs)},
    {"cgroup_procs", 1, LIST, S(cgroup_procs)},
    {"cgroup_self", 1, LIST, S(cgroup_self)},
    {"cgroup_into", 1, SCALAR, S(cgroup_into)},
    {"cwd", 1, SCALAR, S(cwd)},
    {"user", 2, SCALAR, R(user)},
    {"groups", 1, SCALAR, R(groups)},
    {"caps", 1, SCALAR, R(caps)},
    {"no_new_privs", 1, SCALAR, R(no_new_privs)},
    {"seccomp", 1, SCALAR, R(seccomp)},
    {"rlimit", 3, LIST, S(rlimits)},
    {"oom_score_adj", 1, SCALAR, R(oom)},
    {"env", 1, LIST, S(env)},
    {"arg", 1, LIST, S(args)},
    {"tty", 1, SCALAR, R(tty)},
    {"tty_size", 2, SCALAR, R(tty_size)},
    {"stdin", 1, SCALAR, R(stdin_open)},
    {"init", 1, SCALAR, R(init)},
    {"init_path", 1, SCALAR, S(init_path)},
    {"log", 1, SCALAR, S(log)},
    {"log_max_size", 1, SCALAR, R(log_max_size)},
    {"log_max_files", 1, SCALAR, R(log_max_files)},
    {"log_attrs", 1, SCALAR, S(log_attrs)},
    {"exit_file", 1, SCALAR, S(exit_file)},
    {"socket", 1, SCALAR, S(socket)},
    {"target_pid", 1, SCALAR, R(target_pid)},
    {"detach", 1, SCALAR, R(detach)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].name, name) == 0) return &keys[i];
  return NULL;
}

static int flag(const char *v, const char *key, bool *out) {
  if (strcmp(v, "1") == 0) *out = true;
  else if (strcmp(v, "0") == 0) *out = false;
  else return fail("spec: `%s` must be 0 or 1, got `%s`", key, v);
  return 0;
}

static int ns_flag(const char *name, struct spec *s) {
  static const struct { const char *name; int flag; } ns[] = {
      {"pid", CLONE_NEWPID}, {"mount", CLONE_NEWNS}, {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET},
  };
  if (strcmp(name, "cgroup") == 0) {
    s->cgroup_ns = true;
    return 0;
  }
  for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
    if (strcmp(ns[i].name, name) == 0) {
      s->clone_flags |= ns[i].flag;
      return 0;
    }
  return fail("spec: unknown namespace `%s` (known: pid mount uts ipc cgroup net)", name);
}

static int parse_groups(const char *v, struct spec *s) {
  size_t n = *v ? 1 : 0;
  for (const char *p = v; *p; p++) n += *p == ',';
  s->groups_size = (n ? n : 1) * sizeof(gid_t);
  s->groups = mem_get(s->groups_size);
  if (!s->groups) return fail_errno("mmap groups");
  char buf[32];
  for (const char *p = v; *p;) {
    size_t len = strcspn(p, ",");
    long long g;
    if (len >= sizeof buf) return fail("spec: bad gid in groups `%s`", v);
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (parse_ll(buf, 0, UINT32_MAX - 1, &g) < 0) return fail("spec: bad gid `%s` in groups `%s`", buf, v);
    s->groups[s->ngroups++] = (gid_t)g;
    p += len;
    if (*p == ',') p++;
  }
  s->has_groups = true;
  return 0;
}

/* Values of list entries are checked once here, so the init never meets a malformed number. */
static int check_lists(struct spec *s) {
  long long v;
  for (size_t i = 0; i < s->mounts.n; i++) {
    const char **m = s->mounts.v + i * 5;
    if (m[1][0] != '/') return fail("spec: mount target `%s` must be absolute", m[1]);
    if (parse_ll(m[3], 0, UINT32_MAX, &v) < 0) return fail("spec: mount `%s`: bad flags `%s`", m[1], m[3]);
  }
  for (size_t i = 0; i < s->remounts.n; i++) {
    const char **m = s->remounts.v + i * 2;
    if (m[0][0] != '/') return fail("spec: remount target `%s` must be absolute", m[0]);
    if (parse_ll(m[1], 0, UINT32_MAX, &v) < 0) return fail("spec: remount `%s`: bad flags `%s`", m[0], m[1]);
  }
  for (size_t i = 0; i < s->devices.n; i++) {
    const char **d = s->devices.v + i * 4;
    if (strcmp(d[1], "c") != 0 && strcmp(d[1], "b") != 0)
      return fail("spec: device `%s`: type must be c or b, got `%s`", d[0], d[1]);
    if (parse_ll(d[2], 0, 0xfff, &v) < 0 || parse_ll(d[3], 0, 0xfffff, &v) < 0)
      return fail("spec: device `%s`: bad major/minor `%s` `%s`", d[0], d[2], d[3]);
  }
  for (size_t i = 0; i < s->device_owners.n; i++) {
    const char **d = s->device_owners.v + i * 4;
    if (d[0][0] != '/') return fail("spec: device_owner `%s` must be absolute", d[0]);
    if (parse_ll(d[1], 0, 07777, &v) < 0 || parse_ll(d[2], 0, UINT32_MAX - 1, &v) < 0 || parse_ll(d[3], 0, UINT32_MAX - 1, &v) < 0)
      return fail("spec: device_owner `%s`: bad mode/uid/gid `%s` `%s` `%s`", d[0], d[1], d[2], d[3]);
  }
  for (size_t i = 0; i < s->rlimits.n; i++) {
    const char **r = s->rlimits.v + i * 3;
    if (parse_ll(r[0], 0, RLIM_NLIMITS - 1, &v) < 0) return fail("spec: rlimit: bad resource `%s`", r[0]);
    if (parse_ll(r[1], -1, INT64_MAX, &v) < 0 || parse_ll(r[2], -1, INT64_MAX, &v) < 0)
      return fail("spec: rlimit %s: bad limits `%s` `%s`", r[0], r[1], r[2]);
  }
  for (size_t i = 0; i < s->sysctls.n; i++)
    if (strchr(s->sysctls.v[i * 2], '/') || strstr(s->sysctls.v[i * 2], ".."))
      return fail("spec: bad sysctl key `%s`", s->sysctls.v[i * 2]);
  if (s->cgroup_self.n > MAX_CGROUP_SELF) return fail("spec: %zu `cgroup_self` files (at most %d)", s->cgroup_self.n, MAX_CGROUP_SELF);
  for (size_t i = 0; i < s->cgroup_self.n; i++)
    if (s->cgroup_self.v[i][0] != '/') return fail("spec: cgroup_self `%s` must be absolute", s->cgroup_self.v[i]);
  return 0;
}

/* `seccomp HEX`: struct sock_filter[] (8 bytes each, the host's byte order) as hex; at most BPF_MAXINSNS. */
static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int parse_seccomp(const char *hex, struct spec *s) {
  size_t n = strlen(hex);
  if (n == 0 || n % 16 != 0 || n / 16 > BPF_MAXINSNS)
    return fail("spec: `seccomp` must be 1 to %d BPF instructions in hex (16 digits each), got %zu digits", BPF_MAXINSNS, n);
  unsigned char *bytes = mem_get(n / 2);
  if (!bytes) return fail_errno("mmap seccomp");
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      mem_put(bytes, n / 2);
      return fail("spec: `seccomp` has a character that is not a lowercase hex digit at %zu", 2 * i);
    }
    bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  s->seccomp.filter = (struct sock_filter *)bytes;
  s->seccomp.len = (unsigned short)(n / 16);
  s->has_seccomp = true;
  return 0;
}

static int convert(struct spec *s, struct raw *r, bool exec_mode) {
  long long v;
  if (r->user[0]) {
    if (parse_ll(r->user[0], 0, UINT32_MAX - 1, &v) < 0) return fail("spec: bad uid `%s`", r->user[0]);
    s->uid = (uid_t)v;
    if (parse_ll(r->user[1], 0, UINT32_MAX - 1, &v) < 0) return fail("spec: bad gid `%s`", r->user[1]);
    s->gid = (gid_t)v;
    s->has_user = true;
  }
  if (r->groups && parse_groups(r->groups, s) < 0) return -1;
  if (r->caps) {
    char *end;
    errno = 0;
    s->caps = strtoull(r->caps, &end, 16);
    if (errno || *end || !*r->caps) return fail("spec: bad caps mask `%s` (hex expected)", r->caps);
    s->has_caps = true;
  }
  if (r->no_new_privs && flag(r->no_new_privs, "no_new_privs", &s->no_new_privs) < 0) return -1;
  if (r->seccomp && parse_seccomp(r->seccomp, s) < 0) return -1;
  if (r->readonly_rootfs && flag(r->readonly_rootfs, "readonly_rootfs", &s->readonly_rootfs) < 0) return -1;
  if (r->tty && flag(r->tty, "tty", &s->tty) < 0) return -1;
  if (r->tty_size[0]) {
    long long rows, cols;
    if (parse_ll(r->tty_size[0], 1, 65535, &rows) < 0 || parse_ll(r->tty_size[1], 1, 65535, &cols) < 0)
      return fail("spec: bad tty_size `%s %s`", r->tty_size[0], r->tty_size[1]);
    s->tty_rows = (unsigned short)rows;
    s->tty_cols = (unsigned short)cols;
  }
  if (r->stdin_open && flag(r->stdin_open, "stdin", &s->stdin_open) < 0) return -1;
  if (r->init && flag(r->init, "init", &s->init) < 0) return -1;
  if (r->detach && flag(r->detach, "detach", &s->detach) < 0) return -1;
  if (r->oom) {
    if (parse_ll(r->oom, -1000, 1000, &v) < 0) return fail("spec: bad oom_score_adj `%s`", r->oom);
    s->oom_score_adj = (int)v;
    s->has_oom = true;
  }
  if (r->log_max_size && parse_ll(r->log_max_size, 1, INT64_MAX, &s->log_max_size) < 0)
    return fail("spec: bad log_max_size `%s`", r->log_max_size);
  s->log_max_files = 1;
  if (r->log_max_files) {
    if (parse_ll(r->log_max_files, 1, INT32_MAX, &v) < 0) return fail("spec: bad log_max_files `%s`", r->log_max_files);
    s->log_max_files = (int)v;
  }
  if (s->log_attrs) {
    size_t n = strlen(s->log_attrs);
    if (n < 2 || s->log_attrs[0] != '{' || s->log_attrs[n - 1] != '}' || strchr(s->log_attrs, '\n'))
      return fail("spec: `log_attrs` must be a JSON object on one line");
  }
  if (r->target_pid) {
    if (parse_ll(r->target_pid, 1, INT32_MAX, &v) < 0) return fail("spec: bad target_pid `%s`", r->target_pid);
    s->target_pid = (pid_t)v;
  }

  if (!s->socket) return fail("spec: `socket` is required");
  if (!s->exit_file) return fail("spec: `exit_file` is required");
  if (s->args.n == 0) return fail("spec: at least one `arg` is required");
  if (exec_mode) {
    if (!s->target_pid) return fail("spec: `target_pid` is required for exec");
    s->log = NULL; /* exec output goes to socket clients only */
    s->log_attrs = NULL;
    s->log_max_size = 0;
    s->hostname = NULL;  /* the container's uts namespace is joined, not changed */
    s->init = false;
    s->init_path = NULL;
    s->cgroup_into = NULL; /* the exec's process joins by `cgroup_procs` or `cgroup_self` */
  } else {
    if (s->target_pid) return fail("spec: `target_pid` is only valid for exec");
    if ((s->log_max_size || r->log_max_files || s->log_attrs) && !s->log)
      return fail("spec: `log_max_size`, `log_max_files` and `log_attrs` need `log`");
    if (s->rootfs && !(s->clone_flags & CLONE_NEWNS)) return fail("spec: `rootfs` needs `ns mount`");
    if (s->overlay && !s->rootfs) return fail("spec: `overlay` needs `rootfs`");
    if (s->netns && (s->clone_flags & CLONE_NEWNET)) return fail("spec: `netns` and `ns net` exclude each other");
    if (s->init && !s->init_path) return fail("spec: `init` needs `init_path`");
    if (s->init_path && s->init_path[0] != '/') return fail("spec: `init_path` must be absolute, not `%s`", s->init_path);
    if (s->cgroup_into && s->cgroup_into[0] != '/') return fail("spec: `cgroup_into` must be absolute, not `%s`", s->cgroup_into);
    if ((s->mounts.n || s->remounts.n || s->devices.n || s->device_owners.n || s->symlinks.n) && !s->rootfs)
      return fail("spec: `mount`, `remount`, `device` and `symlink` need `rootfs`");
  }
  return check_lists(s);
}

/* `version N` may only be the first entry; without it the spec is version 1 (written before versions existed).
 * Older versions are read: each added keys only (2: `seccomp`).
 * Checked before the keys, so a newer daemon's spec is refused for its version, not for a key unknown here. */
static int check_version(const char *buf, const char *end) {
  if (buf >= end || strcmp(buf, "version") != 0) return 0;
  const char *v = buf + strlen(buf) + 1;
  if (v >= end) return fail("spec: key `version` needs 1 values");
  long long n;
  if (parse_ll(v, 0, INT32_MAX, &n) < 0 || n < 1 || n > SHIM_SPEC_VERSION)
    return fail("spec: version `%s` is not supported: this shim reads spec versions 1 to %d "
                "(the daemon and the shim must come from the same build)", v, SHIM_SPEC_VERSION);
  return 0;
}

int spec_load(const char *path, bool exec_mode, struct spec *s) {
  memset(s, 0, sizeof *s);
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open `%s`", path);
  struct stat st;
  if (fstat(fd, &st) < 0) return fail_errno("stat `%s`", path);
  if (st.st_size > (16 << 20)) return fail("spec `%s`: larger than 16 MiB", path);
  size_t size = (size_t)st.st_size;
  char *buf = mem_get(size + 1);
  if (!buf) return fail_errno("mmap spec");
  s->text = buf;
  s->text_size = size + 1;
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("read `%s`", path);
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got > 0 && buf[got - 1] != '\0') return fail("spec `%s`: last string is not NUL-terminated", path);
  buf[got] = '\0';
  char *end = buf + got;

  if (check_version(buf, end) < 0) return -1;
  /* pass 1: check keys and arity, count list entries */
  size_t counts[NKEYS] = {0};
  for (char *p = buf; p < end;) {
    const struct key *k = find_key(p);
    if (!k) return fail("spec: unknown key `%s`", p);
    if (p != buf && strcmp(k->name, "version") == 0) return fail("spec: `version` must be the first entry");
    p += strlen(p) + 1;
    for (unsigned i = 0; i < k->arity; i++) {
      if (p >= end) return fail("spec: key `%s` needs %u values", k->name, k->arity);
      p += strlen(p) + 1;
    }
    size_t idx = (size_t)(k - keys);
    if (k->kind == SCALAR && counts[idx]) return fail("spec: key `%s` given twice", k->name);
    counts[idx]++;
  }

  /* pass 2: fill. Every list's pointers (each NULL-terminated) in one mapping. */
  struct raw raw = {0};
  struct strlist ns = {0};
  size_t slots = 0;
  for (size_t i = 0; i < NKEYS; i++)
    if (keys[i].kind == LIST && counts[i]) slots += counts[i] * keys[i].arity + 1;
  const char **slot = slots ? mem_get(slots * sizeof(char *)) : NULL;
  if (slots && !slot) return fail_errno("mmap spec lists");
  s->lists = slot;
  s->lists_size = slots * sizeof(char *);
  for (size_t i = 0; i < NKEYS; i++) {
    if (keys[i].kind != LIST || !counts[i]) continue;
    struct strlist *l = keys[i].off & RAW ? &ns : (struct strlist *)((char *)s + keys[i].off);
    l->v = slot;
    slot += counts[i] * keys[i].arity + 1;
  }
  for (char *p = buf; p < end;) {
    const struct key *k = find_key(p);
    p += strlen(p) + 1;
    const char **dst;
    if (k->kind == LIST) {
      struct strlist *l = k->off & RAW ? &ns : (struct strlist *)((char *)s + k->off);
      dst = l->v + l->n++ * k->arity;
    } else if (k->off & RAW) {
      dst = (const char **)((char *)&raw + (k->off & ~RAW));
    } else {
      dst = (const char **)((char *)s + k->off);
    }
    for (unsigned i = 0; i < k->arity; i++) {
      dst[i] = p;
      p += strlen(p) + 1;
    }
  }
  for (size_t i = 0; i < ns.n; i++)
    if (ns_flag(ns.v[i], s) < 0) return -1;
  return convert(s, &raw, exec_mode);
}

void spec_release(struct spec *s) {
  const char **keep[] = {&s->id, &s->socket, &s->exit_file, &s->log, &s->log_attrs};
  enum { NKEEP = sizeof keep / sizeof keep[0] };
  size_t total = 0;
  for (size_t i = 0; i < NKEEP; i++)
    if (*keep[i]) total += strlen(*keep[i]) + 1;
  char *small = mem_keep(total ? total : 1);
  if (!small) return; /* keep it all */
  char *p = small;
  for (size_t i = 0; i < NKEEP; i++) {
    if (!*keep[i]) continue;
    size_t n = strlen(*keep[i]) + 1;
    memcpy(p, *keep[i], n);
    *keep[i] = p;
    p += n;
  }
  for (size_t i = 0; i < NKEYS; i++) {
    if (keys[i].kind != LIST || (keys[i].off & RAW)) continue;
    struct strlist *l = (struct strlist *)((char *)s + keys[i].off);
    l->v = NULL;
    l->n = 0;
  }
  mem_put(s->lists, s->lists_size);
  s->lists = NULL;
  s->rootfs = s->overlay = s->netns = s->hostname = s->cwd = s->init_path = NULL;
  mem_put(s->seccomp.filter, (size_t)s->seccomp.len * sizeof(struct sock_filter));
  s->seccomp.filter = NULL;
  s->seccomp.len = 0;
  s->has_seccomp = false;
  mem_put(s->groups, s->groups_size);
  s->groups = NULL;
  s->ngroups = 0;
  mem_put(s->text, s->text_size);
  s->text = NULL;
}
