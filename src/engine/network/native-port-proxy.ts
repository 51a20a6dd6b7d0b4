// The TCP side of published ports as a process of its own: native/portproxy (gantry-portproxy), one per binding,
// started detached so it outlives the daemon like the shim does, and moving bytes with splice(2) (no copy through
// user space, no JavaScript per chunk). The daemon keeps nothing but the control socket path:
// <controlDir>/t-<listen ip>-<port>, a unix socket (0600, in a 0700 directory; the proxy also answers only its
// own uid), one line per request (protocol in native/portproxy/main.c). A daemon started later finds the proxies
// of its live containers by that path (adopt) and stops the others (sweep).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../common/errors.js';
import { listenAddress } from './ports.js';
import type { PortProxy, ProxyTarget } from './port-proxy.js';

const PROTOCOL = 1;
/** A control reply longer than this is not one of ours. */
const MAX_REPLY = 256;
const REQUEST_TIMEOUT_MS = 5_000;

/** The proxy binary: GANTRY_PORTPROXY, else native/build/gantry-portproxy; undefined when not built. */
export function portProxyBinary(): string | undefined {
  const fromEnv = process.env['GANTRY_PORTPROXY'];
  if (fromEnv) return fromEnv;
  // dist/src/engine/network → project root
  const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'native', 'build', 'gantry-portproxy');
  return existsSync(bin) ? bin : undefined;
}

export function controlPath(controlDir: string, hostIp: string, hostPort: number): string {
  return join(controlDir, `t-${listenAddress(hostIp)}-${hostPort}`);
}

/** Thrown when a bind fails; port-proxy.ts maps the errno name to the user's error. */
export class ProxyBindError extends Error {
  constructor(readonly errno: string, message: string) {
    super(message);
  }
}

/** One request on the control socket: one line out, one line back. */
export function request(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    let got = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer from the port proxy at ${path}`)), REQUEST_TIMEOUT_MS);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        s.destroy();
        resolve(got.slice(0, nl));
      } else if (got.length > MAX_REPLY) {
        s.destroy(new Error(`the port proxy at ${path} answered garbage`));
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`the port proxy at ${path} closed without an answer`));
    });
  });
}

function handle(path: string, hostIp: string, hostPort: number, initial: ProxyTarget): PortProxy {
  let target = initial;
  let closing: Promise<void> | undefined;
  const count = async (line: string): Promise<number> => {
    try {
      return Number(await request(path, line)) || 0;
    } catch {
      return 0; // gone: nothing open
    }
  };
  return {
    hostIp, hostPort, containerPort: initial.port, protocol: 'tcp', outlivesDaemon: true,
    get target() { return target; },
    activeCount: () => count('count'),
    activeTo: (ip) => count(`active ${ip}`),
    retarget: async (ip) => {
      const answer = await request(path, `target ${ip} ${target.port}`);
      if (answer !== 'ok') throw new GantryError('SYSCALL_FAILED', `the port proxy of ${describe(hostIp, hostPort)} refused the new target ${ip}: ${answer}`);
      target = { ip, port: target.port };
    },
    release: () => Promise.resolve(),
    close: () => (closing ??= request(path, 'quit').then(() => undefined, () => {
      rmSync(path, { force: true }); // nobody answered: a stale socket
    })),
  };
}

function describe(hostIp: string, port: number): string {
  const ip = listenAddress(hostIp);
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/tcp`;
}

/** Starts a proxy listening on the first free port of [first, last]. Throws ProxyBindError on a bind failure. */
export async function startNativeTcpProxy(
  binary: string, controlDir: string, hostIp: string, first: number, last: number, target: ProxyTarget,
): Promise<PortProxy> {
  mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  const listen = listenAddress(hostIp);
  // empty environment and its own session (detached): it reads none, and it must not die with the daemon
  const child = spawn(binary, [listen, String(first), String(last), target.ip, String(target.port), controlDir], {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: {},
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('error', (e) => reject(new GantryError('SYSCALL_FAILED', `cannot run the port proxy ${binary}: ${e.message}`, { hint: 'build it with `npm run build`' })));
    const check = (): void => {
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    };
    child.stdout.on('data', check);
    child.stdout.once('end', () => resolve(out.split('\n')[0] ?? ''));
  });
  child.stdout.destroy();
  child.stderr.destroy();
  child.unref();
  const ok = /^ok (\d+)$/.exec(line);
  if (ok !== null) return handle(controlPath(controlDir, hostIp, Number(ok[1])), hostIp, Number(ok[1]), target);
  const refused = /^error (E[A-Z0-9]+) (.*)$/.exec(line);
  if (refused !== null) throw new ProxyBindError(refused[1]!, refused[2]!);
  throw new GantryError('SYSCALL_FAILED', `the port proxy for ${describe(hostIp, first)} failed to start: ${(err.trim() || line || 'no answer').slice(0, 200)}`);
}

/** The proxy a previous daemon left at this binding, when it still answers; undefined when none does. */
export async function adoptNativeTcpProxy(controlDir: string, hostIp: string, hostPort: number, containerPort: number): Promise<PortProxy | undefined> {
  const path = controlPath(controlDir, hostIp, hostPort);
  if (!existsSync(path)) return undefined;
  let info: string;
  try {
    info = await request(path, 'info');
  } catch {
    rmSync(path, { force: true });
    return undefined;
  }
  const m = /^portproxy (\d+) (\d+) (\S+) (\d+)$/.exec(info);
  if (m === null || Number(m[1]) !== PROTOCOL || Number(m[2]) !== hostPort || Number(m[4]) !== containerPort) {
    // not what the record says: stop it, the caller starts a fresh one
    await request(path, 'quit').catch(() => rmSync(path, { force: true }));
    return undefined;
  }
  return handle(path, hostIp, hostPort, { ip: m[3]!, port: containerPort });
}

/** Stops every proxy in controlDir whose path is not in `keep` (proxies of containers that are gone). */
export async function sweepNativeTcpProxies(controlDir: string, keep: ReadonlySet<string>): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(controlDir);
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const name of names) {
    const path = join(controlDir, name);
    if (!name.startsWith('t-') || keep.has(path)) continue;
    await request(path, 'quit').catch(() => rmSync(path, { force: true }));
    stopped.push(name.slice(2));
  }
  return stopped;
}
