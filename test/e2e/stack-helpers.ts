// Helpers for end-to-end stack scenarios: stack files live in the source tree (tsc does not copy yaml).
import { join } from 'node:path';
import { PROJECT_ROOT, type TestDaemon } from '../helpers/daemon.js';

export function scenarioFile(name: string): string {
  return join(PROJECT_ROOT, 'test', 'e2e', name, 'compose.yaml');
}

export function exampleFile(name: string): string {
  return join(PROJECT_ROOT, 'examples', name, 'compose.yaml');
}

export interface PsRow { Id: string; Names: string[]; State: string; Status: string; Labels: Record<string, string> }

/** Containers of a project, by name, as `stack ps -a --format json` reports them. */
export function containersOf(d: TestDaemon, file: string): Map<string, PsRow> {
  const out = d.ok(['stack', '-f', file, 'ps', '-a', '--format', 'json']);
  const rows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as PsRow);
  return new Map(rows.map((r) => [r.Names[0]!.replace(/^\//, ''), r]));
}
