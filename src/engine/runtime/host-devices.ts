// `--device`: the host's device nodes a container gets, looked up on the host (stat) each time it is needed.
import { statSync } from 'node:fs';
import { GantryError } from '../../common/errors.js';
import type { DeviceRule } from '../cgroups/index.js';
import type { DeviceMapping } from '../containers/record.js';

export interface HostDevice {
  pathInContainer: string;
  type: 'b' | 'c';
  major: number;
  minor: number;
  access: string;
  /** The host node's permission bits and owner, given to the container's node (Docker's rule). */
  mode: number;
  uid: number;
  gid: number;
}

/** Linux's dev_t split (glibc's gnu_dev_major/minor): 12 bits of major and 20 of minor, in two pieces each. */
export function splitDevNumber(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Stats the host node of a mapping (following symlinks, as Docker does): a char or block device, or an error. */
export function lookupHostDevice(m: DeviceMapping): HostDevice {
  let st;
  try {
    st = statSync(m.pathOnHost, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new GantryError('INVALID_ARGUMENT', `error gathering device information while adding custom device "${m.pathOnHost}": ${code}`, {
      hint: 'give the path of a device node that exists on the host, e.g. --device /dev/fuse',
    });
  }
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (type === undefined) {
    throw new GantryError('INVALID_ARGUMENT', `--device "${m.pathOnHost}" is not a device node`, {
      hint: 'give a character or block device under /dev; use -v to share files and directories',
    });
  }
  return { pathInContainer: m.pathInContainer, type, ...splitDevNumber(st.rdev), access: m.cgroupPermissions,
    mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/** The device cgroup rule that lets the container use one --device. */
export function hostDeviceRule(d: HostDevice): DeviceRule {
  return { type: d.type, major: d.major, minor: d.minor, access: d.access };
}
