/* The shim's memory (issue 16: one shim per container, so what an idle one keeps resident counts a thousand times).
 *
 * - No malloc. musl's allocator keeps its metadata on the heap (brk), a mapping of its own at a random address with
 *   its own page-table pages, kept for as long as the container runs even once everything in it is freed. What the
 *   start needs for a while (the spec: its text, lists, filter) is mapped with mem_get and unmapped with mem_put.
 * - What is kept to the end (the strings the supervision reads, the command line) shares a page the loop touches
 *   anyway (mem_keep).
 * - The supervision's large buffers and its stack are in one mapping (struct work, work_map) made at start and never
 *   written before they are used: a page is memory only once touched. work_idle gives the kernel back, after a quiet
 *   second, what traffic touched and nothing holds any more.
 * Built static-pie (scripts/build.mjs), the binary is mapped beside the vDSO and these mappings follow it: all of
 * them share one set of page-table pages. */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

struct work *g_work;
static size_t page_size;

/* Rounded up to whole pages: what mmap gives anyway. */
static size_t pages(size_t n) { return (n + page_size - 1) & ~(page_size - 1); }

void *mem_get(size_t size) {
  if (!page_size) page_size = (size_t)sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, pages(size ? size : 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p; /* zero-filled, as calloc */
}

void mem_put(void *p, size_t size) {
  if (p) munmap(p, pages(size ? size : 1));
}

/* The few hundred bytes kept (the strings the supervision reads, the command line: stack.c) share the top page of the
 * loop's stack, which it touches anyway; more than that (long paths, a large log_attrs) is mapped. Not in the
 * binary's static data: the kernel reads the command line only from an anonymous mapping (FOLL_ANON), and the end of
 * the binary's data is mapped from its file. */
static size_t keep_used;

void *mem_keep(size_t size) {
  size_t at = (keep_used + 7) & ~(size_t)7;
  if (g_work && at <= sizeof g_work->keep && size <= sizeof g_work->keep - at) {
    keep_used = at + size;
    return g_work->keep + at;
  }
  return mem_get(size);
}

void mem_release(void *p, size_t size) {
  uintptr_t lo = ((uintptr_t)p + page_size - 1) & ~(uintptr_t)(page_size - 1);
  uintptr_t hi = ((uintptr_t)p + size) & ~(uintptr_t)(page_size - 1);
  if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* private anonymous: the next touch reads zeros */
}

/* One mapping: a guard page (PROT_NONE: an overflow of the loop's stack faults instead of writing over whatever lies
 * below it), then struct work. */
int work_map(void) {
  if (!page_size) page_size = (size_t)sysconf(_SC_PAGESIZE);
  size_t size = page_size + pages(sizeof(struct work));
  char *p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return fail_errno("mmap `%zu bytes`", size);
  if (mprotect(p + page_size, size - page_size, PROT_READ | PROT_WRITE) < 0) {
    int err = errno;
    munmap(p, size);
    errno = err;
    return fail_errno("mprotect `%zu bytes`", size - page_size);
  }
  g_work = (struct work *)(p + page_size);
  return 0;
}

void work_idle(const struct shim *sh, bool trim_stack) {
  mem_release(g_work->io, sizeof g_work->io); /* both empty between two events */
  mem_release(g_work->out, sizeof g_work->out);
  if (!sh->pending_len) mem_release(g_work->pending, sizeof g_work->pending);
  output_idle();
  if (trim_stack) {
    /* Below this frame the stack is dead: the deeper calls the loop made (a log rotation's two paths, ...) are over.
     * What stays: from 1 kB below here up, room for madvise's frames (a few dozen bytes, and x86-64's 128-byte red
     * zone below the last), rounded down to a page. */
    char here;
    uintptr_t keep = ((uintptr_t)&here - 1024) & ~(uintptr_t)(page_size - 1);
    if (keep > (uintptr_t)g_work->stack) mem_release(g_work->stack, keep - (uintptr_t)g_work->stack);
  }
}
