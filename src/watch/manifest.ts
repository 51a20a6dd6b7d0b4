// What watch has synced, per service: container path → host path of every file and directory it wrote. Kept across
// watch sessions so that a file deleted on the host while watch was not running is deleted in the containers at the
// next full sync (initial_sync, or the resync of a restarted container) — and only such files: what the image or the
// app put beside them was never synced by watch and is never touched. One JSON record per project and daemon, written
// atomically (debounced, off the sync path); a damaged record is moved aside and watch starts with an empty one.

import { mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from '../common/atomic-file.js';

const FORMAT_VERSION = 1;
/** A record beyond this is not read (it is moved aside): a project with more synced paths starts afresh. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const FLUSH_DELAY_MS = 300;

interface ManifestRecord { version: number; services: Record<string, Record<string, string>> }

/** `$XDG_STATE_HOME/gantry/watch` (default `~/.local/state/gantry/watch`). */
export function watchStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_STATE_HOME'] || join(env['HOME'] || homedir(), '.local', 'state');
  return join(base, 'gantry', 'watch');
}

/** The record's file for one project of one daemon, from one project directory. */
export function manifestFile(dir: string, daemon: string, project: string, projectDir: string): string {
  const key = createHash('sha256').update(`${daemon}\0${projectDir}\0${project}`).digest('hex').slice(0, 16);
  return join(dir, `${project.replace(/[^a-zA-Z0-9_.-]/g, '_')}-${key}.json`);
}

function readRecord(file: string): { services: Map<string, Map<string, string>>; problem: string | undefined } {
  // a damaged record gives nothing at all (none of its services is half trusted)
  const refused = (problem: string): { services: Map<string, Map<string, string>>; problem: string } => ({ services: new Map(), problem });
  let text: string;
  try {
    if (statSync(file).size > MAX_RECORD_BYTES) return refused('larger than 64 MiB');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { services: new Map(), problem: undefined };
    return refused((e as NodeJS.ErrnoException).code ?? 'unreadable');
  }
  let data: unknown;
  try { data = JSON.parse(text); } catch { return refused('not JSON'); }
  const rec = data as Partial<ManifestRecord> | null;
  if (rec === null || typeof rec !== 'object' || rec.version !== FORMAT_VERSION || typeof rec.services !== 'object' || rec.services === null) {
    return refused('not a watch record of this version');
  }
  const services = new Map<string, Map<string, string>>();
  for (const [service, paths] of Object.entries(rec.services)) {
    if (typeof paths !== 'object' || paths === null) return refused(`bad entry for ${service}`);
    const m = new Map<string, string>();
    for (const [c, h] of Object.entries(paths)) {
      if (typeof h !== 'string' || !c.startsWith('/') || !h.startsWith('/')) return refused(`bad path in ${service}`);
      m.set(c, h);
    }
    services.set(service, m);
  }
  return { services, problem: undefined };
}

export class SyncManifest {
  private readonly services: Map<string, Map<string, string>>;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  /** `file` undefined: kept in memory only (tests). `say` reports a record that was moved aside. */
  constructor(private readonly file: string | undefined, say: (line: string) => void = () => undefined) {
    if (file === undefined) { this.services = new Map(); return; }
    const { services, problem } = readRecord(file);
    this.services = services;
    if (problem !== undefined) {
      const aside = `${file}.damaged-${Date.now()}`;
      try { renameSync(file, aside); } catch { /* gone meanwhile */ }
      say(`watch: the record of synced files ${file} was damaged (${problem}); moved to ${aside}, starting afresh`);
    }
  }

  /** The synced paths of `service`: container path → host path. */
  of(service: string): ReadonlyMap<string, string> {
    return this.services.get(service) ?? new Map();
  }

  /** Files and directories now in the containers of `service` (host → container). */
  wrote(service: string, entries: readonly { hostPath: string; containerPath: string }[]): void {
    if (entries.length === 0) return;
    let m = this.services.get(service);
    if (m === undefined) { m = new Map(); this.services.set(service, m); }
    for (const e of entries) m.set(e.containerPath, e.hostPath);
    this.changed();
  }

  /** Container paths (and everything below them) that are gone from the containers of `service`. */
  removed(service: string, containerPaths: readonly string[]): void {
    const m = this.services.get(service);
    if (m === undefined || containerPaths.length === 0) return;
    for (const gone of containerPaths) {
      for (const c of [...m.keys()]) if (c === gone || c.startsWith(gone.endsWith('/') ? gone : `${gone}/`)) m.delete(c);
    }
    this.changed();
  }

  private changed(): void {
    this.dirty = true;
    if (this.file === undefined || this.timer !== undefined) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.flush(); }, FLUSH_DELAY_MS);
    this.timer.unref();
  }

  /** Writes the record now (when it changed). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty || this.file === undefined) return;
    this.dirty = false;
    const services: Record<string, Record<string, string>> = {};
    for (const [s, m] of [...this.services].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (m.size > 0) services[s] = Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    writeJsonAtomic(this.file, { version: FORMAT_VERSION, services });
  }
}
