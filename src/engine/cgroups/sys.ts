// The file and process operations the cgroup drivers perform, behind a seam so unit tests can run them
// against a fake cgroupfs in a temp dir. Errors are turned into crun-style messages here, in one place.
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import { errnoCode, syscallError } from '../../common/errors.js';
import { setCgroupDeviceProgram } from '../../sys/bpf.js';

export interface CgroupSys {
  readFile(file: string): string;
  /** One write(2) of the whole value to an existing file (no O_CREAT, like writing a cgroupfs control file). */
  writeFile(file: string, value: string): void;
  /** Creates one directory; throws EEXIST when it exists. */
  mkdir(dir: string): void;
  rmdir(dir: string): void;
  /** Names of the subdirectories of dir. */
  subdirs(dir: string): string[];
  exists(path: string): boolean;
  kill(pid: number, signal: NodeJS.Signals): void;
  /** cgroup v2: makes `program` (encoded eBPF instructions, bpf-devices.ts) the device filter of the directory. */
  setDeviceProgram(dir: string, program: Buffer): void;
}

export const realCgroupSys: CgroupSys = {
  readFile: (file) => readFileSync(file, 'utf8'),
  writeFile: (file, value) => {
    // O_WRONLY without O_CREAT: a cgroup file that does not exist is an error, never a new regular file.
    const fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC);
    try { writeSync(fd, value); } finally { closeSync(fd); }
  },
  mkdir: (dir) => mkdirSync(dir),
  rmdir: (dir) => rmdirSync(dir),
  subdirs: (dir) => readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name),
  exists: (path) => existsSync(path),
  kill: (pid, signal) => process.kill(pid, signal),
  setDeviceProgram: (dir, program) => setCgroupDeviceProgram(dir, program),
};

/** Control-file access with errors that name the file and errno. */
export class ControlFiles {
  constructor(readonly sys: CgroupSys) {}

  write(file: string, value: string | number): void {
    try {
      this.sys.writeFile(file, String(value));
    } catch (e) {
      throw syscallError('write', file, e, hintFor(e));
    }
  }

  read(file: string): string {
    try {
      return this.sys.readFile(file);
    } catch (e) {
      throw syscallError('read', file, e);
    }
  }

  /** The file's text, or undefined when it does not exist. */
  readOptional(file: string): string | undefined {
    try {
      return this.sys.readFile(file);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw syscallError('read', file, e);
    }
  }

  /** Creates dir; false when it already existed. */
  mkdir(dir: string): boolean {
    try {
      this.sys.mkdir(dir);
      return true;
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw syscallError('mkdir', dir, e, hintFor(e));
    }
  }
}

function hintFor(e: unknown): string | undefined {
  switch (errnoCode(e)) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'the engine needs root and a writable cgroup filesystem';
    case 'EINVAL':
      return 'the kernel rejected the value; check the resource limits given';
    default:
      return undefined;
  }
}

/** Parses "key value" lines (memory.events, cpu.stat, cgroup.events, memory.oom_control). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === undefined || key === '' || value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out.set(key, n);
  }
  return out;
}

/** Parses a cgroup.procs file: one pid a line. */
export function parsePids(text: string): number[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
