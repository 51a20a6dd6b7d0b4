// Test harness for the C shim: busybox root filesystems, spec files in the NUL format, a shim spawned the way
// the daemon spawns it (detached, stdio pipes), and a socket client speaking the frame protocol.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHIM = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'native', 'build', 'gantry-shim');

export const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, BIND: 4096, REC: 16384 } as const;

export type SpecEntry = readonly [string, ...string[]];

/** The spec file format: every key and value NUL-terminated, one after the other. */
export function encodeSpec(entries: readonly SpecEntry[]): Buffer {
  return Buffer.from(entries.flat().map((s) => `${s}\0`).join(''));
}

const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'ls', 'id', 'hostname', 'ps', 'mount', 'true', 'false', 'stty', 'printf',
  'touch', 'grep', 'ip', 'wc', 'kill', 'head', 'pwd'];

/** A root filesystem with /bin/busybox and its applets as symlinks, plus /etc/passwd. */
export function makeBusyboxRoot(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin', 'busybox'));
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n');
}

/** A temp directory unique to this test run; `remove()` deletes it. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'gantry-shimtest-'));
  join(...parts: string[]): string { return join(this.path, ...parts); }
  remove(): void { rmSync(this.path, { recursive: true, force: true }); }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function procField(pid: number, file: string): string | undefined {
  try { return readFileSync(`/proc/${pid}/${file}`, 'utf8'); } catch { return undefined; }
}

/** SIGKILLs the shim's child (only while its parent is PARENT) and the shim (only while its command line says
 * gantry-shim), so a recycled pid is never hit. */
