/* The container's filesystem, done by the init in its new mount namespace: mounts, devices, symlinks and
 * remounts resolved inside the rootfs (openat2 + RESOLVE_IN_ROOT, so symlinks cannot escape), then the root
 * becomes `/` (moved into a copy of the template mount namespace, or pivot_root), sysctls, read-only paths, masks
 * and the read-only root. */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

#define PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
/* per-mount flags a bind remount can change */
#define BIND_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

/* An fd for PATH (a container path) resolved with the rootfs as `/`. */
static int in_root(int rootfd, const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

static const char *fd_path(int fd, char buf[32]) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

/*
 * Resolves PATH with the rootfs as `/` and makes what is missing on the way: directories, and for the last
 * name a directory or (LAST_IS_DIR false) an empty file. Links are followed inside the root, dangling ones too:
 * an image whose `/data` links to `/srv/data` gets `/srv/data` made inside the root and mounted on (as runc
 * does), never anything on the host. Every directory fd comes from openat2 RESOLVE_IN_ROOT, so a link can
 * never lead out; at most 40 links. Returns an O_PATH fd of the result.
 */
static int make_in_root(int rootfd, const char *path, bool last_is_dir) {
  char todo[PATH_MAX], cur[PATH_MAX] = "/", link[PATH_MAX], next[PATH_MAX];
  if (snprintf(todo, sizeof todo, "%s", path) >= (int)sizeof todo) return errno = ENAMETOOLONG, fail_errno("open `%s`", path);
  int hops = 0;
  char *rest = todo;
  for (;;) {
    while (*rest == '/') rest++;
    if (!*rest) break;
    char *comp = rest;
    rest += strcspn(rest, "/");
    if (*rest) *rest++ = '\0';
    while (*rest == '/') rest++;
    bool last = !*rest;
    if (strcmp(comp, ".") == 0) continue;
    if (strcmp(comp, "..") == 0) { /* lexical, never above the root (RESOLVE_IN_ROOT's rule) */
      char *slash = strrchr(cur, '/');
      if (slash == cur) cur[1] = '\0'; else *slash = '\0';
      continue;
    }
    if (strlen(comp) > NAME_MAX) return errno = ENAMETOOLONG, fail_errno("open `%s`", path);
    _cleanup_close_ int dir = in_root(rootfd, cur, O_PATH | O_DIRECTORY);
    if (dir < 0) return fail_errno("open `%s`", cur);
    struct stat st;
    if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      if (++hops > 40) return errno = ELOOP, fail_errno("open `%s`", path);
      ssize_t n = readlinkat(dir, comp, link, sizeof link - 1);
      if (n < 0) return fail_errno("readlink in `%s`", cur);
      link[n] = '\0';
      if (snprintf(next, sizeof next, "%s/%s", link, rest) >= (int)sizeof next) return errno = ENAMETOOLONG, fail_errno("open `%s`", path);
      if (link[0] == '/') strcpy(cur, "/");
      strcpy(todo, next);
      rest = todo;
      continue;
    }
    if (!last || last_is_dir) {
      if (mkdirat(dir, comp, 0755) < 0 && errno != EEXIST) return fail_errno("mkdir `%s/%s`", strcmp(cur, "/") ? cur : "", comp);
    } else {
      int f = openat(dir, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (f < 0 && errno != EEXIST) return fail_errno("create `%s/%s`", strcmp(cur, "/") ? cur : "", comp);
      if (f >= 0) close(f);
    }
    size_t len = strlen(cur);
    if (len + 1 + strlen(comp) >= sizeof cur) return errno = ENAMETOOLONG, fail_errno("open `%s`", path);
    snprintf(cur + len, sizeof cur - len, "%s%s", len > 1 ? "/" : "", comp);
  }
  int fd = in_root(rootfd, cur, last_is_dir ? O_PATH | O_DIRECTORY : O_PATH);
  return fd >= 0 ? fd : fail_errno("open `%s`", path);
}

/* mkdir -p inside the rootfs; returns an O_PATH fd of the directory. */
static int mkdir_in_root(int rootfd, const char *path) { return make_in_root(rootfd, path, true); }

/* Splits PATH into its parent dir (created if missing, returned as an fd) and its last name. */
static int parent_in_root(int rootfd, const char *path, char name[NAME_MAX + 1]) {
  const char *slash = strrchr(path, '/');
  const char *last = slash ? slash + 1 : path;
  if (!*last || strlen(last) > NAME_MAX || strcmp(last, ".") == 0 || strcmp(last, "..") == 0)
    return fail("bad path `%s`", path);
  strcpy(name, last);
  char parent[PATH_MAX];
  size_t len = (size_t)(last - path);
  if (len >= sizeof parent) return errno = ENAMETOOLONG, fail_errno("open `%s`", path);
  memcpy(parent, path, len);
  parent[len] = '\0';
  return mkdir_in_root(rootfd, len ? parent : "/");
}

/* Opens (creating when missing: a dir, or an empty file) the mount target DST inside the rootfs. */
static int open_target(int rootfd, const char *dst, bool dir) {
  int fd = in_root(rootfd, dst, O_PATH);
  if (fd >= 0 || errno != ENOENT) return fd >= 0 ? fd : fail_errno("open `%s`", dst);
  return make_in_root(rootfd, dst, dir);
}

/*
 * The masked directories' empty directory (mask_dir), made in the container's own /dev tmpfs (the last non-bind
 * `tmpfs` mount at `/dev` in the spec, `dev_tmpfs` its device) inside the first directory of it that a later
 * mount covers (`/dev/pts`, devpts, in every container the daemon starts): neither the container nor anything in
 * /dev shows it, nothing can reach it by a path, and it takes no new superblock. An O_PATH fd of it until the root
 * is `/`, then a detached clone of it (detach_mask_dir) kept to rootfs_finish (the masks), or -1: no such mount,
 * and the masks use a tmpfs (mask).
 */
static dev_t dev_tmpfs;
static bool has_dev_tmpfs, wants_mask_dir; /* wants_mask_dir: the spec masks something (privileged: nothing) */
static int mask_dir = -1;
#define MASK_DIR_NAME ".gantry-mask"

static bool is_dev_tmpfs(const char *const m[5], unsigned long flags) {
  if ((flags & MS_BIND) || strcmp(m[2], "tmpfs") != 0) return false;
  const char *t = m[1];
  while (*t == '/') t++;
  if (strncmp(t, "dev", 3) != 0) return false;
  for (t += 3; *t == '/'; t++) {}
  return *t == '\0';
}

/* Before a mount on the directory TARGET (an O_PATH fd): when TARGET is a directory of the /dev tmpfs (not its
 * root), the empty mask_dir is made in it, for the mount to cover. A failure (a full tmpfs) only leaves the
 * masks on a tmpfs. */
static void hide_mask_dir(int target) {
  struct stat st;
  if (!wants_mask_dir || mask_dir >= 0 || !has_dev_tmpfs || fstat(target, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_dev != dev_tmpfs) return;
  struct stat up;
  if (fstatat(target, "..", &up, 0) < 0 || up.st_dev != dev_tmpfs || up.st_ino == st.st_ino) return; /* the root itself */
  if (mkdirat(target, MASK_DIR_NAME, 0755) < 0) return;
  mask_dir = openat(target, MASK_DIR_NAME, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int do_mount(int rootfd, const char *const m[5]) {
  const char *src = m[0], *dst = m[1], *type = m[2], *data = m[4];
  long long v;
  parse_ll(m[3], 0, UINT32_MAX, &v); /* checked by spec_load */
  unsigned long flags = (unsigned long)v;
  bool dir = true;
  if (flags & MS_BIND) {
    struct stat st;
    if (stat(src, &st) < 0) return fail_errno("stat `%s`", src);
    dir = S_ISDIR(st.st_mode);
  }
  char p[32];
  {
    _cleanup_close_ int fd = open_target(rootfd, dst, dir);
    if (fd < 0) return -1;
    if (dir) hide_mask_dir(fd);
    unsigned long first = flags & MS_BIND ? flags & (MS_BIND | MS_REC) : flags & ~PROPAGATION;
    if (mount(src, fd_path(fd, p), *type ? type : NULL, first, *data ? data : NULL) < 0)
      return fail_errno("mount `%s` on `%s`", src, dst);
  }
  /* The fd above points under the new mount: reopen to reach the mount itself. */
  if (is_dev_tmpfs(m, flags)) { /* its device, to know its directories by (hide_mask_dir) */
    struct stat st;
    _cleanup_close_ int fd = in_root(rootfd, dst, O_PATH | O_DIRECTORY);
    if (fd < 0 || fstat(fd, &st) < 0) return fail_errno("open `%s`", dst);
    dev_tmpfs = st.st_dev, has_dev_tmpfs = true;
  }
  bool remount = (flags & MS_BIND) && (flags & BIND_FLAGS);
  if (remount || (flags & PROPAGATION)) {
    _cleanup_close_ int fd = in_root(rootfd, dst, O_PATH);
    if (fd < 0) return fail_errno("open `%s`", dst);
    if (remount && mount(NULL, fd_path(fd, p), NULL, MS_BIND | MS_REMOUNT | (flags & BIND_FLAGS), NULL) < 0)
      return fail_errno("remount `%s`", dst);
    if ((flags & PROPAGATION) && mount(NULL, fd_path(fd, p), NULL, flags & (PROPAGATION | MS_REC), NULL) < 0)
      return fail_errno("mount propagation `%s`", dst);
  }
  return 0;
}

/* `remount DST FLAGS`: MS_REMOUNT | FLAGS on the mount at DST, once what it holds (symlinks) is in place. */
static int do_remount(int rootfd, const char *dst, const char *flags) {
  long long v;
  parse_ll(flags, 0, UINT32_MAX, &v); /* checked by spec_load */
  _cleanup_close_ int fd = in_root(rootfd, dst, O_PATH);
  if (fd < 0) return fail_errno("open `%s`", dst);
  char p[32];
  if (mount(NULL, fd_path(fd, p), NULL, MS_REMOUNT | (unsigned long)v, NULL) < 0) return fail_errno("remount `%s`", dst);
  return 0;
}

static int make_device(int rootfd, const char *const d[4]) {
  long long major, minor;
  parse_ll(d[2], 0, 0xfff, &major);
  parse_ll(d[3], 0, 0xfffff, &minor);
  mode_t type = d[1][0] == 'b' ? S_IFBLK : S_IFCHR;
  char name[NAME_MAX + 1];
  _cleanup_close_ int parent = parent_in_root(rootfd, d[0], name);
  if (parent < 0) return -1;
  if (mknodat(parent, name, type | 0666, makedev(major, minor)) < 0 && errno != EEXIST)
    return fail_errno("mknod `%s`", d[0]);
  return 0;
}

/* `device_owner PATH MODE UID GID`: a --device node gets the host node's mode and owner (Docker's rule). */
static int own_device(int rootfd, const char *const d[4]) {
  long long mode, uid, gid;
  parse_ll(d[1], 0, 07777, &mode); /* checked by spec_load */
  parse_ll(d[2], 0, UINT32_MAX - 1, &uid);
  parse_ll(d[3], 0, UINT32_MAX - 1, &gid);
  _cleanup_close_ int fd = in_root(rootfd, d[0], O_PATH | O_NOFOLLOW);
  if (fd < 0) return fail_errno("open `%s`", d[0]);
  char p[32];
  if (chown(fd_path(fd, p), (uid_t)uid, (gid_t)gid) < 0) return fail_errno("chown `%s`", d[0]);
  if (chmod(fd_path(fd, p), (mode_t)mode) < 0) return fail_errno("chmod `%s`", d[0]);
  return 0;
}

static int make_symlink(int rootfd, const char *target, const char *link) {
  char name[NAME_MAX + 1];
  _cleanup_close_ int parent = parent_in_root(rootfd, link, name);
  if (parent < 0) return -1;
  if (symlinkat(target, parent, name) < 0 && errno != EEXIST) return fail_errno("symlink `%s`", link);
  return 0;
}

/* The tty slave (a host devpts file) becomes /dev/console when the image has one. */
static int bind_console(int rootfd, const char *pts) {
  _cleanup_close_ int fd = in_root(rootfd, "/dev/console", O_PATH);
  if (fd < 0) return errno == ENOENT ? 0 : fail_errno("open `/dev/console`");
  char p[32];
  if (mount(pts, fd_path(fd, p), NULL, MS_BIND, NULL) < 0) return fail_errno("mount `%s` on `/dev/console`", pts);
  return 0;
}

static int pivot(int rootfd) {
  if (fchdir(rootfd) < 0) return fail_errno("chdir rootfs");
  if (syscall(SYS_pivot_root, ".", ".") < 0) return fail_errno("pivot_root `.`");
  /* the old root is now stacked on `.`: detach it */
  if (umount2(".", MNT_DETACH) < 0) return fail_errno("umount old root");
  if (chdir("/") < 0) return fail_errno("chdir `/`");
  return 0;
}

/* mask_dir as a detached clone (open_tree), bound on the first masked dir once the root is `/`: the mount it was
 * made in stays in the namespace the init leaves (move_into_template). Made after the root's clone, so that
 * mountinfo lists it after the root as before (its order is the mounts' age). None (the masks use a tmpfs) when
 * the kernel cannot (open_tree: Linux 5.2). */
static void detach_mask_dir(void) {
  if (mask_dir < 0) return;
  int tree = (int)syscall(SYS_open_tree, mask_dir, "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
  close(mask_dir);
  mask_dir = tree;
}

/* True when `/` is what the spawner's template has as its root: an empty read-only tmpfs. Checked before anything
 * is moved on it, so an fd that is not the template (the host's namespace) is refused, never chrooted from. */
static bool root_is_template(void) {
  struct statfs sf;
  if (statfs("/", &sf) < 0 || sf.f_type != TMPFS_MAGIC || !(sf.f_flags & ST_RDONLY)) return false;
  DIR *dir = opendir("/");
  if (dir == NULL) return false;
  bool empty = true;
  for (struct dirent *e; empty && (e = readdir(dir)) != NULL;)
    empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
  closedir(dir);
  return empty;
}

/*
 * The root becomes `/` without pivot_root, which visits every task of the host (chroot_fs_refs) and so costs more
 * with every container running (6 ms at 20,000 tasks here, against 0.05 ms for this). The whole tree on the rootfs is
 * cloned (open_tree, AT_RECURSIVE: the mounts keep their propagation), the init moves into a copy of the template
 * mount namespace (TEMPLATE, the spawner's: its root an empty read-only tmpfs and nothing else), attaches the clone on
 * `/` and chroots into it. The namespace the init leaves (the host's mounts, copied by clone) goes with it. What is
 * under the root is the template's empty tmpfs: a process that can unmount (CAP_SYS_ADMIN) and detaches `/` reaches
 * that, never the host's initial root filesystem, which lies under a pivot_root's root. A chroot escape ends at the
 * root itself either way (a lookup at the tmpfs root enters the mount on top again). Nested runtimes can still
 * pivot_root (the root is a mount with a parent). 1: the kernel has no open_tree (before 5.2), nothing done.
 */
static int move_into_template(int rootfd, int template) {
  _cleanup_close_ int tree = (int)syscall(SYS_open_tree, rootfd, "", OPEN_TREE_CLONE | AT_RECURSIVE | O_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0 && errno == ENOSYS) return 1;
  if (tree < 0) return fail_errno("open_tree rootfs");
  detach_mask_dir();
  if (setns(template, CLONE_NEWNS) < 0) return fail_errno("setns template mount namespace");
  if (unshare(CLONE_NEWNS) < 0) return fail_errno("unshare `mount` from the template");
  if (!root_is_template()) return errno = EINVAL, fail_errno("template mount namespace: its root is not an empty read-only tmpfs");
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0) return fail_errno("mount rootfs on `/`");
  if (fchdir(tree) < 0 || chroot(".") < 0 || chdir("/") < 0) return fail_errno("chroot rootfs");
  return 0;
}

static unsigned long kept_flags(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static int ro_path(const char *path) {
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
    return errno == ENOENT ? 0 : fail_errno("mount `%s` on itself", path);
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(path), NULL) < 0)
    return fail_errno("remount `%s` read-only", path);
  return 0;
}

#define MASK_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* Binds mask_dir (a detached clone since rootfs_prepare, attached with move_mount: no path reaches it) read-only
 * on PATH. */
static int bind_mask_dir(const char *path) {
  int tree = mask_dir;
  mask_dir = -1;
  int moved = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
  close(tree);
  if (moved < 0) return fail_errno("mount `/dev/.../" MASK_DIR_NAME "` on `%s`", path);
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MASK_FLAGS, NULL) < 0) return fail_errno("remount `%s` read-only", path);
  return 0;
}

/*
 * Masks PATH: a file with /dev/null bound on it, a directory with an empty read-only directory. Every masked
 * directory shows the same one (`*first_dir`, the first one masked, is bound on the next ones). The first gets
 * mask_dir, the hidden directory of the container's /dev tmpfs; without one, an empty read-only tmpfs: a
 * superblock of its own, a few kB of kernel memory per container, which mask_dir does without.
 */
static int mask(const char *path, const char **first_dir) {
  struct stat st;
  if (stat(path, &st) < 0) return errno == ENOENT ? 0 : fail_errno("stat `%s`", path);
  if (!S_ISDIR(st.st_mode)) {
    if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0) return fail_errno("mount `/dev/null` on `%s`", path);
    return 0;
  }
  if (*first_dir == NULL) {
    if (mask_dir >= 0) {
      if (bind_mask_dir(path) < 0) return -1;
    } else if (mount("tmpfs", path, "tmpfs", MASK_FLAGS, "size=0") < 0) {
      return fail_errno("mount tmpfs on `%s`", path);
    }
    *first_dir = path;
    return 0;
  }
  if (mount(*first_dir, path, NULL, MS_BIND, NULL) < 0) return fail_errno("mount `%s` on `%s`", *first_dir, path);
  if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MASK_FLAGS, NULL) < 0)
    return fail_errno("remount `%s` read-only", path);
  return 0;
}

