// Named volumes: volumes/<name>/_data plus an atomic volume.json. They outlive containers.
import { mkdirSync, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonAtomic } from '../../common/atomic-file.js';
import { GantryError } from '../../common/errors.js';

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

export class VolumeStore {
  readonly dir: string;
  private readonly records = new Map<string, VolumeRecord>();

  constructor(root: string) {
    this.dir = join(root, 'volumes');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith('.')) { rmSync(join(this.dir, name), { recursive: true, force: true }); continue; }
      const rec = readJsonFile<VolumeRecord>(join(this.dir, name, 'volume.json'));
      if (rec) this.records.set(name, rec);
    }
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
    const rec: VolumeRecord = { name, createdAt: new Date().toISOString(), labels: opts.labels ?? {}, options: opts.options ?? {}, anonymous: opts.anonymous ?? false };
    // Built under a dot-name, then renamed: a crash never leaves a half volume under its real name.
    const tmp = join(this.dir, `.${name}.${process.pid}`);
    mkdirSync(join(tmp, '_data'), { recursive: true, mode: 0o755 });
    writeJsonAtomic(join(tmp, 'volume.json'), rec);
    renameSync(tmp, join(this.dir, name));
    this.records.set(name, rec);
    return rec;
  }

  find(name: string): VolumeRecord | undefined {
    return this.records.get(name);
  }

  get(name: string): VolumeRecord {
    const rec = this.records.get(name);
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
