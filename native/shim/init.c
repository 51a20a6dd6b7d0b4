/* `init 1`: the container's pid 1 is this binary, bind-mounted into the container at `init_path` (the daemon adds
 * the mount) and exec'd by the set-up init, so /proc/1 shows `init_path -- ARG...`, the container's env and an
 * exe inside the container, nothing of the host. The new image forks the command and stays as a minimal init.
 *
 * The error pipe of the start survives the exec as INIT_ERR_FD (close-on-exec again in the new image), so a
 * command that cannot be exec'd is still reported as `exec-error` and `started` still means the command runs. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void block_all_signals(void) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
}

noreturn void exec_init(const struct spec *s, int errfd) {
  if (s->cwd && chdir(s->cwd) < 0) { /* inherited by the command, as are the umask and the env */
    fail_errno("chdir `%s`", s->cwd);
    report_and_exit(errfd, "setup-error", 255);
  }
  umask(022);
  /* blocked from here on: a signal sent before the new image waits for them stays pending across the exec */
  block_all_signals();
  const char **argv = mem_get((s->args.n + 3) * sizeof *argv); /* replaced by the exec */
  if (!argv) {
    fail_errno("mmap init argv");
    report_and_exit(errfd, "setup-error", 255);
  }
  argv[0] = s->init_path;
  argv[1] = "--";
  for (size_t i = 0; i < s->args.n; i++) argv[2 + i] = s->args.v[i];
  static const char *no_env[] = {NULL};
  if (dup2(errfd, INIT_ERR_FD) < 0) { /* dup2 clears close-on-exec */
    fail_errno("dup2 error pipe");
    report_and_exit(errfd, "setup-error", 255);
  }
  if (install_seccomp(s, true) < 0) report_and_exit(errfd, "setup-error", 255);
  execve(s->init_path, (char *const *)argv, (char *const *)(s->env.n ? s->env.v : no_env));
  fail_errno("exec `%s`", s->init_path);
  report_and_exit(errfd, "setup-error", 255);
}

/* pid 1: forwards signals to the command, reaps every zombie, exits with the command's status (128+N when the
 * command died of signal N: pid 1 cannot be killed by its own signal). */
static noreturn void minimal_init(pid_t command) {
  close(0);
  close(1);
  close(2);
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(command, sig);
      continue;
    }
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
      if (pid == command) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
}

noreturn void init_main(const char *const *cmd) {
  /* the start's error pipe when exec_init passed it; run by hand (no pipe there), errors go to stderr */
  struct stat st;
  int errfd = fstat(INIT_ERR_FD, &st) == 0 && S_ISFIFO(st.st_mode) ? INIT_ERR_FD : 2;
  if (errfd == INIT_ERR_FD) fcntl(errfd, F_SETFD, FD_CLOEXEC);
  block_all_signals(); /* already, after exec_init; the command resets its mask before exec */
  pid_t pid = fork();
  if (pid < 0) {
    fail_errno("fork `%s`", cmd[0]);
    report_and_exit(errfd, "setup-error", 255);
  }
  if (pid == 0) {
    if (new_session(isatty(0)) < 0) report_and_exit(errfd, "setup-error", 255);
    exec_argv(cmd, errfd);
  }
  if (errfd == INIT_ERR_FD) close(errfd);
  minimal_init(pid);
}
