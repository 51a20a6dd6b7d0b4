// Spawns the C shim and runs its start handshake (docs/shim-protocol.md). After `started`, the shim lives on
// its own: the daemon keeps nothing but the socket path.
//
// The daemon's shims run with `detach 1` (spec.ts): the process spawned here (by the shim spawner, shim-spawner.ts,
// or by the daemon itself) forks the real shim and exits once the start is settled,
// so the shim is no child process Node knows of (libuv calls waitpid on every child it knows at every SIGCHLD: with
// a shim per container, each exit cost a walk over all of them). The daemon is a child subreaper (daemon/main.ts),
// so the shim is re-parented to it, and reapShim() collects it once its socket says it is done. Handshake lines are
// read until stdout closes (the shim's end), not until the spawned process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../common/errors.js';
import type { ShimSpawner } from './shim-spawner.js';
import { sysReapChild } from '../../sys/ffi.js';
import { checkShimProtocol, parseProtocolVersion, UNANNOUNCED_PROTOCOL } from './shim-version.js';

export interface ShimStarted {
  shimPid: number;
  initPid: number;
  /** The protocol the shim announced in `ready` (1 when it announced none). */
  protocol: number;
}

export type ShimOutcome =
  | { kind: 'started' }
  | { kind: 'exec-error'; exitCode: number; message: string }
  | { kind: 'setup-error'; message: string };

export function shimBinary(): string {
  const fromEnv = process.env['GANTRY_SHIM'];
  if (fromEnv) return fromEnv;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/engine/runtime → project root
  const bin = join(here, '..', '..', '..', '..', 'native', 'build', 'gantry-shim');
  if (!existsSync(bin)) {
    throw new GantryError('SHIM_FAILED', `the container shim is missing at ${bin}`, { hint: 'build it with `npm run build`' });
  }
  return bin;
}

class LineReader {
  private buf = '';
  private waiters: Array<(line: string | undefined) => void> = [];
  private lines: string[] = [];
  private ended = false;
  private endWaiters: Array<() => void> = [];

  constructor(output: Readable, exited: Promise<void>) {
    output.setEncoding('utf8');
    output.on('data', (s: string) => {
      this.buf += s;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.deliver(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
    });
    const end = (): void => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w(undefined);
      for (const w of this.endWaiters.splice(0)) w();
    };
    output.on('end', end);
    output.on('close', end);
    void exited.then(end);
  }

