// In-memory index of container records backed by one atomic JSON file per container. It hands out read-only
// views; only the container manager saves (manager.ts update()).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../common/atomic-file.js';
import { GantryError } from '../../common/errors.js';
import type { ContainerRecord, ContainerView } from './record.js';

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'containers');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Loads every record; directories without a record (a create that died half-way) are returned for cleanup. */
  load(): { orphanDirs: string[]; corrupt: string[] } {
    const orphanDirs: string[] = [];
    const corrupt: string[] = [];
    for (const id of readdirSync(this.dir)) {
      let rec: ContainerRecord | undefined;
      try {
        rec = readJsonFile<ContainerRecord>(join(this.dir, id, 'container.json'));
      } catch {
        // Records are written atomically, so this is damage from outside: keep the files, skip the record.
        corrupt.push(join(this.dir, id, 'container.json'));
        continue;
      }
      if (rec === undefined) orphanDirs.push(join(this.dir, id));
      else this.byId.set(rec.id, rec);
    }
    return { orphanDirs, corrupt };
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  all(): ContainerView[] {
    return [...this.byId.values()].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  save(rec: ContainerRecord): void {
    mkdirSync(this.containerDir(rec.id), { recursive: true, mode: 0o700 });
    writeJsonAtomic(join(this.containerDir(rec.id), 'container.json'), rec);
    this.byId.set(rec.id, rec);
  }

  /** Removes the record and the container's directory (upper layer, logs). */
  delete(id: string): void {
    this.byId.delete(id);
    rmSync(this.containerDir(id), { recursive: true, force: true });
  }

  byName(name: string): ContainerView | undefined {
    const n = name.replace(/^\//, '');
    for (const rec of this.byId.values()) if (rec.name === n) return rec;
    return undefined;
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. */
  find(ref: string): ContainerView | undefined {
    const exact = this.byId.get(ref) ?? this.byName(ref);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const matches = [...this.byId.values()].filter((r) => r.id.startsWith(ref));
    if (matches.length > 1) {
      throw new GantryError('CONFLICT', `container id prefix "${ref}" is ambiguous (${matches.length} containers match)`, { hint: 'give more characters of the id, or the name' });
    }
    return matches[0];
  }

  get(ref: string): ContainerView {
    const rec = this.find(ref);
    if (!rec) throw new GantryError('CONTAINER_NOT_FOUND', `no such container: ${ref}`, { hint: 'gantry ps -a lists containers' });
    return rec;
  }
}
