// Stored stacks: `<root>/stacks/<project>.json`, atomic and versioned. A record written by a newer gantry is
// refused (STATE_TOO_NEW) by every operation on its project and never overwritten or deleted; a damaged one is
// moved to quarantine (the project then has no stored stack: its containers stay, a new `up` stores it again).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GantryError } from '../common/errors.js';
import {
  checkMembers, quarantinedError, quarantineRecord, readRecord, SAME_LAYOUT, withConsequence, writeRecord,
  type RecordFile, type RecordFormat,
} from '../common/versioned-record.js';
import type { StackModel } from '../stack/model.js';
import type { UpOptions } from '../reconcile/types.js';

export interface StackRecord {
  project: string;
  model: StackModel;
  options: UpOptions;
  /** Set by `stack stop`/`rm`/`kill`: the daemon stops repairing until the next `up`/`start`. */
  held: boolean;
  updated: string;
}

const STACK_FORMAT: RecordFormat<StackRecord> = {
  what: 'stored stack',
  version: 1,
  upgrades: { 0: SAME_LAYOUT },
  check: (d) => checkMembers(d, { project: 'string', model: 'object', options: 'object', held: 'boolean' })
    ?? checkMembers(d['model'] as Record<string, unknown>, { services: 'object', networks: 'object', volumes: 'object' }),
};

export class StackStore {
  readonly dir: string;

  constructor(private readonly root: string) {
    this.dir = join(root, 'stacks');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(project: string): RecordFile {
    return { root: this.root, rel: `stacks/${project}.json` };
  }

  /** The stored stack, undefined when there is none (or it was damaged: quarantined now); throws STATE_TOO_NEW. */
  get(project: string): StackRecord | undefined {
    const read = this.read(project);
    if (read !== undefined && 'error' in read) throw read.error;
    return read;
  }

  /** Every readable stored stack; refused ones are left out (and reported by the daemon). */
  list(): StackRecord[] {
    return readdirSync(this.dir).filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .flatMap((f) => { const r = this.read(f.slice(0, -'.json'.length)); return r === undefined || 'error' in r ? [] : [r]; })
      .sort((a, b) => a.project.localeCompare(b.project));
  }

  private read(project: string): StackRecord | { error: GantryError } | undefined {
    const f = this.file(project);
    const read = readRecord(f, STACK_FORMAT);
    if (read.status === 'ok') return read.value;
    if (read.status === 'missing') return undefined;
    if (read.error.code === 'STATE_TOO_NEW') {
      return { error: withConsequence(f, read.error, `stack ${project} is left alone (not repaired, and up/down refuse it)`) };
    }
    quarantinedError(f, read.error, quarantineRecord(f), `stack ${project} has no stored state (its containers are kept; \`up\` stores it again)`,
      'nothing to do unless you want the old record: it is in the quarantine dir');
    return undefined;
  }

  /** Writes the record; refuses (STATE_TOO_NEW) to replace one a newer gantry wrote. */
  save(rec: StackRecord): void {
    this.get(rec.project);
    writeRecord(this.file(rec.project), STACK_FORMAT, rec);
  }

  /** Forgets the stack; refuses (STATE_TOO_NEW) to delete a record a newer gantry wrote. */
  delete(project: string): void {
    this.get(project);
    rmSync(join(this.dir, `${project}.json`), { force: true });
  }
}
