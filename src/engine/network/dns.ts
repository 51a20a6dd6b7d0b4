// The embedded DNS server of a network: answers A queries for the names in its table (container names,
// service names, --network-alias), rotating the order of several addresses per query, and forwards other
// names to upstream resolvers with a timeout. One server per network, bound to the bridge gateway address,
// answering only clients from the network's subnet (allowFrom), so other networks cannot resolve its names.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import { GantryError, errnoCode } from '../../common/errors.js';
import { parseIPv4, parseSubnet, subnetContains, type Subnet } from './ipam.js';
import {
  CLASS_IN, DnsFormatError, RCODE_FORMERR, RCODE_NOERROR, RCODE_NOTIMP, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL,
  TYPE_A, TYPE_PTR, aRecord, decodeDnsMessage, emptyMessage, encodeDnsMessage, ptrRecord, responseTo, type DnsMessage, type DnsRecord,
} from './dns-message.js';

const TYPE_ANY = 255;

function normalize(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

/** Names → IPv4 addresses. Case-insensitive; "web" and "web." are the same name. */
export class DnsTable {
  private readonly records = new Map<string, string[]>();
  private readonly turns = new Map<string, number>();

  /** Replace the addresses of `name` (an empty list removes it). */
  set(name: string, addresses: readonly string[]): void {
    const key = normalize(name);
    const unique = [...new Set(addresses)];
    if (unique.length === 0) this.records.delete(key);
    else this.records.set(key, unique);
  }

  add(name: string, address: string): void {
    const key = normalize(name);
    const cur = this.records.get(key) ?? [];
    if (!cur.includes(address)) this.records.set(key, [...cur, address]);
  }

  /** Remove `address` from `name`, or the whole name when no address is given. */
  remove(name: string, address?: string): void {
    const key = normalize(name);
    if (address === undefined) {
      this.records.delete(key);
      return;
    }
    this.set(key, (this.records.get(key) ?? []).filter((a) => a !== address));
  }

  /** Remove an address from every name (a container left the network). */
  removeAddress(address: string): void {
    for (const [name, addrs] of [...this.records]) {
      if (addrs.includes(address)) this.set(name, addrs.filter((a) => a !== address));
    }
  }

  has(name: string): boolean {
    return this.records.has(normalize(name));
  }

  /** Addresses of `name`, rotated by one on every call; undefined when the name is unknown. */
  lookup(name: string): string[] | undefined {
    const key = normalize(name);
    const addrs = this.records.get(key);
    if (addrs === undefined) return undefined;
    const turn = this.turns.get(key) ?? 0;
    this.turns.set(key, (turn + 1) % addrs.length);
    const k = turn % addrs.length;
    return [...addrs.slice(k), ...addrs.slice(0, k)];
  }

  /** A name that maps to `address` (for PTR queries), the first one registered. */
  reverse(address: string): string | undefined {
    for (const [name, addrs] of this.records) if (addrs.includes(address)) return name;
    return undefined;
  }

  names(): string[] {
    return [...this.records.keys()].sort();
  }
}

export interface DnsUpstream {
  host: string;
  port: number;
}

/**
 * Nameservers of the host's resolv.conf, minus `exclude` (our own gateways, to avoid loops). When the host
 * uses a local stub (127.0.0.53), that is what we get, and the daemon (in the host netns) can reach it.
 */
export function readHostResolvers(path = '/etc/resolv.conf', exclude: readonly string[] = []): DnsUpstream[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: DnsUpstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = m?.[1]?.replace(/%.*$/, '');
    if (host === undefined || (!isIPv4(host) && !isIPv6(host)) || exclude.includes(host)) continue;
    out.push({ host, port: 53 });
  }
  return out;
}

export interface DnsServerOptions {
  /** Address to bind (the network's gateway; 127.0.0.1 in tests). */
  host: string;
  /** Default 53; 0 = random (tests). UDP and TCP use the same port. */
  port?: number;
  table: DnsTable;
  /** Where other names go; [] = answer SERVFAIL for them. */
  upstreams?: readonly DnsUpstream[];
  /** Per upstream, default 2000 ms. */
  timeoutMs?: number;
  /** Only answer clients inside this CIDR (the network's subnet); others get REFUSED. */
  allowFrom?: string;
  /** TTL of our answers, default 600 s. */
  ttl?: number;
  /** Per-client table (a container on several networks resolves the names of all of them); falls back to `table`. */
  tableFor?: (client: string) => DnsTable | undefined;
  /** Also serve DNS over TCP (for truncated answers); default true. */
  tcp?: boolean;
}

export interface DnsServer {
  readonly host: string;
  readonly port: number;
  readonly table: DnsTable;
  /** Replace the upstream list (e.g. after resolv.conf changed). */
  setUpstreams(upstreams: readonly DnsUpstream[]): void;
  close(): Promise<void>;
}

