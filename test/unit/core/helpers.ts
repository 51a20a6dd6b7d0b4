// Small helpers shared by the core unit tests: temp dirs with a unique prefix, and error matchers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError, type ErrorCode } from '../../../src/common/errors.js';
import { initialState, type ContainerRecord, type ContainerState } from '../../../src/engine/containers/record.js';

export const TEST_PREFIX = 'gantry-core-test-';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), TEST_PREFIX));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** For assert.throws: the error is a GantryError with this code (and, optionally, a message matching `re`). */
export const isCode = (code: ErrorCode, re?: RegExp) => (e: unknown): boolean => {
  if (!(e instanceof GantryError)) return false;
  if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
  if (re && !re.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${re}`);
  return true;
};


/** A plausible container record (busybox sh), with overrides for the parts a test cares about. */
export function makeRecord(id: string, name: string, over: { created?: string; state?: Partial<ContainerState> } = {}): ContainerRecord {
  return {
    id, name, created: over.created ?? '2024-01-01T00:00:00.000Z',
    config: {
      image: 'busybox', imageId: 'sha256:beef', entrypoint: [], cmd: ['sh'], env: ['PATH=/bin'], workingDir: '/', user: '',
      hostname: '', domainname: '', tty: false, openStdin: false, stdinOnce: false, labels: {}, stopSignal: 'SIGTERM',
      stopTimeout: 10, exposedPorts: [],
    },
    host: {
      mounts: [], memoryBytes: 0, memorySwapBytes: 0, nanoCpus: 0, cpuShares: 0, pidsLimit: 0, networkMode: 'bridge',
      networks: [], portBindings: [], publishAllPorts: false, restartPolicy: { name: 'no', maximumRetryCount: 0 },
      autoRemove: false, readonlyRootfs: false, init: false, capAdd: [], capDrop: [], ulimits: [], sysctls: {},
      extraHosts: [], dns: [], dnsSearch: [], oomScoreAdj: 0, shmSizeBytes: 64 * 1024 * 1024, privileged: false,
    },
    state: { ...initialState(), ...over.state },
  };
}
