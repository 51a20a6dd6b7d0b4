// Userland proxy for published ports: a TCP listener that pipes each connection to the container, and a UDP
// socket with one session socket per client. It needs no firewall rules, so the host's iptables are never
// touched; published ports are reachable on loopback and, when bound to all addresses, from other containers
// through their bridge gateway address. With a control directory, TCP goes to gantry-portproxy
// (native-port-proxy.ts: splice(2), a process that outlives the daemon); without one, or for UDP, the proxy
// runs here, inside the daemon.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';
import { GantryError, errnoCode } from '../../common/errors.js';
import { listenAddress, type PortBinding, type PortProtocol, type PublishedPort } from './ports.js';
import { portProxyBinary, ProxyBindError, startNativeTcpProxy } from './native-port-proxy.js';

export interface ProxyTarget {
  ip: string;
  port: number;
}

export interface PortProxyOptions {
  /** '' = all IPv4 addresses. */
  hostIp: string;
  /** 0 = random free port. */
  hostPort: number;
  /** Any free port in [hostPort, hostPortEnd]. */
  hostPortEnd?: number | undefined;
  protocol: PortProtocol;
  target: ProxyTarget;
  /** UDP: a client session with no traffic for this long is closed (default 30 s). */
  udpIdleMs?: number;
  /** UDP: at most this many client sessions; the oldest goes first (default 1024). */
  udpMaxSessions?: number;
  /** TCP through gantry-portproxy, its control socket in this directory (when the binary is built). */
  controlDir?: string | undefined;
}

export interface PortProxy extends PublishedPort {
  /** Where new connections (sessions) go. */
  readonly target: ProxyTarget;
  /** True for gantry-portproxy: it keeps listening when the daemon is gone. */
  readonly outlivesDaemon: boolean;
  /** Open TCP connections or UDP sessions. */
  activeCount(): Promise<number>;
  /** Open TCP connections or UDP sessions that go to `ip` (after a retarget: those still on the old address). */
  activeTo(ip: string): Promise<number>;
  /** New connections (sessions) go to `ip` from now on; the open ones stay where they are. The listener is kept. */
  retarget(ip: string): Promise<void>;
  /** Stop listening and cut every connection/session. Idempotent. */
  close(): Promise<void>;
  /** The daemon lets go of it (shutdown): a proxy that outlives the daemon keeps running, the others close. */
  release(): Promise<void>;
}

function describe(hostIp: string, port: number | string, protocol: PortProtocol): string {
  const ip = listenAddress(hostIp);
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${protocol}`;
}

function bindError(e: unknown, hostIp: string, port: number | string, protocol: PortProtocol): GantryError {
  const where = describe(hostIp, port, protocol);
  switch (e instanceof ProxyBindError ? e.errno : errnoCode(e)) {
    case 'EADDRINUSE':
      return new GantryError('PORT_IN_USE', `host port ${where} is already in use`, {
        cause: e, hint: 'stop what listens there or publish on another host port', detail: { port: where },
      });
    case 'EADDRNOTAVAIL':
      return new GantryError('INVALID_ARGUMENT', `cannot listen on ${where}: ${listenAddress(hostIp)} is not an address of this host`, { cause: e });
    case 'EACCES':
      return new GantryError('SYSCALL_FAILED', `bind \`${where}\`: EACCES`, { cause: e, hint: 'ports below 1024 need root' });
    default:
      return new GantryError('SYSCALL_FAILED', `bind \`${where}\`: ${e instanceof ProxyBindError ? e.errno : errnoCode(e) ?? String(e)}`, { cause: e });
  }
}

// ------------------------------------------------------------------ TCP

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}

function startTcp(server: Server, hostIp: string, initial: ProxyTarget): PortProxy {
  const sockets = new Set<Socket>();
  let target = initial;
  let pairs = 0;
  const pairsTo = new Map<string, number>();
  server.on('connection', (client: Socket) => {
    pairs++;
    const to = target;
    pairsTo.set(to.ip, (pairsTo.get(to.ip) ?? 0) + 1);
    const upstream = connect({ host: to.ip, port: to.port, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', () => {
      pairs--;
      pairsTo.set(to.ip, (pairsTo.get(to.ip) ?? 1) - 1);
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  server.on('error', () => undefined); // accept errors (EMFILE…) must not kill the daemon
  const addr = server.address();
  const hostPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const s of sockets) s.destroy();
  }));
  return {
    hostIp, hostPort, containerPort: initial.port, protocol: 'tcp', outlivesDaemon: false,
    get target() { return target; },
    activeCount: () => Promise.resolve(pairs),
    activeTo: (ip) => Promise.resolve(pairsTo.get(ip) ?? 0),
    retarget: (ip) => {
      target = { ip, port: target.port };
      return Promise.resolve();
    },
    close,
    release: close,
  };
}

