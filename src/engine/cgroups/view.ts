// The container's /sys/fs/cgroup, as Docker lays it out, decided from the hierarchies the driver manages. Pure.
//
// v2: one cgroup2 mount. v1: a tmpfs holding, per hierarchy the container joins, a bind of the container's own dir
// of that host hierarchy, named after its controllers in the kernel's order ("cpu,cpuacct"), plus a symlink per
// controller of a co-mounted hierarchy ("cpu" → "cpu,cpuacct"); the tmpfs turns read-only once filled. A bind, not
// a `cgroup` mount in the container's cgroup namespace (as before): that made one kernfs superblock per hierarchy
// per container, and each superblock costs kernel memory in every memory cgroup and a walk at every later mount.
// What the container sees is the same dir, and mountinfo shows `/` as its root either way (the kernel prints a
// cgroup path relative to the reader's cgroup namespace, whose root is that dir). Named hierarchies (name=systemd) and the
// hybrid hosts' cgroup2 mount are left out: the container is not placed in them, so they would show the daemon's
// cgroup, not the container's.
import type { CgroupView, CgroupViewMount } from './types.js';

export const CGROUP_VIEW_ROOT = '/sys/fs/cgroup';

export function unifiedView(writable: boolean): CgroupView {
  return {
    mounts: [{ source: 'cgroup', target: CGROUP_VIEW_ROOT, fstype: 'cgroup2', data: '', readOnly: !writable }],
    symlinks: [],
    readOnlyAfterSetup: [],
  };
}

/** hierarchies: the controllers of each v1 hierarchy, as the host's mountinfo lists them, and the container's dir
 * in it (the one its init joins). */
export function hierarchiesView(hierarchies: ReadonlyArray<{ controllers: readonly string[]; dir: string }>, writable: boolean): CgroupView {
  const mounts: CgroupViewMount[] = [{ source: 'tmpfs', target: CGROUP_VIEW_ROOT, fstype: 'tmpfs', data: 'mode=755', readOnly: false }];
  const symlinks: CgroupView['symlinks'] = [];
  const names = new Set<string>();
  for (const { controllers, dir } of hierarchies) {
    if (controllers.length === 0) continue;
    const name = controllers.join(',');
    if (names.has(name)) continue;
    names.add(name);
    mounts.push({ source: dir, target: `${CGROUP_VIEW_ROOT}/${name}`, fstype: 'bind', data: '', readOnly: !writable });
    if (controllers.length > 1) for (const c of controllers) symlinks.push({ target: name, link: `${CGROUP_VIEW_ROOT}/${c}` });
  }
  return { mounts, symlinks, readOnlyAfterSetup: writable ? [] : [CGROUP_VIEW_ROOT] };
}

/**
 * The v1 view with its root made of `template` (a host directory holding the hierarchies' mount points and the
 * co-mounted controllers' symlinks, see view-template.ts), bound read-only, instead of a tmpfs of the container's
 * own filled in and turned read-only: what the container sees is the same, and it costs no superblock, no tmpfs
 * inodes and no remount per container. Only for read-only views (a privileged container's tmpfs is writable).
 */
export function withTemplateRoot(view: CgroupView, template: string): CgroupView {
  const [root, ...binds] = view.mounts;
  if (root === undefined || root.fstype !== 'tmpfs' || view.readOnlyAfterSetup.length === 0) return view;
  return {
    mounts: [{ source: template, target: CGROUP_VIEW_ROOT, fstype: 'bind', data: '', readOnly: true }, ...binds],
    symlinks: [],
    readOnlyAfterSetup: [],
  };
}

/** What a template root of this v1 view holds: a directory per bound hierarchy, and the symlinks (names relative to
 * /sys/fs/cgroup). */
export function templateEntries(view: CgroupView): { dirs: string[]; symlinks: Array<{ target: string; name: string }> } {
  const below = (p: string): string => p.slice(CGROUP_VIEW_ROOT.length + 1);
  return {
    dirs: view.mounts.slice(1).map((m) => below(m.target)),
    symlinks: view.symlinks.map((s) => ({ target: s.target, name: below(s.link) })),
  };
}