static int sysctl(const char *key, const char *value) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "/proc/sys/%s", key) >= (int)sizeof path) return fail("sysctl `%s`: too long", key);
  for (char *p = path + 10; *p; p++)
    if (*p == '.') *p = '/';
  return write_file(path, value);
}

int rootfs_prepare(const struct spec *s, const char *pts, int template) {
  bool own_mounts = s->clone_flags & CLONE_NEWNS; /* never touch the host's mount table */
  if (own_mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail_errno("mount `/` private");
  if (s->rootfs) {
    if (s->overlay) {
      if (mount("overlay", s->rootfs, "overlay", 0, s->overlay) < 0) return fail_errno("mount overlay on `%s`", s->rootfs);
    } else if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) {
      return fail_errno("mount `%s` on itself", s->rootfs);
    }
    _cleanup_close_ int rootfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return fail_errno("open `%s`", s->rootfs);
    wants_mask_dir = s->masks.n > 0;
    for (size_t i = 0; i < s->mounts.n; i++)
      if (do_mount(rootfd, s->mounts.v + i * 5) < 0) return -1;
    for (size_t i = 0; i < s->devices.n; i++)
      if (make_device(rootfd, s->devices.v + i * 4) < 0) return -1;
    for (size_t i = 0; i < s->device_owners.n; i++)
      if (own_device(rootfd, s->device_owners.v + i * 4) < 0) return -1;
    for (size_t i = 0; i < s->symlinks.n; i++)
      if (make_symlink(rootfd, s->symlinks.v[i * 2], s->symlinks.v[i * 2 + 1]) < 0) return -1;
    for (size_t i = 0; i < s->remounts.n; i++)
      if (do_remount(rootfd, s->remounts.v[i * 2], s->remounts.v[i * 2 + 1]) < 0) return -1;
    if (pts && bind_console(rootfd, pts) < 0) return -1;
    int moved = template >= 0 ? move_into_template(rootfd, template) : 1;
    if (moved < 0 || (moved == 1 && pivot(rootfd) < 0)) return -1;
    if (moved == 1) detach_mask_dir();
  }
  if (s->cwd && mkdir_p(s->cwd) < 0) return -1; /* as root, and before `/` may turn read-only */
  return 0;
}

int rootfs_finish(const struct spec *s) {
  bool own_mounts = s->clone_flags & CLONE_NEWNS;
  for (size_t i = 0; i < s->sysctls.n; i++)
    if (sysctl(s->sysctls.v[i * 2], s->sysctls.v[i * 2 + 1]) < 0) return -1;
  if (!own_mounts) return 0;
  for (size_t i = 0; i < s->ro_paths.n; i++)
    if (ro_path(s->ro_paths.v[i]) < 0) return -1;
  const char *first_dir = NULL;
  for (size_t i = 0; i < s->masks.n; i++)
    if (mask(s->masks.v[i], &first_dir) < 0) return -1;
  if (mask_dir >= 0) close(mask_dir);
  mask_dir = -1;
  if (s->readonly_rootfs && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags("/"), NULL) < 0)
    return fail_errno("remount `/` read-only");
  return 0;
}

int mkdir_p(const char *path) {
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) return errno = ENAMETOOLONG, fail_errno("mkdir `%s`", path);
  strcpy(buf, path);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return fail_errno("mkdir `%s`", buf);
    *p = saved;
    if (!saved) return 0;
  }
}