  /** Resolves once the shim's stdout is closed (it exited, whichever process it is). */
  closed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  private deliver(line: string): void {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  next(): Promise<string | undefined> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/**
 * The shim's stdio during the handshake: pipes of a child the daemon forked, or one connection handed to a shim
 * the spawner forked (shim-spawner.ts), which carries stdin, stdout and stderr at once.
 */
interface ShimChannel {
  readonly output: Readable;
  write(text: string): void;
  /** EOF on the shim's stdin (before `go`: it kills the init and leaves nothing behind). */
  endInput(): void;
  /** Resolves when the shim is gone (or, for a connection, has let go of it). */
  readonly exited: Promise<void>;
  /** What the shim wrote on a separate stderr ('' when stderr is the channel itself). */
  stderr(): string;
  /** Frees the channel's handles; the shim lives on. */
  detach(): void;
}

function childChannel(child: ChildProcess): ShimChannel {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { stderr += s; });
  // Not the child's exit: with `detach 1` the spawned process exits when the start settles, maybe before its last
  // line is read; the shim is done with the handshake when its stdout closes.
  const exited = new Promise<void>((resolve) => {
    child.stdout!.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    output: child.stdout!,
    write: (text) => { child.stdin!.write(text); },
    endInput: () => { child.stdin!.end(); },
    exited,
    stderr: () => stderr,
    detach: () => {
      child.stdin!.destroy();
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.removeAllListeners();
      child.unref();
    },
  };
}

function socketChannel(sock: Socket): ShimChannel {
  const exited = new Promise<void>((resolve) => { sock.once('close', () => resolve()); });
  sock.on('error', () => { /* a reset ends the handshake: seen as 'close' */ });
  return {
    output: sock,
    write: (text) => { sock.write(text); },
    endInput: () => { sock.end(); },
    exited,
    stderr: () => '',
    detach: () => { sock.destroy(); },
  };
}

/** A shim between `ready` and `go`: the init exists (in its cgroups and namespaces) but has run no user code. */
export class PendingShim {
  private constructor(private readonly channel: ShimChannel, private readonly lines: LineReader, readonly started: ShimStarted) {}

  /** Starts a shim through `spawner` when there is one and it runs, else forks it from this process. */
  static async spawn(mode: 'run' | 'exec', specPath: string, spawner?: ShimSpawner): Promise<PendingShim> {
    const sock = spawner === undefined ? undefined : await spawner.open(mode, specPath);
    let channel: ShimChannel;
    let spawnError: Promise<Error | undefined> = new Promise(() => undefined);
    if (sock !== undefined) channel = socketChannel(sock);
    else {
      // No environment: the shim reads none (everything is in the spec), and whatever it has would be visible in
      // /proc/<shim>/environ on the host and passed on to anything it execs.
      const child = spawn(shimBinary(), [mode, specPath], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: {} });
      spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
      channel = childChannel(child);
    }
    const lines = new LineReader(channel.output, channel.exited);
    const first = await Promise.race([lines.next(), spawnError]);
    if (first instanceof Error) throw new GantryError('SHIM_FAILED', `cannot run the shim: ${first.message}`);
    const ready = first === undefined ? undefined : /^ready (\d+) (\d+)(?: (\S+))?$/.exec(first);
    if (!ready) {
      const why = first?.startsWith('error ') ? first.slice(6) : (channel.stderr().trim() || first || 'the shim exited without a word');
      channel.detach();
      throw new GantryError('SHIM_FAILED', `container setup failed: ${why}`);
    }
    // A shim of another build (GANTRY_SHIM) that speaks a protocol this daemon does not know is stopped here.
    let protocol = UNANNOUNCED_PROTOCOL;
    let refused: unknown;
    try {
      if (ready[3] !== undefined) protocol = parseProtocolVersion(ready[3], `the shim ${shimBinary()}`);
      checkShimProtocol(protocol, `the shim ${shimBinary()}`);
    } catch (e) {
      refused = e;
    }
    const pending = new PendingShim(channel, lines, { shimPid: Number(ready[1]), initPid: Number(ready[2]), protocol });
    if (refused !== undefined) {
      await pending.abort();
      throw refused;
    }
    return pending;
  }

  /** Lets the init run the user's process; resolves with the outcome of exec. */
  async go(): Promise<ShimOutcome> {
    this.channel.write('go\n');
    this.channel.endInput();
    const line = await this.lines.next();
    this.channel.detach();
    if (line === 'started') return { kind: 'started' };
    reapShim(this.started.shimPid); // it exits after a failed start
    const execErr = line === undefined ? null : /^exec-error (\d+) (.*)$/.exec(line);
    if (execErr) return { kind: 'exec-error', exitCode: Number(execErr[1]), message: execErr[2]! };
    if (line?.startsWith('setup-error ')) return { kind: 'setup-error', message: line.slice('setup-error '.length) };
    return { kind: 'setup-error', message: this.channel.stderr().trim() || `unexpected shim reply: ${line ?? 'EOF'}` };
  }

  /** Cancels before `go`: the shim kills the init and leaves nothing behind. */
  async abort(): Promise<void> {
    this.channel.endInput();
    await this.lines.closed();
    this.channel.detach();
    reapShim(this.started.shimPid);
  }
}

const REAP_RETRIES_MS = [10, 50, 200, 1000, 5000, 15000, 40000];

/**
 * Collects a detached shim that was re-parented to the daemon, once it has exited (or is about to: its socket or
 * stdout just closed). Not the daemon's child (no subreaper, or a shim of an earlier daemon, now init's): nothing
 * to do. Retried briefly while it is still exiting; never blocks.
 */
export function reapShim(pid: number, attempt = 0): void {
  if (pid <= 0) return;
  let state: ReturnType<typeof sysReapChild>;
  try {
    state = sysReapChild(pid);
  } catch {
    return;
  }
  const delay = REAP_RETRIES_MS[attempt];
  if (state === 'running' && delay !== undefined) setTimeout(() => reapShim(pid, attempt + 1), delay).unref();
}
