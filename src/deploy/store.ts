// Deployment sources: `<root>/deploy/sources/<name>.json`, one versioned record each (spec, state, the last
// revisions), written atomically. A damaged record is moved to quarantine and its source is not acted on; one
// written by a newer gantry is refused and left alone.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../common/errors.js';
import {
  checkMembers, quarantinedError, quarantineRecord, readRecord, withConsequence, writeRecord,
  type RecordFile, type RecordFormat,
} from '../common/versioned-record.js';
import type { DeployRecord } from './types.js';

const DEPLOY_FORMAT: RecordFormat<DeployRecord> = {
  what: 'deployment source',
  version: 1,
  upgrades: {},
  check: (d) => checkMembers(d, { spec: 'object', state: 'object', revisions: 'array', created: 'string' })
    ?? checkMembers(d['spec'] as Record<string, unknown>, { name: 'string', repo: 'string', ref: 'string', paths: 'array', intervalMs: 'number', timeoutMs: 'number', auth: 'object' })
    ?? checkMembers(d['state'] as Record<string, unknown>, { suspended: 'boolean', consecutiveFailures: 'number', nextRev: 'number', diagnostics: 'array' }),
};

export class DeployStore {
  readonly dir: string;

  constructor(private readonly root: string) {
    this.dir = join(root, 'deploy', 'sources');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(name: string): RecordFile {
    return { root: this.root, rel: `deploy/sources/${name}.json` };
  }

  /** The record, undefined when there is none (or it was damaged: quarantined now); throws STATE_TOO_NEW. */
  get(name: string): DeployRecord | undefined {
    const r = this.read(name);
    if (r !== undefined && 'error' in r) throw r.error;
    return r;
  }

  names(): string[] {
    return readdirSync(this.dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => f.slice(0, -'.json'.length)).sort();
  }

  /** Every readable record; refused ones are left out (and reported by the daemon's refusal list). */
  list(): DeployRecord[] {
    return this.names().flatMap((n) => { const r = this.read(n); return r === undefined || 'error' in r ? [] : [r]; });
  }

  private read(name: string): DeployRecord | { error: GantryError } | undefined {
    const f = this.file(name);
    const read = readRecord(f, DEPLOY_FORMAT);
    if (read.status === 'ok') return read.value;
    if (read.status === 'missing') return undefined;
    if (read.error.code === 'STATE_TOO_NEW') return { error: withConsequence(f, read.error, `deployment ${name} is left alone (not polled, not applied)`) };
    quarantinedError(f, read.error, quarantineRecord(f), `deployment ${name} is not polled or applied (its stack keeps running as it is)`,
      `add it again with \`gantry deploy add ${name} ...\`; the old record is in the quarantine dir`);
    return undefined;
  }

  save(rec: DeployRecord): void {
    this.get(rec.spec.name);
    writeRecord(this.file(rec.spec.name), DEPLOY_FORMAT, rec);
  }

  delete(name: string): void {
    this.get(name);
    rmSync(join(this.dir, `${name}.json`), { force: true });
  }

  /** Throws DEPLOY_NOT_FOUND. */
  must(name: string): DeployRecord {
    const r = this.get(name);
    if (r === undefined) throw new GantryError('DEPLOY_NOT_FOUND', `no deployment named ${name}`, { hint: '`gantry deploy ls` lists them; `gantry deploy add` adds one' });
    return r;
  }
}
