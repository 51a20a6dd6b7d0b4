/* gantry-shim: shared declarations. See docs/shim-protocol.md for the contract with the daemon. */
#ifndef GANTRY_SHIM_H
#define GANTRY_SHIM_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>
#include <linux/filter.h>
#include <time.h>
#include <unistd.h>

/* ---- errors (util.c) ---------------------------------------------------------------------------
 * One message per process: the shim is single-threaded, and a failing step returns -1 after
 * filling g_err with "syscall `object`: ERRNO_NAME". */
#define ERR_MAX 512
extern char g_err[ERR_MAX];
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));       /* sets g_err, returns -1 */
int fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* + ": ENAME" of errno */
const char *errno_name(int err);

static inline void close_fdp(int *fd) {
  if (*fd >= 0) close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(close_fdp)))

int write_all(int fd, const void *buf, size_t len); /* 0, or -1 with errno */
void close_fds_from(int lowest); /* closes every fd >= lowest (close_range; /proc/self/fd before Linux 5.9) */
int write_str(int fd, const char *s);
int write_file(const char *path, const char *data); /* existing file (cgroup, /proc); fills g_err */
int parse_ll(const char *s, long long min, long long max, long long *out); /* strict decimal; 0/-1 */
size_t fmt_uint(char *out, unsigned long long v);                         /* no NUL; returns length */
size_t fmt_time(char *out, const struct timespec *ts); /* RFC3339Nano UTC, 30 chars, NUL-terminated */

/* ---- versions (docs/shim-protocol.md) ------------------------------------------------------------
 * SPEC: the spec file format this shim reads (its first entry `version N`; absent = 1). PROTOCOL: what it
 * speaks on stdout/stdin and its socket, announced in `ready` and answered to a `v` frame. */
#define SHIM_SPEC_VERSION 3 /* 2: `seccomp`; 3: `cgroup_self`, `cgroup_into`; versions 1..3 are read */
#define SHIM_PROTOCOL_VERSION 1

/* ---- spec (spec.c) ----------------------------------------------------------------------------- */
struct strlist {
  const char **v; /* n * arity strings, then NULL */
  size_t n;       /* number of entries */
};

struct spec {
  const char *id, *rootfs, *overlay, *netns, *hostname, *cwd, *log, *exit_file, *socket;
  const char *cgroup_into; /* run, cgroup v2: the init is cloned straight into this cgroup dir (main.c, clone_init) */
  const char *log_attrs;  /* JSON object written as `attrs` in every log line, or NULL */
  const char *init_path;  /* `init 1`: this shim's binary inside the container, exec'd as pid 1 (init.c) */
  long long log_max_size; /* rotate before the log would exceed this many bytes; 0 = never */
  int log_max_files;      /* files kept when rotating: log, log.1 ... log.(N-1) */
  int clone_flags;   /* CLONE_NEWPID|NEWNS|NEWUTS|NEWIPC|NEWNET requested with `ns` */
  bool cgroup_ns;    /* `ns cgroup`: unshared by the init after joining the cgroups */
  bool has_user;
  uid_t uid;
  gid_t gid;
  bool has_groups;
  gid_t *groups;
  size_t ngroups, groups_size; /* groups_size: bytes mapped (mem_get) */
  bool has_caps;
  uint64_t caps;
  bool no_new_privs, readonly_rootfs, tty, stdin_open, init;
  unsigned short tty_rows, tty_cols; /* `tty_size ROWS COLS`: the pty's size from the start (0: 24x80) */
  bool detach; /* `detach 1`: fork once at start, so the shim is not its spawner's child (main.c) */
  bool has_seccomp;
  struct sock_fprog seccomp; /* installed before exec (process.c, install_seccomp) */
  bool has_oom;
  int oom_score_adj;
  pid_t target_pid;
  struct strlist mounts, devices, device_owners, symlinks, remounts, masks, ro_paths, sysctls, cgroup_procs, cgroup_self, rlimits, env, args;
  char *text; /* the spec file's bytes: every string above points into it (until spec_release) */
  size_t text_size;
  const char **lists; /* every strlist's v, one mapping (mem_get) of lists_size bytes */
  size_t lists_size;
};

