// Userland proxy for published ports, run inside the daemon: a TCP listener that pipes each connection to
// the container, and a UDP socket with one session socket per client. It needs no firewall rules, so the
// host's iptables are never touched; published ports are reachable on loopback and, when bound to all
// addresses, from other containers through their bridge gateway address.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';
import { GantryError, errnoCode } from '../../common/errors.js';
import { listenAddress, type PortBinding, type PortProtocol, type PublishedPort } from './ports.js';

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
}

export interface PortProxy extends PublishedPort {
  readonly target: ProxyTarget;
  /** Open TCP connections or UDP sessions. */
  activeCount(): number;
  /** Stop listening and cut every connection/session. Idempotent. */
  close(): Promise<void>;
}

function describe(hostIp: string, port: number | string, protocol: PortProtocol): string {
  const ip = listenAddress(hostIp);
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}/${protocol}`;
}

function bindError(e: unknown, hostIp: string, port: number | string, protocol: PortProtocol): GantryError {
  const where = describe(hostIp, port, protocol);
  switch (errnoCode(e)) {
    case 'EADDRINUSE':
      return new GantryError('PORT_IN_USE', `host port ${where} is already in use`, {
        cause: e, hint: 'stop what listens there or publish on another host port', detail: { port: where },
      });
    case 'EADDRNOTAVAIL':
      return new GantryError('INVALID_ARGUMENT', `cannot listen on ${where}: ${listenAddress(hostIp)} is not an address of this host`, { cause: e });
    case 'EACCES':
      return new GantryError('SYSCALL_FAILED', `bind \`${where}\`: EACCES`, { cause: e, hint: 'ports below 1024 need root' });
    default:
      return new GantryError('SYSCALL_FAILED', `bind \`${where}\`: ${errnoCode(e) ?? String(e)}`, { cause: e });
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

function startTcp(server: Server, hostIp: string, target: ProxyTarget): PortProxy {
  const sockets = new Set<Socket>();
  let pairs = 0;
  server.on('connection', (client: Socket) => {
    pairs++;
    const upstream = connect({ host: target.ip, port: target.port, allowHalfOpen: true });
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
  return {
    hostIp, hostPort, containerPort: target.port, protocol: 'tcp', target,
    activeCount: () => pairs,
    close: () => (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    })),
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
}

function startUdp(server: UdpSocket, hostIp: string, target: ProxyTarget, idleMs: number, maxSessions: number): PortProxy {
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
      const sock = createSocket({ type: isIPv6(target.ip) ? 'udp6' : 'udp4' });
      const created: UdpSession = { sock, timer: setTimeout(() => end(key), idleMs) };
      created.timer.unref();
      sock.on('message', (reply: Buffer, from: RemoteInfo) => {
        if (from.address !== target.ip || from.port !== target.port) return;
        touch(key, created);
        server.send(reply, client.port, client.address);
      });
      sock.on('error', () => end(key));
      sessions.set(key, created);
      s = created;
    } else {
      touch(key, s);
    }
    s.sock.send(msg, target.port, target.ip);
  });
  server.on('error', () => undefined);
  const hostPort = server.address().port;
  let closing: Promise<void> | undefined;
  return {
    hostIp, hostPort, containerPort: target.port, protocol: 'udp', target,
    activeCount: () => sessions.size,
    close: () => (closing ??= new Promise<void>((resolve) => {
      for (const key of [...sessions.keys()]) end(key);
      server.close(() => resolve());
    })),
  };
}

// ------------------------------------------------------------------ public

/** Listen on the host address/port and forward to the target. Errors: PORT_IN_USE naming `IP:PORT/proto`. */
export async function startPortProxy(opts: PortProxyOptions): Promise<PortProxy> {
  const host = listenAddress(opts.hostIp);
  const first = opts.hostPort;
  const last = opts.hostPortEnd ?? opts.hostPort;
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
  opts: { udpIdleMs?: number } = {},
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
