// In-memory index of container records backed by one atomic, versioned JSON file per container. It hands out
// read-only views; only the container manager saves (manager.ts update()).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file.js';
import { GantryError } from '../../common/errors.js';
import {
  checkMembers, quarantinedError, quarantineRecord, readRecord, reportRefusal, SAME_LAYOUT, withConsequence, writeRecord,
  type RecordFile, type RecordFormat,
} from '../../common/versioned-record.js';
import type { ContainerRecord, ContainerView } from './record.js';
import { TrashReaper } from './trash-reaper.js';

/** Every status a record may hold: any other one is damage (it would crash whatever renders it). */
const STATUSES = new Set<string>(['created', 'running', 'paused', 'restarting', 'exited', 'removing', 'dead'] satisfies ContainerRecord['state']['status'][]);

/** Format 1: the layout of format 0 (records written before versioning) plus `version`. */
export const CONTAINER_RECORD_FORMAT: RecordFormat<ContainerRecord> = {
  what: 'container record',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { id: 'string', name: 'string', created: 'string', config: 'object', host: 'object', state: 'object' })
    ?? (STATUSES.has(String((d['state'] as Record<string, unknown>)['status'])) ? undefined : 'no known "state.status"'),
};

/** Left beside a quarantined container.json: the container is present but unknown, and is left alone. */
const QUARANTINE_MARK = 'container.json.quarantined';

export interface LoadResult {
  /** Directories without a record (a create that died half-way): for cleanup. */
  orphanDirs: string[];
  /** Records refused (too new, or damaged and quarantined): their containers are left alone. */
  refused: GantryError[];
}