/* The shim's own scheduling policy (process.c): SCHED_BATCH for the shim, the original one for the container. */
void sched_batch(void);
int sched_restore(void); /* fills g_err */

/* Reads and validates SPEC_FILE. exec_mode: `gantry-shim exec`. Fills g_err on failure. */
int spec_load(const char *path, bool exec_mode, struct spec *s);
/* Once the start is settled: keeps the strings the shim still reads (id, socket, exit_file, log, log_attrs; mem_keep)
 * and unmaps the rest (the seccomp filter, env, mounts...: most of the shim's memory, for as long as the container
 * runs).
 * Every other string and list of the spec is gone afterwards. */
void spec_release(struct spec *s);

/* ---- the container side (rootfs.c, process.c) ------------------------------------------------ */
/* The container's root in two steps: rootfs_prepare (mounts, devices, links, the root made `/`, the working dir)
 * runs before `go`, while the daemon sets up the network; rootfs_finish (sysctls, read-only paths, masks, a
 * read-only `/`) after it, as the sysctls must follow the daemon's own in the container's network namespace.
 * pts: path of the tty slave on the host (bound onto /dev/console), or NULL. template: the spawner's template mount
 * namespace (the root is moved into a copy of it), or -1 (pivot_root). */
int rootfs_prepare(const struct spec *s, const char *pts, int template);
int rootfs_finish(const struct spec *s);
int mkdir_p(const char *path); /* plain mkdir -p (once the root is `/`) */
int loopback_up(void);
int apply_limits(const struct spec *s); /* hostname, rlimits, oom_score_adj */
int apply_creds(const struct spec *s);  /* groups, gid, uid, capabilities, no_new_privs */
/* The filter, once, at the point the spec allows: without no_new_privs while CAP_SYS_ADMIN is held (first thing
 * in apply_creds), with it just before exec (as runc). `late`: the call just before exec. */
int install_seccomp(const struct spec *s, bool late);
noreturn void exec_command(const struct spec *s, int errfd);      /* new_session, cwd, umask, env, exec_argv */
int new_session(bool tty);                                         /* default signals, setsid, controlling tty */
noreturn void exec_argv(const char *const *argv, int errfd);       /* execvp, else "exec-error 127|126 ..." */
noreturn void report_and_exit(int errfd, const char *kind, int code); /* "setup-error g_err" */

/* At most this many `cgroup_self` files (one per cgroup v1 hierarchy: 13 controllers, fewer hierarchies). */
#define MAX_CGROUP_SELF 16

/* Entry points of the forked children (child.c). The fds are the ones the child keeps. */
struct child_fds {
  int in, out, err; /* become 0, 1, 2 */
  int sync;         /* read end: one byte = go, EOF = abort */
  int errpipe;      /* write end, O_CLOEXEC: error line for the shim */
  int aux;          /* run: netns fd or -1; exec: pid pipe write end */
  int template;     /* run: the template mount namespace (rootfs_prepare), or -1 */
  const char *pts;  /* tty slave path on the host, or NULL */
  /* `cgroup_self` files (cgroup v1 `tasks`), opened by the shim: the child writes "0" to each, first thing */
  int join[MAX_CGROUP_SELF];
  size_t njoin;
};
noreturn void run_child(const struct spec *s, struct child_fds *f);

/* `init 1` (init.c). exec_init: the set-up init replaces itself with `init_path -- ARG...` and the spec's env,
 * its error pipe kept open as fd INIT_ERR_FD. init_main: that image (`gantry-shim -- ARG...`): forks the
 * command and stays as a minimal init (signals forwarded, zombies reaped, the command's status as its own). */
#define INIT_ERR_FD 3
noreturn void exec_init(const struct spec *s, int errfd);
noreturn void init_main(const char *const *cmd);
noreturn void exec_child(const struct spec *s, struct child_fds *f);

