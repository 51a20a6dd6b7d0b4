// Holder for bench/netns-neighbours.mjs: N sleeping processes, each first unsharing the namespaces named by FLAGS
// (n: network, m: mount; "-": none), so that what other software on the host does per process or per
// namespace can be measured without any container. Prints "ready" when all are there; dies with its stdin (the
// bench closes it), taking the processes along (each is killed by the kernel when the holder dies).
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: netns-neighbours N FLAGS\n"); return 2; }
  int n = atoi(argv[1]), flags = 0;
  if (strchr(argv[2], 'n')) flags |= CLONE_NEWNET;
  if (strchr(argv[2], 'm')) flags |= CLONE_NEWNS;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() == 1) _exit(0); // the holder is gone already
      if (flags != 0 && unshare(flags) != 0) { perror("unshare"); _exit(1); }
      for (;;) pause();
    }
  }
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  return 0;
}
