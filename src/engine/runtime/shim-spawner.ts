// The shim spawner (native/spawner): a small process the daemon starts once, which forks and execs each container
// shim on the daemon's behalf. A fork copies the forking process's page tables: 3-4 ms of the daemon's main
// thread per container start at 100 MB of RSS, growing with the daemon; the spawner's fork costs ~0.1 ms.
// Per shim, the daemon connects to the spawner's socket and sends `run|exec SPEC`; that connection then is the
// shim's stdin/stdout/stderr, over which the start handshake runs as over pipes. The spawner dies with the daemon
// (PR_SET_PDEATHSIG); shims live on in their own sessions.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function spawnerBinary(): string {
  // dist/src/engine/runtime → project root
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'native', 'build', 'gantry-spawner');
}

export class ShimSpawner {
  readonly socketPath: string;
  #child: ChildProcess | undefined;
  #ready: Promise<boolean> | undefined;
  #unavailable: string | undefined;

  /** `enabled: false` (GANTRY_SHIM_SPAWNER=0): the daemon forks every shim itself, as before the spawner. */
  constructor(runDir: string, private readonly shim: string, private readonly warn: (msg: string) => void, enabled = true) {
    this.socketPath = join(runDir, 'spawner.sock');
    if (!enabled) this.#unavailable = 'disabled by GANTRY_SHIM_SPAWNER=0';
  }

  /** Starts the spawner once (again if it died); false when it cannot run, and the daemon forks shims itself. */
  ensure(): Promise<boolean> {
    if (this.#unavailable !== undefined) return Promise.resolve(false);
    if (this.#ready !== undefined && this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null) return this.#ready;
    this.#ready = this.#start();
    return this.#ready;
  }

  async #start(): Promise<boolean> {
    const bin = spawnerBinary();
    if (!existsSync(bin)) return this.#giveUp(`${bin} is missing (build it with \`npm run build\`)`);
    const child = spawn(bin, [this.socketPath, this.shim], { stdio: ['ignore', 'pipe', 'ignore'], env: {} });
    this.#child = child;
    const first = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => { out += s; if (out.includes('\n')) resolve(out.split('\n')[0]!); });
      child.once('error', (e) => resolve(`error ${e.message}`));
      child.once('exit', () => resolve(out.split('\n')[0] || 'error it exited at once'));
    });
    child.stdout!.destroy();
    child.unref();
    if (first !== 'ok' && !first.startsWith('ok ')) return this.#giveUp(first.replace(/^error /, ''));
    const noTemplate = /^ok no-template (.*)$/.exec(first)?.[1];
    if (noTemplate !== undefined) {
      this.warn(`the shim spawner could not make the template mount namespace (${noTemplate}); containers' roots use pivot_root, whose cost per start grows with the processes running`);
    }
    return true;
  }

  #giveUp(why: string): false {
    this.#unavailable = why;
    this.warn(`the shim spawner cannot run (${why}); the daemon forks each shim itself, which costs it a few ms per container start`);
    return false;
  }

  /** A connection that is a new shim's stdin, stdout and stderr; undefined when the spawner is not there. */
  async open(mode: 'run' | 'exec', specPath: string): Promise<Socket | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!(await this.ensure())) return undefined;
      const sock = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(this.socketPath);
        s.once('connect', () => { s.off('error', onError); resolve(s); });
        const onError = (): void => { resolve(undefined); };
        s.once('error', onError);
      });
      if (sock !== undefined) {
        sock.write(`${mode} ${specPath}\n`);
        return sock;
      }
      // It died (or its socket was removed): one new spawner, then the daemon's own fork.
      this.#child?.kill('SIGKILL');
      this.#child = undefined;
    }
    return undefined;
  }

  /** Stops the spawner (at shutdown; it would also go by itself when the daemon exits). */
  stop(): void {
    this.#child?.kill('SIGTERM');
    this.#child = undefined;
  }
}
