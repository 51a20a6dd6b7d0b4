// Tar streams of a container's files, written by GNU tar (it never follows a symlink: links are archived as
// links): the upper dir as an OCI layer (commit), and the merged root or a part of it (export, cp) read through
// a read-only overlay mounted in a private mount namespace of the tar process only — nothing is mounted on the
// host, and the mount goes away with the process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { GantryError } from '../../common/errors.js';
import { OverlayToOciTransform } from './overlay-to-oci.js';

const TAR_ARGS = [
  '--create', '--file=-', '--format=posix', '--numeric-owner', '--sort=name', '--one-file-system',
  '--pax-option=delete=atime,delete=ctime', '--xattrs', '--xattrs-include=security.capability', '--xattrs-include=user.*',
];

/** Runs a command whose stdout is a tar; the stream errors when it fails (tar's 1, "file changed as we read it", is fine). */
function tarProcess(command: string, args: readonly string[], what: string, cleanup: () => void = () => undefined): Readable {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
  const exited = new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 128));
  });
  child.stdout.pipe(out, { end: false });
  out.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  void Promise.all([exited, new Promise((r) => child.stdout.on('close', r))]).then(([code]) => {
    cleanup();
    if (code === 0 || code === 1) out.end();
    else out.destroy(new GantryError('SYSCALL_FAILED', `reading ${what} failed: ${stderr.trim().split('\n').slice(-3).join('; ') || `exit status ${code}`}`));
  });
  return out;
}

/** The upper dir as an (uncompressed) OCI layer tar: whiteouts and opaque dirs rewritten, trusted.* dropped, `drop` left out. */
export function upperAsLayer(upperDir: string, drop: ReadonlySet<string> = new Set()): { stream: Readable; stats: OverlayToOciTransform['stats'] } {
  const transform = new OverlayToOciTransform({ drop });
  const source = tarProcess('tar', [...TAR_ARGS, '--xattrs-include=trusted.overlay.opaque', '--directory', upperDir, '--', '.'], upperDir);
  source.on('error', (e) => transform.destroy(e));
  source.pipe(transform);
  return { stream: transform, stats: transform.stats };
}

/** A tar of `member` in the plain directory `dir` (a volume's or a bind's host dir): tar changes into `dir` first. */
export function plainTar(dir: string, member: string, what: string, extra: readonly string[] = []): Readable {
  return tarProcess('tar', [...TAR_ARGS, ...extra, '--directory', dir, '--', member], what);
}

export interface MergedTarOptions {
  /** Host dirs of the root, topmost first (upper dir, then the image's layers): at least 2 (a read-only overlay's minimum). */
  layers: readonly string[];
  /** A dir of the daemon's own (under its root) where the private mountpoint is made and removed. */
  tmpDir: string;
  /** The directory (relative to the root, already resolved inside it) tar runs in; '.' for the root. */
  dir: string;
  /** What tar archives there: '.' (everything) or one name (archived as tar finds it: a link stays a link). */
  member: string;
  /** Extra tar flags, e.g. `--transform` to rename the member. */
  extra?: readonly string[];
  what: string;
}

/** A tar of the merged view of `layers`, read through a read-only overlay in a private mount namespace. */
export function mergedTar(o: MergedTarOptions): Readable {
  for (const l of o.layers) {
    if (/[:,\\]/.test(l)) throw new GantryError('UNSUPPORTED', `layer path ${l} has a character overlayfs options cannot carry`, { hint: 'use a daemon root without : , or \\ in its path' });
  }
  const mnt = mkdtempSync(join(o.tmpDir, 'merged-'));
  const script = 'mount -t overlay overlay -o "ro,lowerdir=$1" "$2" && cd "$2" && cd "./$3" && shift 3 && exec tar "$@"';
  return tarProcess('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', o.layers.join(':'), mnt, o.dir,
    ...TAR_ARGS, ...(o.extra ?? []), '--', o.member], o.what, () => rmSync(mnt, { recursive: true, force: true }));
}
