// Resolves a Docker-style `--user` (name, uid, name:group, uid:gid) against the container's /etc/passwd
// and /etc/group, read from its layers before start (the shim never does NSS lookups). Parsing only: the reads
// are the caller's (bounded and link-safe: containers/rootfs-files.ts).
import { GantryError } from '../../common/errors.js';

export interface ResolvedUser { uid: number; gid: number; groups: number[]; home: string }

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

function parsePasswd(text: string | undefined): PasswdEntry[] {
  return (text ?? '').split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 7 || line.startsWith('#')) return [];
    return [{ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }];
  });
}

function parseGroup(text: string | undefined): GroupEntry[] {
  return (text ?? '').split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) return [];
    return [{ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(',').filter(Boolean) }];
  });
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

/** `readFile` returns the text of a file inside the container's root, or undefined if absent. */
export function resolveUser(spec: string, readFile: (path: string) => string | undefined): ResolvedUser {
  const passwd = parsePasswd(readFile('/etc/passwd'));
  const groups = parseGroup(readFile('/etc/group'));
  const [userPart = '', groupPart] = spec.split(':', 2);
  let uid = 0;
  let gid = 0;
  let home = '/';
  let name: string | undefined = 'root';
  if (userPart !== '') {
    const entry = isNumeric(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : passwd.find((p) => p.name === userPart);
    if (!entry && !isNumeric(userPart)) {
      throw new GantryError('INVALID_ARGUMENT', `unable to find user ${userPart}: no matching entries in passwd file`,
        { hint: 'use a numeric uid (e.g. -u 1000:1000) or a user defined in the image' });
    }
    uid = entry?.uid ?? Number(userPart);
    gid = entry?.gid ?? 0;
    home = entry?.home ?? '/';
    name = entry?.name;
  } else {
    const root = passwd.find((p) => p.uid === 0);
    if (root) home = root.home;
  }
  if (groupPart !== undefined && groupPart !== '') {
    const g = isNumeric(groupPart) ? undefined : groups.find((x) => x.name === groupPart);
    if (!g && !isNumeric(groupPart)) {
      throw new GantryError('INVALID_ARGUMENT', `unable to find group ${groupPart}: no matching entries in group file`,
        { hint: 'use a numeric gid or a group defined in the image' });
    }
    gid = g?.gid ?? Number(groupPart);
  }
  // Like runc: supplementary groups from /etc/group only when no group was given explicitly; and, as Docker
  // does (its `id` shows groups=GID even for a user in no group), the primary gid first among them.
  const explicitGroup = groupPart !== undefined && groupPart !== '';
  const members = name === undefined || explicitGroup ? [] : groups.filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid);
  return { uid, gid, groups: [gid, ...members], home };
}

/** resolveUser over files read asynchronously (the reads start together; see containers/rootfs-files.ts). */
export async function resolveUserAsync(spec: string, readFile: (path: string) => Promise<string | undefined>): Promise<ResolvedUser> {
  const [passwd, group] = await Promise.all([readFile('/etc/passwd'), readFile('/etc/group')]);
  return resolveUser(spec, (p) => (p === '/etc/passwd' ? passwd : p === '/etc/group' ? group : undefined));
}