// ------------------------------------------------------------------ UDP

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    const onError = (e: Error): void => {
      sock.close();
      reject(e);
    };
    sock.once('error', onError);
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

interface UdpSession {
  sock: UdpSocket;
  timer: NodeJS.Timeout;
  /** The container address the session talks to (kept across a retarget). */
  to: ProxyTarget;
}

function startUdp(server: UdpSocket, hostIp: string, initial: ProxyTarget, idleMs: number, maxSessions: number): PortProxy {
  let target = initial;
  const sessions = new Map<string, UdpSession>();
  const end = (key: string): void => {
    const s = sessions.get(key);
    if (s === undefined) return;
    sessions.delete(key);
    clearTimeout(s.timer);
    s.sock.close();
  };
  const touch = (key: string, s: UdpSession): void => {
    s.timer.refresh();
    // keep the map in least-recently-used order
    sessions.delete(key);
    sessions.set(key, s);
  };
  server.on('message', (msg: Buffer, client: RemoteInfo) => {
    const key = `${client.address}|${client.port}`;
    let s = sessions.get(key);
    if (s === undefined) {
      if (sessions.size >= maxSessions) {
        const oldest = sessions.keys().next();
        if (oldest.done !== true) end(oldest.value);
      }
      const to = target;
      const sock = createSocket({ type: isIPv6(to.ip) ? 'udp6' : 'udp4' });
      const created: UdpSession = { sock, timer: setTimeout(() => end(key), idleMs), to };
      created.timer.unref();
      sock.on('message', (reply: Buffer, from: RemoteInfo) => {
        if (from.address !== to.ip || from.port !== to.port) return;
        touch(key, created);
        server.send(reply, client.port, client.address);
      });
      sock.on('error', () => end(key));
      sessions.set(key, created);
      s = created;
    } else {
      touch(key, s);
    }
    s.sock.send(msg, s.to.port, s.to.ip);
  });
  server.on('error', () => undefined);
  const hostPort = server.address().port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= new Promise<void>((resolve) => {
    for (const key of [...sessions.keys()]) end(key);
    server.close(() => resolve());
  }));
  return {
    hostIp, hostPort, containerPort: initial.port, protocol: 'udp', outlivesDaemon: false,
    get target() { return target; },
    activeCount: () => Promise.resolve(sessions.size),
    activeTo: (ip) => Promise.resolve([...sessions.values()].filter((s) => s.to.ip === ip).length),
    retarget: (ip) => {
      target = { ip, port: target.port };
      return Promise.resolve();
    },
    close,
    release: close,
  };
}

// ------------------------------------------------------------------ public

/** Listen on the host address/port and forward to the target. Errors: PORT_IN_USE naming `IP:PORT/proto`. */
export async function startPortProxy(opts: PortProxyOptions): Promise<PortProxy> {
  const host = listenAddress(opts.hostIp);
  const first = opts.hostPort;
  const last = opts.hostPortEnd ?? opts.hostPort;
  const binary = opts.protocol === 'tcp' && opts.controlDir !== undefined ? portProxyBinary() : undefined;
  if (binary !== undefined && opts.controlDir !== undefined) {
    try {
      return await startNativeTcpProxy(binary, opts.controlDir, opts.hostIp, first, last, opts.target);
    } catch (e) {
      if (!(e instanceof ProxyBindError)) throw e;
      throw bindError(e, opts.hostIp, first === last ? first : `${first}-${last}`, opts.protocol);
    }
  }
  let lastError: unknown;
  for (let port = first; port <= last; port++) {
    try {
      if (opts.protocol === 'tcp') return startTcp(await listenTcp(host, port), opts.hostIp, opts.target);
      return startUdp(await bindUdp(host, port), opts.hostIp, opts.target, opts.udpIdleMs ?? 30_000, opts.udpMaxSessions ?? 1024);
    } catch (e) {
      lastError = e;
      if (errnoCode(e) !== 'EADDRINUSE') break;
    }
  }
  throw bindError(lastError, opts.hostIp, first === last ? first : `${first}-${last}`, opts.protocol);
}

/**
 * Publish every binding to `targetIp`, all or nothing: when one fails, those already started are closed
 * before the error is thrown.
 */
export async function startPortProxies(
  bindings: readonly PortBinding[],
  targetIp: string,
  opts: { udpIdleMs?: number; controlDir?: string | undefined } = {},
): Promise<PortProxy[]> {
  const started: PortProxy[] = [];
  try {
    for (const b of bindings) {
      started.push(await startPortProxy({
        hostIp: b.hostIp, hostPort: b.hostPort, hostPortEnd: b.hostPortEnd, protocol: b.protocol,
        target: { ip: targetIp, port: b.containerPort }, ...opts,
      }));
    }
    return started;
  } catch (e) {
    await Promise.all(started.map((p) => p.close()));
    throw e;
  }
}
