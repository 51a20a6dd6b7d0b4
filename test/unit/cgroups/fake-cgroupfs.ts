// A fake cgroupfs in a temp dir that behaves like the kernel where the drivers depend on it: control files
// appear on mkdir, a v2 child only gets the controllers its parent delegated, memory.limit_in_bytes may never
// exceed memory.memsw.limit_in_bytes, freezing takes a few reads to complete, rmdir fails with EBUSY while a
// cgroup has processes or children. It records every write and every signal.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import type { CgroupSys } from '../../../src/engine/cgroups/index.js';

export interface FakeMount {
  mountPoint: string;
  version: 1 | 2;
  /** v1: the hierarchy's controllers; v2: the root's cgroup.controllers. */
  controllers: string[];
}

export interface FakeOptions {
  /** v1: whether memory.memsw.* exist (swap accounting). Default true. */
  swapAccounting?: boolean;
  /** v2: whether cgroup.kill exists (kernel >= 5.14). Default true. */
  cgroupKill?: boolean;
  /** Reads of freezer.state / cgroup.events before a freeze completes. Default 2; Infinity = never. */
  freezeAfterReads?: number;
}

const UNLIMITED = '9223372036854771712';

function errno(code: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${path}`), { code });
}

export class FakeCgroupFs implements CgroupSys {
  readonly root = mkdtempSync(join(tmpdir(), 'gantry-fakecg-'));
  /** Writes in order, paths relative to the fake root ("sys/fs/cgroup/memory/a/memory.limit_in_bytes"). */
  readonly writes: Array<{ file: string; value: string }> = [];
  readonly signals: Array<{ pid: number; signal: NodeJS.Signals }> = [];
  /** Basename → errno to fail writes with (simulating a kernel refusal). */
  readonly failWrites = new Map<string, string>();
  /** cgroup v2 device programs set, by directory relative to the fake root. */
  readonly devicePrograms = new Map<string, Buffer>();
  private readonly pendingFreeze = new Map<string, number>();

  constructor(readonly mounts: FakeMount[], readonly opts: FakeOptions = {}) {
    for (const m of mounts) {
      const dir = this.abs(m.mountPoint);
      mkdirSync(dir, { recursive: true });
      if (m.version === 2) {
        this.put(dir, { 'cgroup.controllers': m.controllers.join(' '), 'cgroup.subtree_control': '', 'cgroup.procs': '' });
      } else {
        this.populateV1(dir, m.controllers, true);
      }
    }
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Absolute path of a host path inside the fake. */
  abs(hostPath: string): string {
    return join(this.root, hostPath);
  }

  rel(path: string): string {
    return relative(this.root, path);
  }

  private put(dir: string, files: Record<string, string>): void {
    for (const [name, value] of Object.entries(files)) writeFileSync(join(dir, name), value);
  }

  private mountOf(path: string): { mount: FakeMount; dir: string } {
    const found = this.mounts
      .map((mount) => ({ mount, dir: this.abs(mount.mountPoint) }))
      .filter(({ dir }) => path === dir || path.startsWith(dir + '/'))
      .sort((a, b) => b.dir.length - a.dir.length)[0];
    if (found === undefined) throw new Error(`fake cgroupfs: ${path} is not in a cgroup mount`);
    return found;
  }

  private populateV1(dir: string, controllers: string[], isRoot: boolean): void {
    const files: Record<string, string> = { 'cgroup.procs': '', tasks: '', notify_on_release: '0' };
    for (const c of controllers) {
      if (c === 'cpuset') Object.assign(files, isRoot ? { 'cpuset.cpus': '0-3\n', 'cpuset.mems': '0\n' } : { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' });
      if (c === 'cpu') Object.assign(files, { 'cpu.cfs_period_us': '100000\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.shares': '1024\n' });
      if (c === 'cpuacct') Object.assign(files, { 'cpuacct.usage': '0\n' });
      if (c === 'memory') {
        Object.assign(files, {
          'memory.limit_in_bytes': `${UNLIMITED}\n`, 'memory.usage_in_bytes': '0\n', 'memory.use_hierarchy': '1\n',
          'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
        });
        if (this.opts.swapAccounting !== false) files['memory.memsw.limit_in_bytes'] = `${UNLIMITED}\n`;
      }
      if (c === 'devices') Object.assign(files, { 'devices.allow': '', 'devices.deny': '', 'devices.list': 'a *:* rwm\n' });
      if (c === 'freezer' && !isRoot) files['freezer.state'] = 'THAWED\n';
      if (c === 'pids' && !isRoot) Object.assign(files, { 'pids.max': 'max\n', 'pids.current': '0\n' });
    }
    this.put(dir, files);
  }

  private populateV2(dir: string, controllers: string[]): void {
    const files: Record<string, string> = {
      'cgroup.controllers': controllers.join(' '), 'cgroup.subtree_control': '', 'cgroup.procs': '',
      'cgroup.events': 'populated 0\nfrozen 0\n', 'cgroup.freeze': '0\n',
      'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
    };
    if (this.opts.cgroupKill !== false) files['cgroup.kill'] = '';
    if (controllers.includes('memory')) {
      Object.assign(files, {
        'memory.max': 'max\n', 'memory.swap.max': 'max\n', 'memory.current': '0\n',
        'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
      });
    }
    if (controllers.includes('cpu')) Object.assign(files, { 'cpu.max': 'max 100000\n', 'cpu.weight': '100\n' });
    if (controllers.includes('pids')) Object.assign(files, { 'pids.max': 'max\n', 'pids.current': '0\n' });
    this.put(dir, files);
  }

  // ---- CgroupSys ----

  readFile(file: string): string {
    const pending = this.pendingFreeze.get(file);
    if (pending !== undefined) {
      if (pending <= 1) {
        this.pendingFreeze.delete(file);
        if (basename(file) === 'freezer.state') writeFileSync(file, 'FROZEN\n');
        else writeFileSync(file, readFileSync(file, 'utf8').replace('frozen 0', 'frozen 1'));
      } else {
        this.pendingFreeze.set(file, pending - 1);
      }
    }
    return readFileSync(file, 'utf8');
  }

  setDeviceProgram(dir: string, program: Buffer): void {
    if (!existsSync(dir)) throw errno('ENOENT', dir);
    this.devicePrograms.set(this.rel(dir), Buffer.from(program));
  }

  writeFile(file: string, value: string): void {
    if (!existsSync(file)) throw errno('ENOENT', file);
    const name = basename(file);
    const dir = dirname(file);
    const fail = this.failWrites.get(name);
    if (fail !== undefined) throw errno(fail, file);
    const num = (v: string): number => (v.trim() === '-1' ? Infinity : Number(v.trim()));
    switch (name) {
      case 'memory.limit_in_bytes': {
        const memsw = join(dir, 'memory.memsw.limit_in_bytes');
        if (existsSync(memsw) && num(value) > num(readFileSync(memsw, 'utf8'))) throw errno('EINVAL', file);
        writeFileSync(file, value);
        break;
      }
      case 'memory.memsw.limit_in_bytes':
        if (num(value) < num(readFileSync(join(dir, 'memory.limit_in_bytes'), 'utf8'))) throw errno('EINVAL', file);
        writeFileSync(file, value.trim() === '-1' ? UNLIMITED : value);
        break;
      case 'freezer.state':
        if (value === 'FROZEN') {
          if (readFileSync(file, 'utf8').trim() !== 'FROZEN') {
            writeFileSync(file, 'FREEZING\n');
            if (!this.pendingFreeze.has(file)) this.pendingFreeze.set(file, this.opts.freezeAfterReads ?? 2);
          }
        } else if (value === 'THAWED') {
          this.pendingFreeze.delete(file);
          writeFileSync(file, 'THAWED\n');
        } else {
          throw errno('EINVAL', file);
        }
        break;
      case 'cgroup.freeze': {
        const events = join(dir, 'cgroup.events');
        if (value === '1') {
          if (!this.pendingFreeze.has(events)) this.pendingFreeze.set(events, this.opts.freezeAfterReads ?? 2);
        } else {
          this.pendingFreeze.delete(events);
          writeFileSync(events, readFileSync(events, 'utf8').replace('frozen 1', 'frozen 0'));
        }
        writeFileSync(file, value);
        break;
      }
      case 'cgroup.subtree_control': {
        const available = readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
        const enabled = new Set(readFileSync(file, 'utf8').trim().split(/\s+/).filter((c) => c !== ''));
        for (const token of value.trim().split(/\s+/)) {
          const c = token.slice(1);
          if (!available.includes(c)) throw errno('ENOENT', file);
          if (token.startsWith('+')) enabled.add(c);
          else enabled.delete(c);
        }
        writeFileSync(file, [...enabled].join(' '));
        break;
      }
      case 'cgroup.procs':
        writeFileSync(file, readFileSync(file, 'utf8') + value.trim() + '\n');
        break;
      case 'devices.deny':
      case 'devices.allow': {
        // The kernel's list: 'a' resets it (deny: nothing allowed; allow: everything); a rule adds an exception,
        // which only shows while the default is deny. A rule the parent does not allow is refused (EPERM).
        const list = join(dir, 'devices.list');
        const rule = value.trim();
        const current = readFileSync(list, 'utf8').split('\n').filter((l) => l !== '');
        if (rule === 'a') {
          writeFileSync(list, name === 'devices.allow' ? 'a *:* rwm\n' : '');
        } else if (name === 'devices.allow') {
          const parent = readFileSync(join(dirname(dir), 'devices.list'), 'utf8');
          if (!parent.includes('a *:* rwm') && !parent.split('\n').includes(rule)) throw errno('EPERM', file);
          if (!current.includes('a *:* rwm') && !current.includes(rule)) writeFileSync(list, [...current, rule].join('\n') + '\n');
        } else {
          writeFileSync(list, current.filter((l) => l !== rule).map((l) => `${l}\n`).join(''));
        }
        break;
      }
      case 'cgroup.kill':
        for (const sub of [dir, ...this.descendants(dir)]) {
          for (const pid of this.procsIn(sub)) this.signals.push({ pid, signal: 'SIGKILL' });
          writeFileSync(join(sub, 'cgroup.procs'), '');
        }
        break;
      default:
        writeFileSync(file, value);
    }
    this.writes.push({ file: this.rel(file), value });
  }

  mkdir(dir: string): void {
    mkdirSync(dir);
    const { mount } = this.mountOf(dir);
    if (mount.version === 1) {
      this.populateV1(dir, mount.controllers, false);
    } else {
      const delegated = readFileSync(join(dirname(dir), 'cgroup.subtree_control'), 'utf8').trim().split(/\s+/).filter((c) => c !== '');
      this.populateV2(dir, delegated);
    }
  }

  rmdir(dir: string): void {
    if (!existsSync(dir)) throw errno('ENOENT', dir);
    if (this.subdirs(dir).length > 0 || this.procsIn(dir).length > 0) throw errno('EBUSY', dir);
    rmSync(dir, { recursive: true });
  }

  subdirs(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    const holders = this.mounts.flatMap((m) => [this.abs(m.mountPoint), ...this.descendants(this.abs(m.mountPoint))])
      .filter((d) => this.procsIn(d).includes(pid));
    if (holders.length === 0) throw errno('ESRCH', `pid ${pid}`);
    this.signals.push({ pid, signal });
  }

  // ---- helpers for tests ----

  /** Puts a (pretend) process into a cgroup dir, as the shim would. */
  addProcess(dir: string, pid: number): void {
    writeFileSync(join(dir, 'cgroup.procs'), readFileSync(join(dir, 'cgroup.procs'), 'utf8') + `${pid}\n`);
  }

  /** Pretends every process in dir exited. */
  exitAll(dir: string): void {
    writeFileSync(join(dir, 'cgroup.procs'), '');
  }

  procsIn(dir: string): number[] {
    const file = join(dir, 'cgroup.procs');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map(Number);
  }

  descendants(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return this.subdirs(dir).flatMap((name) => [join(dir, name), ...this.descendants(join(dir, name))]);
  }

  read(hostPath: string): string {
    return readFileSync(this.abs(hostPath), 'utf8').trim();
  }

  set(hostPath: string, value: string): void {
    writeFileSync(this.abs(hostPath), value);
  }

  /** Writes whose file is under hostDir (relative to it), in order. */
  writesUnder(hostDir: string): Array<{ file: string; value: string }> {
    const prefix = this.rel(this.abs(hostDir)) + '/';
    return this.writes.filter((w) => w.file.startsWith(prefix)).map((w) => ({ file: w.file.slice(prefix.length), value: w.value }));
  }
}
