// What a layer tarball may contain (it is untrusted: a registry's blob, an uploaded import, a loaded archive).
// Checked entry by entry as the tar streams to the extracting `tar -x`, before tar sees the entry:
//   - a name or hard-link target with a `..` component: refused (it would climb out of the layer);
//   - an absolute name or hard-link target: contained (tar strips the leading `/`, the entry lands in the layer);
//   - an entry below a symlink of the same layer (`link -> /etc`, then `link/passwd`), a hard link through one,
//     or a directory over one: refused (extracting it would follow the link on the host);
//   - a whiteout naming `..`, `.` or nothing: refused;
//   - device nodes: only the character devices every container may open anyway (Docker's default device list:
//     null, zero, full, random, urandom, tty, console, ptmx) are kept; others (block devices, /dev/mem, a 0:0
//     node that overlayfs would take as a whiteout) are refused;
//   - PAX `trusted.*` xattrs are dropped by the whiteout transform; a global PAX header may not set paths.
// Every refusal is INVALID_IMAGE_ARCHIVE naming the entry.
import { GantryError } from '../../common/errors.js';

/** Character devices (major:minor) a container may open under the default device rules; kept in layers. */
const ALLOWED_CHAR_DEVICES = new Set(['1:3', '1:5', '1:7', '1:8', '1:9', '5:0', '5:1', '5:2']);

/** An entry name for messages: JSON-quoted (control characters escaped), cut at 200 characters. */
export function entryLabel(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
}

export function refusedEntry(name: string, why: string): GantryError {
  return new GantryError('INVALID_IMAGE_ARCHIVE', `the layer's entry ${entryLabel(name)} ${why}`, {
    hint: 'the archive is damaged or hostile; nothing of it was stored. Rebuild the image from a trusted source',
  });
}

function hasDotDot(name: string): boolean {
  return name.split('/').includes('..');
}

/** `/a//b/./c/` → `a/b/c` (the form tar extracts to); `.` for the layer root. */
export function cleanName(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  return parts.length === 0 ? '.' : parts.join('/');
}

export interface EntryFacts {
  /** The name as the archive gives it (PAX path / GNU long name applied). */
  rawName: string;
  /** '0' file, '1' hard link, '2' symlink, '3'/'4' char/block device, '5' dir, '6' fifo, … */
  type: string;
  /** Link target (PAX linkpath / GNU long link applied). */
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Remembers the symlinks of one layer as it streams and checks each entry against the rules above. */
export class EntryPolicy {
  readonly #symlinks = new Set<string>();

  check(e: EntryFacts): void {
    if (hasDotDot(e.rawName)) throw refusedEntry(e.rawName, 'has a ".." component: it would be written outside the layer');
    const name = cleanName(e.rawName);
    const below = this.#symlinkAbove(name);
    if (below !== undefined) throw refusedEntry(e.rawName, `is below the symlink ${entryLabel(below)} of the same layer: extracting it would follow the link`);
    switch (e.type) {
      case '1': {
        if (hasDotDot(e.linkname)) throw refusedEntry(e.rawName, `is a hard link to ${entryLabel(e.linkname)}, outside the layer`);
        const target = cleanName(e.linkname);
        if (target === '.') throw refusedEntry(e.rawName, 'is a hard link without a target');
        const through = this.#symlinkAbove(target);
        if (through !== undefined) throw refusedEntry(e.rawName, `is a hard link through the symlink ${entryLabel(through)}: it would link a file outside the layer`);
        break;
      }
      case '2': this.#symlinks.add(name); return;
      case '3': case '4': {
        const dev = `${e.devmajor}:${e.devminor}`;
        if (e.type === '4' || !ALLOWED_CHAR_DEVICES.has(dev)) {
          throw refusedEntry(e.rawName, `is a ${e.type === '4' ? 'block' : 'character'} device ${dev}; layers may hold only the character devices every container may open (null, zero, full, random, urandom, tty, console, ptmx)`);
        }
        break;
      }
      case '5':
        if (this.#symlinks.has(name)) throw refusedEntry(e.rawName, 'is a directory over a symlink of the same layer: entries below it would follow the link');
        return;
      default: break;
    }
    this.#symlinks.delete(name); // a non-directory replaces the link (tar unlinks it first)
  }

  /** Whiteout targets (`DIR/.wh.NAME` → NAME). */
  checkWhiteout(rawName: string, target: string): void {
    if (target === '' || target === '.' || target === '..') throw refusedEntry(rawName, `is a whiteout of ${entryLabel(target)}, which names no file of the layer below`);
  }

  /** The nearest proper ancestor of `name` that is a symlink of this layer. */
  #symlinkAbove(name: string): string | undefined {
    if (this.#symlinks.size === 0) return undefined;
    for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
      const prefix = name.slice(0, i);
      if (this.#symlinks.has(prefix)) return prefix;
    }
    return undefined;
  }
}