/** Ask the upstreams in turn; the raw reply of the first that answers in time, or undefined. */
async function forward(query: Buffer, id: number, upstreams: readonly DnsUpstream[], timeoutMs: number): Promise<Buffer | undefined> {
  for (const up of upstreams) {
    const reply = await new Promise<Buffer | undefined>((resolve) => {
      const sock = createSocket(isIPv6(up.host) ? 'udp6' : 'udp4');
      const finish = (b: Buffer | undefined): void => {
        clearTimeout(timer);
        sock.close();
        resolve(b);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      sock.on('error', () => finish(undefined));
      sock.on('message', (msg: Buffer, from: RemoteInfo) => {
        if (from.port !== up.port || msg.length < 12 || msg.readUInt16BE(0) !== id) return;
        finish(msg);
      });
      sock.send(query, up.port, up.host, (err) => {
        if (err) finish(undefined);
      });
    });
    if (reply !== undefined) return reply;
  }
  return undefined;
}

function reverseName(name: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(name);
  return m === null ? undefined : `${m[4]}.${m[3]}.${m[2]}.${m[1]}`;
}

interface Resolver {
  /** The reply to a raw query (undefined = stay silent). */
  answer(raw: Buffer, from: string, maxSize: number): Promise<Buffer | undefined>;
  upstreams: readonly DnsUpstream[];
}

function makeResolver(opts: DnsServerOptions): Resolver {
  const allow: Subnet | undefined = opts.allowFrom === undefined ? undefined : parseSubnet(opts.allowFrom, false);
  const ttl = opts.ttl ?? 600;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const r: Resolver = {
    upstreams: opts.upstreams ?? [],
    async answer(raw, from, maxSize) {
      let q: DnsMessage;
      try {
        q = decodeDnsMessage(raw);
      } catch (e) {
        if (!(e instanceof DnsFormatError) || raw.length < 12) return undefined;
        return encodeDnsMessage(emptyMessage({ id: raw.readUInt16BE(0), qr: true, rcode: RCODE_FORMERR }), maxSize);
      }
      if (q.qr) return undefined;
      const reply = (rcode: number, answers: DnsRecord[] = []): Buffer =>
        encodeDnsMessage(responseTo(q, rcode, answers), maxSize);
      if (allow !== undefined) {
        const ip = parseIPv4(from.replace(/^::ffff:/, ''));
        if (ip === undefined || !subnetContains(allow, ip)) return reply(RCODE_REFUSED);
      }
      if (q.opcode !== 0) return reply(RCODE_NOTIMP);
      const question = q.questions[0];
      if (q.questions.length !== 1 || question === undefined) return reply(RCODE_FORMERR);
      const name = normalize(question.name);
      const table = opts.tableFor?.(from.replace(/^::ffff:/, '')) ?? opts.table;
      if (question.class === CLASS_IN && table.has(name)) {
        if (question.type !== TYPE_A && question.type !== TYPE_ANY) return reply(RCODE_NOERROR); // AAAA etc: no data
        const addrs = table.lookup(name) ?? [];
        return reply(RCODE_NOERROR, addrs.map((a) => aRecord(question.name, a, ttl)));
      }
      if (question.class === CLASS_IN && question.type === TYPE_PTR) {
        const ip = reverseName(name);
        const target = ip === undefined ? undefined : table.reverse(ip);
        if (target !== undefined) return reply(RCODE_NOERROR, [ptrRecord(question.name, target, ttl)]);
      }
      if (!name.includes('.')) return reply(RCODE_NXDOMAIN); // bare names are ours or nobody's
      if (r.upstreams.length === 0) return reply(RCODE_SERVFAIL);
      const fwd = await forward(raw, q.id, r.upstreams, timeoutMs);
      if (fwd === undefined) return reply(RCODE_SERVFAIL);
      return fwd;
    },
  };
  return r;
}

function bindUdp(host: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    sock.once('error', (e) => {
      sock.close();
      reject(e);
    });
    sock.bind({ address: host, port }, () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function serveTcp(server: Server, resolver: Resolver): Set<Socket> {
  const conns = new Set<Socket>();
  server.on('connection', (sock: Socket) => {
    conns.add(sock);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        void resolver.answer(msg, sock.remoteAddress ?? '', 65535).then((out) => {
          if (out === undefined || sock.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length, 0);
          sock.write(Buffer.concat([head, out]));
        }, () => undefined);
      }
    });
  });
  server.on('error', () => undefined);
  return conns;
}

/** Start a DNS server. Errors: PORT_IN_USE when the address/port is taken. */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const resolver = makeResolver(opts);
  let udp: UdpSocket;
  try {
    udp = await bindUdp(opts.host, opts.port ?? 53);
  } catch (e) {
    throw bindFailure(e, opts.host, opts.port ?? 53, 'udp');
  }
  const port = udp.address().port;
  let tcp: Server | undefined;
  let conns = new Set<Socket>();
  if (opts.tcp !== false) {
    try {
      tcp = await listenTcp(opts.host, port);
    } catch (e) {
      udp.close();
      throw bindFailure(e, opts.host, port, 'tcp');
    }
    conns = serveTcp(tcp, resolver);
  }
  udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    void resolver.answer(msg, rinfo.address, 512).then((out) => {
      if (out !== undefined) udp.send(out, rinfo.port, rinfo.address, () => undefined);
    }, () => undefined); // a reply we could not build: the client retries or times out
  });
  udp.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  return {
    host: opts.host, port, table: opts.table,
    setUpstreams(upstreams) {
      resolver.upstreams = [...upstreams];
    },
    close: () => (closing ??= new Promise<void>((resolve) => {
      let waiting = tcp === undefined ? 1 : 2;
      const done = (): void => {
        if (--waiting === 0) resolve();
      };
      udp.close(done);
      if (tcp !== undefined) {
        tcp.close(done);
        for (const c of conns) c.destroy();
      }
    })),
  };
}

function bindFailure(e: unknown, host: string, port: number, proto: string): GantryError {
  const where = `${host}:${port}/${proto}`;
  if (errnoCode(e) === 'EADDRINUSE') {
    return new GantryError('PORT_IN_USE', `DNS server cannot bind ${where}: already in use`, { cause: e, detail: { port: where } });
  }
  return new GantryError('SYSCALL_FAILED', `bind \`${where}\`: ${errnoCode(e) ?? String(e)}`, { cause: e });
}