/** Length of the short ids `ps` shows (and the CLI passes back): indexed, so finding one is no scan of every record. */
const SHORT_ID = 12;

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();
  /** name → id, and short id → ids: lookups by name or by a `ps`-length prefix cost no walk over every container. */
  private readonly nameIndex = new Map<string, string>();
  private readonly shortIndex = new Map<string, Set<string>>();
  private readonly heldIds = new Set<string>();
  /** Why each held container is held: the refusal, as reported at start. */
  private readonly heldWhy = new Map<string, GantryError>();
  readonly dir: string;

  /** Directories of removed containers, renamed here at once and deleted in the background (containers-trash/). */
  private readonly trash: string;
  private trashed = 0;
  /** Deletes trashed directories (and, for the runtime, force-removed containers' cgroups) off the main thread. */
  readonly reaper = new TrashReaper();

  constructor(private readonly root: string) {
    this.dir = join(root, 'containers');
    this.trash = join(root, 'containers-trash');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.trash, { recursive: true, mode: 0o700 });
    // what a daemon killed mid-removal left: nothing refers to it any more
    for (const name of readdirSync(this.trash)) void rm(join(this.trash, name), { recursive: true, force: true }).catch(() => undefined);
  }

  private file(id: string): RecordFile {
    return { root: this.root, rel: `containers/${id}/container.json` };
  }

  /**
   * Loads every record. A container whose record this build cannot use (written by a newer gantry, or damaged)
   * is *held*: not listed, never started, stopped or removed, its directory and cgroup kept.
   */
  load(): LoadResult {
    const orphanDirs: string[] = [];
    const refused: GantryError[] = [];
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue; // not something gantry made: not ours to read or remove
      const id = entry.name;
      const f = this.file(id);
      const leftAlone = `container ${id.slice(0, 12)} is left alone (its processes, cgroup and files are kept)`;
      const forgetHint = `repair the record and put it back as ${f.rel}, or stop the container's processes and remove containers/${id} to forget it`;
      const read = readRecord(f, CONTAINER_RECORD_FORMAT);
      if (read.status === 'missing') {
        const mark = join(this.dir, id, QUARANTINE_MARK);
        if (existsSync(mark)) {
          const where = readFileSync(mark, 'utf8').trim();
          refused.push(this.hold(id, reportRefusal(f, new GantryError('STATE_CORRUPT', `${f.rel} was damaged and is in ${where}; ${leftAlone}`, { hint: forgetHint, detail: { path: f.rel, quarantined: where } }))));
        } else {
          orphanDirs.push(join(this.dir, id));
        }
        continue;
      }
      if (read.status === 'ok' && read.value.id !== id) {
        refused.push(this.hold(id, this.quarantine(id, new GantryError('STATE_CORRUPT', `${f.rel} is damaged (it names another container)`), leftAlone, forgetHint)));
        continue;
      }
      if (read.status === 'ok') {
        this.index(read.value);
        rmSync(join(this.dir, id, QUARANTINE_MARK), { force: true }); // a repaired record was put back
        continue;
      }
      if (read.error.code === 'STATE_TOO_NEW') {
        refused.push(this.hold(id, withConsequence(f, read.error, leftAlone)));
      } else {
        refused.push(this.hold(id, this.quarantine(id, read.error, leftAlone, forgetHint)));
      }
    }
    return { orphanDirs, refused };
  }

  private quarantine(id: string, error: GantryError, consequence: string, hint: string): GantryError {
    const f = this.file(id);
    const movedTo = quarantineRecord(f);
    writeFileAtomic(join(this.dir, id, QUARANTINE_MARK), `${movedTo}\n`);
    this.heldIds.add(id);
    return quarantinedError(f, error, movedTo, consequence, hint);
  }

  private hold(id: string, why: GantryError): GantryError {
    this.heldIds.add(id);
    this.heldWhy.set(id, why);
    return why;
  }

  /**
   * A container directory without a record whose cgroup still holds processes: not a create that died half-way
   * (those never ran) but a record lost by hand or by damage. Held, so its processes and files are kept.
   */
  holdUnrecorded(id: string): GantryError {
    const f = this.file(id);
    return this.hold(id, reportRefusal(f, new GantryError('STATE_CORRUPT', `${f.rel} is missing but the container's processes run; container ${id.slice(0, 12)} is left alone (its processes, cgroup and files are kept)`,
      { hint: `put a record back as ${f.rel}, or stop its processes (cgroup ${id}) and remove containers/${id} to forget it`, detail: { path: f.rel } })));
  }

  /** Held containers with the reason (`ps -a` lists them as dead with it). */
  heldContainers(): Array<{ id: string; reason: GantryError }> {
    return [...this.heldWhy].map(([id, reason]) => ({ id, reason })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Ids of containers present on disk whose record was refused: nothing may act on them. */
  held(): ReadonlySet<string> {
    return this.heldIds;
  }

  containerDir(id: string): string {
    return join(this.dir, id);
  }

  all(): ContainerView[] {
    return [...this.byId.values()].sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  save(rec: ContainerRecord): void {
    if (this.heldIds.has(rec.id)) throw new Error(`bug: container ${rec.id} is held (its record was refused at start)`);
    // atomic at once, durable a moment later (atomic-file.ts): a container's record is rewritten at every state change
    writeRecord(this.file(rec.id), CONTAINER_RECORD_FORMAT, rec, { flushLater: true });
    this.index(rec);
  }

  /** The record in memory only: for a container about to be deleted (manager.ts, `rm -f`), whose writes are moot. */
  keepInMemory(rec: ContainerRecord): void {
    if (this.heldIds.has(rec.id)) throw new Error(`bug: container ${rec.id} is held (its record was refused at start)`);
    this.index(rec);
  }

  private index(rec: ContainerRecord): void {
    const before = this.byId.get(rec.id);
    if (before !== undefined && before.name !== rec.name && this.nameIndex.get(before.name) === rec.id) this.nameIndex.delete(before.name);
    this.byId.set(rec.id, rec);
    this.nameIndex.set(rec.name, rec.id);
    const short = rec.id.slice(0, SHORT_ID);
    const ids = this.shortIndex.get(short) ?? new Set<string>();
    ids.add(rec.id);
    this.shortIndex.set(short, ids);
  }

  private unindex(id: string): void {
    const rec = this.byId.get(id);
    this.byId.delete(id);
    if (rec === undefined) return;
    if (this.nameIndex.get(rec.name) === id) this.nameIndex.delete(rec.name);
    const short = id.slice(0, SHORT_ID);
    const ids = this.shortIndex.get(short);
    ids?.delete(id);
    if (ids?.size === 0) this.shortIndex.delete(short);
  }

  /** Removes the record and the container's directory (upper layer, logs). */
  delete(id: string): void {
    if (this.heldIds.has(id)) return;
    this.unindex(id);
    // one rename now (the record is gone with it); the files — an upper layer may hold gigabytes — go in the background
    const aside = join(this.trash, `${id}.${process.pid}.${this.trashed++}`);
    try {
      renameSync(this.containerDir(id), aside);
    } catch {
      rmSync(this.containerDir(id), { recursive: true, force: true });
      return;
    }
    this.reaper.delete(aside);
  }

  byName(name: string): ContainerView | undefined {
    const id = this.nameIndex.get(name.replace(/^\//, ''));
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. */
  find(ref: string): ContainerView | undefined {
    const exact = this.byId.get(ref) ?? this.byName(ref);
    if (exact) return exact;
    if (!/^[0-9a-f]+$/.test(ref)) return undefined;
    const candidates = ref.length >= SHORT_ID ? [...this.shortIndex.get(ref.slice(0, SHORT_ID)) ?? []].map((id) => this.byId.get(id)!) : this.byId.values();
    const matches = [...candidates].filter((r) => r.id.startsWith(ref));
    if (matches.length > 1) {
      throw new GantryError('CONFLICT', `container id prefix "${ref}" is ambiguous (${matches.length} containers match)`, { hint: 'give more characters of the id, or the name' });
    }
    return matches[0];
  }

  get(ref: string): ContainerView {
    const rec = this.find(ref);
    if (rec) return rec;
    // A held container answers with why it cannot be acted on, not with "no such container".
    const held = /^[0-9a-f]+$/.test(ref) ? this.heldContainers().filter((h) => h.id.startsWith(ref)) : [];
    if (held.length === 1) {
      const { id, reason } = held[0]!;
      throw new GantryError(reason.code, `container ${id.slice(0, 12)} cannot be used: ${reason.message}`, { hint: reason.hint, detail: reason.detail });
    }
    throw new GantryError('CONTAINER_NOT_FOUND', `no such container: ${ref}`, { hint: 'gantry ps -a lists containers' });
  }
}
