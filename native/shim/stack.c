/* The supervision's stack (issue 16). The kernel's stack of the process is a mapping of its own near the top of the
 * address space: its page-table pages (8 kB: nothing else is near it) and what the start touched there (the
 * arguments, the auxiliary vector, the start's deeper frames: 12-20 kB) stayed for as long as the container ran,
 * more than the loop needs. The loop runs instead on the stack in the work area (mem.c: a mapping, randomized as
 * any), and the kernel's stack is unmapped once nothing reads it:
 * - the kernel reads /proc/PID/cmdline and environ from it (the daemon, `top` and the test harness read the shim's
 *   cmdline): the arguments and the environment are copied, and the kernel is told where they are now
 *   (prctl PR_SET_MM_MAP);
 * - musl reads the auxiliary vector there at start, and once more at the first clock_gettime (for the vDSO's
 *   address): that call is made before the switch. `environ` and the program's name point there: they are pointed
 *   elsewhere. Nothing else of the start's frames is read once the loop runs: its state is static.
 * Only with musl (glibc keeps more pointers into that stack: __libc_stack_end, _dl_argv, ...) and where the switch
 * is written (x86-64, arm64). Where any step fails, the shim keeps the kernel's stack, as before. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if !defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#define CAN_SWITCH 1
#else
#define CAN_SWITCH 0
#endif

static bool on_work_stack;

bool stack_is_work(void) { return on_work_stack; }

#if CAN_SWITCH
/* Reads a small /proc file into the work area's io buffer (unused until the loop runs) and NUL-terminates it; its
 * length, or -1 (also when it does not fit: refused rather than guessed at). */
static ssize_t read_proc(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t r = read(fd, g_work->io + len, sizeof g_work->io - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    if (len == sizeof g_work->io - 1) break;
  }
  close(fd);
  if (len == sizeof g_work->io - 1) return -1;
  g_work->io[len] = '\0';
  return (ssize_t)len;
}

/* The mapping of /proc/self/maps that contains addr: [lo, hi). */
static bool mapping_of(uintptr_t addr, uintptr_t *lo, uintptr_t *hi) {
  if (read_proc("/proc/self/maps") < 0) return false;
  for (char *p = g_work->io; *p;) {
    errno = 0;
    unsigned long long a = strtoull(p, &p, 16);
    if (errno || *p++ != '-') return false;
    unsigned long long b = strtoull(p, &p, 16);
    if (errno) return false;
    if (addr >= a && addr < b) {
      *lo = (uintptr_t)a;
      *hi = (uintptr_t)b;
      return true;
    }
    p = strchr(p, '\n');
    if (!p) return false;
    p++;
  }
  return false;
}

/* What the kernel knows of this process's layout, as PR_SET_MM_MAP takes it: /proc/self/stat's fields 26-28
 * (start_code, end_code, start_stack) and 45-51 (start_data ... env_end; Linux 3.5+), and the break (brk(0) asks,
 * changes nothing). */
static bool read_layout(struct prctl_mm_map *m) {
  if (read_proc("/proc/self/stat") < 0) return false;
  const char *p = strrchr(g_work->io, ')'); /* the name may hold spaces and parentheses; nothing after it does */
  if (!p) return false;
  p++;
  uint64_t *at[52] = {0};
  at[26] = &m->start_code, at[27] = &m->end_code, at[28] = &m->start_stack;
  at[45] = &m->start_data, at[46] = &m->end_data, at[47] = &m->start_brk;
  at[48] = &m->arg_start, at[49] = &m->arg_end, at[50] = &m->env_start, at[51] = &m->env_end;
  for (int field = 3; field < 52; field++) { /* p is just before field number `field` */
    while (*p == ' ') p++;
    if (at[field]) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(p, &end, 10);
      if (errno || end == p || (*end != ' ' && *end != '\n')) return false;
      *at[field] = v;
    }
    p += strcspn(p, " \n");
  }
  long brk = syscall(SYS_brk, 0);
  if (brk <= 0) return false;
  m->brk = (uint64_t)brk;
  m->auxv = NULL; /* size 0: the kernel keeps its copy (/proc/PID/auxv) */
  m->auxv_size = 0;
  m->exe_fd = (uint32_t)-1; /* the exe link stays */
  return m->arg_start <= m->arg_end && m->arg_end <= m->env_start && m->env_start <= m->env_end;
}