/* ---- the shim side (output.c, server.c, main.c) ---------------------------------------------- */
#define MAX_CLIENTS 32
#define CHUNK 16384

struct client {
  int fd;
  bool subscribed;
  unsigned char hdr[5];
  size_t hdr_len;  /* bytes of hdr received */
  uint32_t left;   /* payload bytes still to come */
  unsigned char small[4];
  size_t small_len; /* payload of r/s frames */
};

struct shim {
  const struct spec *spec;
  int log_fd;            /* -1 for exec and without `log` */
  off_t log_size;        /* bytes in the current log file */
  int log_rotated;       /* log.1 ... log.N that exist */
  bool log_stuck;        /* a rotation failed: keep appending to the current file, rotate no more */
  int in_fd;             /* write end of the process's stdin (pipe, or a dup of the pty master), or -1 */
  int master_fd;         /* pty master for resize, or -1 */
  bool close_in_pending; /* `e` received while stdin data is still queued */
  bool removing;         /* `d`: the container is being removed (main.c, finish) */
  int removal_slot;      /* 1 + the index in clients of the connection that sent `d` (0: none) */
  size_t pending_len;    /* bytes of stdin data in g_work->pending not yet accepted by in_fd */
  pid_t child; /* the process whose exit is the container's exit */
  struct client clients[MAX_CLIENTS];
};

int log_open(struct shim *sh); /* opens spec->log for appending (fills g_err) */
void output_chunk(struct shim *sh, int stream, const char *buf, size_t n); /* log + subscribers */
void output_flush(struct shim *sh, int stream); /* logs a line still waiting for its end (at EOF and exit) */
void send_frame(struct shim *sh, struct client *c, int stream, const char *buf, size_t n);

void output_idle(void); /* gives back the pages of a stream's partial line buffer while it holds none (mem.c) */

int server_listen(const char *path); /* fills g_err */
void server_accept(struct shim *sh, int listen_fd);
void client_readable(struct shim *sh, struct client *c);
void client_drop(struct client *c);
void stdin_flush(struct shim *sh); /* write queued stdin data when in_fd is writable */

/* ---- memory (mem.c, stack.c) ------------------------------------------------------------------
 * No malloc (mem.c says why): memory needed for a while is mapped, memory kept to the end is static when small. */
void *mem_get(size_t size);          /* zero-filled pages, or NULL with errno */
void mem_put(void *p, size_t size);  /* what mem_get(size) gave */
void *mem_keep(size_t size);         /* never given back; NULL with errno */
void mem_release(void *p, size_t size); /* the whole pages in [p, p+size) read as zeros again, and cost nothing */

/* The supervision's large buffers, one mapping after a guard page (work_map), each page-aligned so that it can be
 * given back on its own (work_idle). None is written before it is used. */
#define WORK_STACK (64 * 1024)
#define WORK_KEEP 1024
struct work {
  char stack[WORK_STACK - WORK_KEEP] __attribute__((aligned(4096))); /* the loop's (stack.c); the guard is below */
  char keep[WORK_KEEP]; /* mem_keep's: in the stack's top page, which the loop touches anyway */
  char io[CHUNK] __attribute__((aligned(4096)));         /* one read: the process's output, or a client's frames */
  char out[8192] __attribute__((aligned(4096)));         /* log entries being formatted (output.c) */
  char carry[2][CHUNK] __attribute__((aligned(4096)));   /* stdout's, stderr's line still waiting for its end */
  char pending[CHUNK] __attribute__((aligned(4096)));    /* stdin data not yet accepted by in_fd (server.c) */
};
extern struct work *g_work;
int work_map(void); /* fills g_err */
/* After a quiet second (main.c): the buffers that hold nothing, and (trim_stack: the loop runs on the work stack) the
 * stack below the caller's frames, go back to the kernel. */
void work_idle(const struct shim *sh, bool trim_stack);

/* Runs loop on the work stack, and unmaps the kernel's stack (stack.c says why, and when it stays). */
noreturn void run_on_work_stack(void (*loop)(void));
bool stack_is_work(void);

#endif
