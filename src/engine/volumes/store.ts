// Named volumes: volumes/<name>/_data plus an atomic, versioned volume.json. They outlive containers.
import { mkdirSync, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../../common/errors.js';
import {
  checkMembers, QUARANTINE_DIR, quarantinedError, quarantineRecord, readRecord, SAME_LAYOUT, withConsequence, writeRecord,
  type RecordFile, type RecordFormat,
} from '../../common/versioned-record.js';

export interface VolumeRecord {
  name: string;
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
}

export interface VolumeInspect {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: string;
  Options: Record<string, string>;
}

const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const VOLUME_FORMAT: RecordFormat<VolumeRecord> = {
  what: 'volume record',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { name: 'string', createdAt: 'string', labels: 'object', options: 'object' }),
};

export class VolumeStore {
  readonly dir: string;
  private readonly records = new Map<string, VolumeRecord>();
  /**
   * Volumes present whose record this build cannot use (written by a newer gantry, damaged and quarantined, or
   * missing): not listed, never created over or removed, their data kept. Value: why, for errors.
   */
  private readonly held = new Map<string, GantryError>();

  constructor(private readonly root: string) {
    this.dir = join(root, 'volumes');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      const name = entry.name;
      if (name.startsWith('.')) { rmSync(join(this.dir, name), { recursive: true, force: true }); continue; }
      if (!entry.isDirectory()) continue; // not a volume gantry made
      const f: RecordFile = { root, rel: `volumes/${name}/volume.json` };
      const read = readRecord(f, VOLUME_FORMAT);
      if (read.status === 'ok' && read.value.name === name) { this.records.set(name, read.value); continue; }
      const kept = `volume ${name} is left alone (its data is kept)`;
      if (read.status === 'missing') {
        // Volumes are made under a dot-name and renamed whole: a volume dir without a record lost it afterwards.
        this.held.set(name, new GantryError('STATE_CORRUPT', `volume ${name} has no record (${f.rel} is missing); ${kept}`,
          { hint: `restore ${f.rel} (see ${QUARANTINE_DIR}/), or move volumes/${name} aside` }));
      } else if (read.status === 'ok') {
        this.held.set(name, quarantinedError(f, new GantryError('STATE_CORRUPT', `${f.rel} is damaged (it names another volume)`),
          quarantineRecord(f), kept, `repair the copy and put it back as ${f.rel} while gantryd is stopped`));
      } else if (read.error.code === 'STATE_TOO_NEW') {
        this.held.set(name, withConsequence(f, read.error, kept));
      } else {
        this.held.set(name, quarantinedError(f, read.error, quarantineRecord(f), kept, `repair the copy and put it back as ${f.rel} while gantryd is stopped`));
      }
    }
  }

  /** Throws why a held volume cannot be used or made. */
  private refuseHeld(name: string): void {
    const why = this.held.get(name);
    if (why !== undefined) throw new GantryError(why.code, `volume ${name} cannot be used: ${why.message}`, { hint: why.hint });
  }

  dataDir(name: string): string {
    return join(this.dir, name, '_data');
  }

  /** Idempotent like docker: creating an existing volume returns it. */
  create(name: string, opts: { labels?: Record<string, string>; options?: Record<string, string>; anonymous?: boolean } = {}): VolumeRecord {
    if (!VOLUME_NAME_RE.test(name)) {
      throw new GantryError('INVALID_ARGUMENT', `invalid volume name "${name}"`, { hint: 'names use letters, digits, "_", "." and "-", starting with a letter or digit' });
    }
    const existing = this.records.get(name);
    if (existing) return existing;
    this.refuseHeld(name);
    const rec: VolumeRecord = { name, createdAt: new Date().toISOString(), labels: opts.labels ?? {}, options: opts.options ?? {}, anonymous: opts.anonymous ?? false };
    // Built under a dot-name, then renamed: a crash never leaves a half volume under its real name.
    const tmp = join(this.dir, `.${name}.${process.pid}`);
    mkdirSync(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    writeRecord({ root: this.root, rel: `volumes/.${name}.${process.pid}/volume.json` }, VOLUME_FORMAT, rec);
    renameSync(tmp, join(this.dir, name));
    this.records.set(name, rec);
    return rec;
  }

  find(name: string): VolumeRecord | undefined {
    return this.records.get(name);
  }

  get(name: string): VolumeRecord {
    const rec = this.records.get(name);
    if (!rec) this.refuseHeld(name);
    if (!rec) throw new GantryError('VOLUME_NOT_FOUND', `no such volume: ${name}`, { hint: 'gantry volume ls lists volumes' });
    return rec;
  }

  list(): VolumeRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  inspect(name: string): VolumeInspect {
    const r = this.get(name);
    return { Name: r.name, Driver: 'local', Mountpoint: this.dataDir(r.name), CreatedAt: r.createdAt, Labels: r.labels, Scope: 'local', Options: r.options };
  }

  remove(name: string, usedBy: string[]): void {
    this.get(name);
    if (usedBy.length > 0) {
      throw new GantryError('VOLUME_IN_USE', `volume ${name} is in use by container(s) ${usedBy.join(', ')}`, { hint: 'remove those containers first (gantry rm -f)' });
    }
    const trash = join(this.dir, `.rm-${name}-${process.pid}`);
    if (existsSync(join(this.dir, name))) renameSync(join(this.dir, name), trash);
    this.records.delete(name);
    rmSync(trash, { recursive: true, force: true });
  }
}