static char *const no_environ[] = {NULL};

/* On the work stack, so that the kernel's stack is no longer in use: copies what the kernel and musl still read
 * there, and unmaps it. False (and nothing changed) where a step fails. Not inlined: its frame (the layout, the
 * paths) is gone before the loop starts below retire's. */
static __attribute__((noinline)) bool unmap_kernel_stack(void) {
  struct prctl_mm_map m;
  uintptr_t lo, hi;
  if (!read_layout(&m) || !mapping_of(m.arg_start, &lo, &hi) || m.env_end > hi) return false;
  /* nothing of the shim's own is in that mapping (the kernel's, made at exec) */
  const uintptr_t mine[] = {(uintptr_t)g_work, (uintptr_t)&on_work_stack};
  for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++)
    if (mine[i] >= lo && mine[i] < hi) return false;
  /* the arguments and the environment are one run of strings: copied whole, the kernel's bounds moved with them */
  size_t len = m.env_end - m.arg_start;
  char *copy = mem_keep(len ? len : 1);
  if (!copy) return false;
  memcpy(copy, (const void *)(uintptr_t)m.arg_start, len);
  uint64_t base = m.arg_start;
  m.arg_start = (uintptr_t)copy;
  m.arg_end = (uintptr_t)copy + (m.arg_end - base);
  m.env_start = (uintptr_t)copy + (m.env_start - base);
  m.env_end = (uintptr_t)copy + (m.env_end - base);
  /* All fields at once, and without a capability (field by field, PR_SET_MM wants CAP_SYS_RESOURCE). A kernel
   * without CONFIG_CHECKPOINT_RESTORE refuses it: the stack stays. */
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&m, sizeof m, 0) < 0) return false;
  /* program_invocation_name and _short_name (musl's __progname_full and __progname): argv[0], its last name */
  program_invocation_name = copy;
  const char *slash = strrchr(copy, '/');
  program_invocation_short_name = (char *)(slash ? slash + 1 : copy);
  environ = (char **)no_environ; /* the shim reads none; its children were made at start */
  return munmap((void *)lo, hi - lo) == 0;
}

static noreturn void retire(void (*loop)(void)) {
  unmap_kernel_stack();
  loop();
  _exit(2); /* not reached: the loop exits the process */
}

/* Sets the stack pointer to top and calls retire(loop), which never returns: no frame pointer and no return
 * address to unwind into (the old stack is about to go). */
static noreturn void jump(void *top, void (*loop)(void)) {
  void (*fn)(void (*)(void)) = retire;
#if defined(__x86_64__)
  __asm__ volatile("mov %0, %%rsp\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %2, %%rdi\n\t"
                   "call *%1\n\t"
                   "ud2"
                   :
                   : "r"(top), "r"(fn), "r"(loop)
                   : "memory", "rdi");
#elif defined(__aarch64__)
  __asm__ volatile("mov sp, %0\n\t"
                   "mov x29, xzr\n\t"
                   "mov x30, xzr\n\t"
                   "mov x0, %2\n\t"
                   "blr %1\n\t"
                   "brk #0"
                   :
                   : "r"(top), "r"(fn), "r"(loop)
                   : "memory", "x0", "x30");
#endif
  __builtin_unreachable();
}
#endif

noreturn void run_on_work_stack(void (*loop)(void)) {
#if CAN_SWITCH
  /* musl finds the vDSO's clock_gettime at the first call, in the auxiliary vector on the kernel's stack: made here,
   * every later call uses what it found */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  on_work_stack = true;
  jump(g_work->stack + sizeof g_work->stack, loop); /* the end of a page-aligned array: 16-byte aligned, as both ABIs want */
#else
  loop();
  _exit(2);
#endif
}