export function killShim(shimPid: number | undefined, childPid?: number, parent = shimPid): void {
  if (childPid !== undefined && childPid > 0 && parent !== undefined) {
    const ppid = /^PPid:\s+(\d+)$/m.exec(procField(childPid, 'status') ?? '')?.[1];
    if (Number(ppid) === parent) {
      try { process.kill(childPid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
  if (shimPid === undefined || shimPid <= 0 || !(procField(shimPid, 'cmdline') ?? '').includes('gantry-shim')) return;
  try { process.kill(shimPid, 'SIGKILL'); } catch { /* already gone */ }
}

export async function eventually<T>(check: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface ExitRecord { code: number; signal: number; finishedAt: string }

export function readExitFile(path: string): ExitRecord | undefined {
  if (!existsSync(path)) return undefined;
  const [code, signal, finishedAt] = readFileSync(path, 'utf8').split(' ');
  return { code: Number(code), signal: Number(signal), finishedAt: finishedAt ?? '' };
}

export interface LogEntry { log: string; stream: 'stdout' | 'stderr'; time: string }

export function readLog(path: string): LogEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LogEntry);
}

/** The usual container: fresh namespaces, /proc and a small /dev, PATH=/bin. */
export function containerSpec(dir: TempDir, rootfs: string, args: readonly string[], extra: readonly SpecEntry[] = []): SpecEntry[] {
  return [
    ['id', 'shimtest'], ['rootfs', rootfs],
    ['ns', 'pid'], ['ns', 'mount'], ['ns', 'uts'], ['ns', 'ipc'], ['ns', 'net'],
    ['hostname', 'shimbox'],
    ['mount', 'proc', '/proc', 'proc', String(MS.NOSUID | MS.NODEV | MS.NOEXEC), ''],
    ['mount', 'tmpfs', '/dev', 'tmpfs', String(MS.NOSUID), 'mode=755,size=1024k'],
    ['mount', 'devpts', '/dev/pts', 'devpts', String(MS.NOSUID | MS.NOEXEC), 'newinstance,ptmxmode=0666,mode=0620'],
    ['device', '/dev/null', 'c', '1', '3'], ['device', '/dev/zero', 'c', '1', '5'], ['device', '/dev/tty', 'c', '5', '0'],
    ['symlink', 'pts/ptmx', '/dev/ptmx'], ['symlink', '/proc/self/fd', '/dev/fd'],
    ['env', 'PATH=/bin'], ['env', 'HOME=/'],
    ['log', dir.join('log')], ['exit_file', dir.join('exit')], ['socket', dir.join('sock')],
    ...extra,
    ...args.map((a): SpecEntry => ['arg', a]),
  ];
}

/** A shim process spawned like the daemon does: detached (own session), stdin/stdout/stderr pipes. */
export class Shim {
  readonly child: ChildProcess;
  private buf = '';
  private lines: string[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  stderr = '';
  initPid: number | undefined;
  /** The protocol version announced in `ready`. */
  protocol: number | undefined;
  readonly exited: Promise<number | null>;

  constructor(mode: 'run' | 'exec', specPath: string) {
    this.child = spawn(SHIM, [mode, specPath], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (s: string) => {
      this.buf += s;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      this.wake?.();
    });
    this.child.stdout!.on('close', () => { this.closed = true; this.wake?.(); });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (s: string) => { this.stderr += s; });
    this.child.stdin!.on('error', () => { /* the shim may have exited */ });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  static spawn(dir: TempDir, entries: readonly SpecEntry[], mode: 'run' | 'exec' = 'run', name = 'spec'): Shim {
    const specPath = dir.join(name);
    writeFileSync(specPath, encodeSpec(entries));
    return new Shim(mode, specPath);
  }

  get pid(): number { return this.child.pid ?? -1; }

  async line(timeoutMs = 5000): Promise<string | undefined> {
    const end = Date.now() + timeoutMs;
    while (this.lines.length === 0 && !this.closed) {
      if (Date.now() > end) throw new Error(`no status line from the shim after ${timeoutMs} ms (stderr: ${this.stderr})`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
    }
    return this.lines.shift();
  }

  /** Reads `ready SHIM INIT PROTOCOL`; returns the init pid. */
  async ready(): Promise<number> {
    const l = await this.line();
    const m = /^ready (\d+) (\d+) (\d+)$/.exec(l ?? '');
    if (!m) throw new Error(`expected ready, got ${JSON.stringify(l)} (stderr: ${this.stderr})`);
    this.initPid = Number(m[2]);
    this.protocol = Number(m[3]);
    return this.initPid;
  }

  /** Sends `go` (then EOF, like the daemon) and returns the outcome line. */
  async go(): Promise<string | undefined> {
    this.child.stdin!.end('go\n');
    return this.line();
  }

  /** Waits for the shim to exit (with a timeout). */
  async waitExit(timeoutMs = 10000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`shim ${this.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cleanup for finally blocks: nothing of this shim survives the test. The init is killed first and the shim
   * left to reap it and exit on its own (stdin EOF aborts one still waiting for `go`); only a stuck shim is killed. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    killShim(undefined, this.initPid, this.pid);
    try {
      await this.waitExit(3000);
    } catch {
      killShim(this.pid);
      await this.waitExit(2000).catch(() => undefined);
    }
  }
}

export interface Frame { stream: number; data: Buffer }

/** A socket client: sends TYPE LEN PAYLOAD frames, collects the shim's 8-byte-header frames. */
export class ShimClient {
  private buf = Buffer.alloc(0);
  readonly frames: Frame[] = [];
  closed = false;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      while (this.buf.length >= 8) {
        const len = this.buf.readUInt32BE(4);
        if (this.buf.length < 8 + len) break;
        this.frames.push({ stream: this.buf[0]!, data: this.buf.subarray(8, 8 + len) });
        this.buf = this.buf.subarray(8 + len);
      }
    });
    sock.on('close', () => { this.closed = true; });
    sock.on('error', () => { this.closed = true; });
  }

  static connect(path: string): Promise<ShimClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new ShimClient(s)));
      s.once('error', reject);
    });
  }

  send(type: string, payload: Buffer = Buffer.alloc(0)): void {
    const hdr = Buffer.alloc(5);
    hdr.write(type, 0, 'latin1');
    hdr.writeUInt32BE(payload.length, 1);
    this.sock.write(Buffer.concat([hdr, payload]));
  }

  subscribe(): void { this.send('a'); }
  stdin(text: string): void { this.send('i', Buffer.from(text)); }
  closeStdin(): void { this.send('e'); }
  resize(rows: number, cols: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(rows, 0);
    p.writeUInt16BE(cols, 2);
    this.send('r', p);
  }
  signal(sig: number): void { this.send('s', Buffer.from([sig])); }
  killAll(): void { this.send('k'); }

  output(stream = 1): string {
    return Buffer.concat(this.frames.filter((f) => f.stream === stream).map((f) => f.data)).toString('utf8');
  }
  exitCode(): number | undefined {
    const f = this.frames.find((x) => x.stream === 3);
    return f ? Number(f.data.toString('utf8').trim()) : undefined;
  }
  destroy(): void { this.sock.destroy(); }
}
