// The holder bench/seccomp-memory.mjs measures with: N processes, each under the seccomp filter read from FILE
// (struct sock_filter[] bytes, as the shim installs them) or under none ("-"). Protocol on stdin/stdout: prints
// "loaded" once the filter is read, forks the N on a "go" line, prints "ready" once every one has installed its
// filter, and kills them when stdin closes. The children die with the holder (PR_SET_PDEATHSIG).
//   seccomp-memory FILE|- N
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sock_filter insns[4096];

static void kill_all(const pid_t *pids, long n) {
  for (long i = 0; i < n; i++) kill(pids[i], SIGKILL);
  for (long i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s FILE|- N\n", argv[0]);
    return 2;
  }
  struct sock_fprog prog = { .len = 0, .filter = insns };
  if (strcmp(argv[1], "-") != 0) {
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      fprintf(stderr, "open `%s`: %s\n", argv[1], strerror(errno));
      return 1;
    }
    ssize_t n = read(fd, insns, sizeof insns);
    close(fd);
    if (n <= 0 || n % 8 != 0) {
      fprintf(stderr, "read `%s`: %s\n", argv[1], n < 0 ? strerror(errno) : "not a whole number of instructions");
      return 1;
    }
    prog.len = (unsigned short)(n / 8);
  }
  long count = strtol(argv[2], NULL, 10);
  if (count < 1 || count > 10000) {
    fprintf(stderr, "N: expected 1..10000, got %s\n", argv[2]);
    return 2;
  }
  pid_t *pids = calloc((size_t)count, sizeof *pids);
  int ready[2];
  if (pids == NULL || pipe(ready) < 0) {
    fprintf(stderr, "pipe: %s\n", strerror(errno));
    return 1;
  }
  printf("loaded\n");
  fflush(stdout);
  char line[16];
  if (fgets(line, sizeof line, stdin) == NULL || strcmp(line, "go\n") != 0) return 1;

  for (long i = 0; i < count; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      fprintf(stderr, "fork: %s\n", strerror(errno));
      kill_all(pids, i);
      return 1;
    }
    if (pid == 0) {
      close(ready[0]);
      char ok = 'r';
      if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ok = 'e';
      if (prog.len > 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)) ok = 'e';
      if (write(ready[1], &ok, 1) != 1 || ok != 'r') _exit(1);
      while (pause() < 0 && errno == EINTR) {}
      _exit(1); // pause refused: do not spin
    }
    pids[i] = pid;
  }
  close(ready[1]);
  for (long got = 0; got < count;) {
    char c;
    ssize_t r = read(ready[0], &c, 1);
    if (r <= 0 || c != 'r') {
      fprintf(stderr, "a child could not install the filter (prctl PR_SET_SECCOMP)\n");
      kill_all(pids, count);
      return 1;
    }
    got++;
  }
  printf("ready\n");
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {}
  kill_all(pids, count);
  return 0;
}
