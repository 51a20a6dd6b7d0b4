// The fast path of published TCP ports for clients on this host: DNAT in the output hook, in a table of our own
// (`ip gantry_<linkprefix>`; no other table, chain or host setting is touched), so a local connection to a
// published port goes straight to the container, with no process in between. Two maps hold the bindings:
// `host_ports` (listen address . port → container address . port) and `any_ports` (port → …, bindings on all
// addresses, matched for any local destination address). What the output hook cannot serve — clients on other
// hosts or in containers (their packets would need forwarding, which stays off), IPv6, UDP — is served by the
// listening proxy, which always runs too (it also holds the port, so nothing else can bind it).
// A client on 127.0.0.1 has a loopback source address: the kernel routes it out of a bridge only with
// route_localnet=1 on that bridge (written per bridge, never `all`/`default`), and the container could not answer
// it, so it is masqueraded to the bridge's address there. With route_localnet on, a container could send packets
// to 127.0.0.0/8 through its bridge: the raw prerouting chain drops them (the CVE-2020-8558 lesson).
// Rules live in the kernel: they outlive the daemon, and a daemon that starts rewrites the whole table from the
// records in one transaction (elements of containers that are gone vanish; open connections keep their conntrack).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { GantryError } from '../../common/errors.js';
import type { PortProxy } from './port-proxy.js';

export interface DnatEntry {
  /** '' = all local addresses. */
  hostIp: string;
  hostPort: number;
  ip: string;
  port: number;
}

/** Only IPv4 TCP bindings get a DNAT element (the proxy serves the rest). */
export function dnatApplies(protocol: string, hostIp: string, targetIp: string): boolean {
  return protocol === 'tcp' && (hostIp === '' || hostIp === '0.0.0.0' || isIPv4(hostIp)) && isIPv4(targetIp);
}

export function dnatTableName(linkPrefix: string): string {
  return `gantry_${linkPrefix}`;
}

function key(e: { hostIp: string; hostPort: number }): string {
  return e.hostIp === '' || e.hostIp === '0.0.0.0' ? `${e.hostPort}` : `${e.hostIp} . ${e.hostPort}`;
}

function mapOf(e: { hostIp: string }): string {
  return e.hostIp === '' || e.hostIp === '0.0.0.0' ? 'any_ports' : 'host_ports';
}

function element(e: DnatEntry): string {
  return `${key(e)} : ${e.ip} . ${e.port}`;
}

/** The whole table, replacing whatever is there in one transaction. Pure: asserted as text in unit tests. */
export function dnatTableScript(table: string, ifPrefix: string, entries: readonly DnatEntry[]): string {
  const elements = (map: string): string => {
    const list = entries.filter((e) => mapOf(e) === map).map(element);
    return list.length === 0 ? '' : ` elements = { ${list.join(', ')} };`;
  };
  return [
    `table ip ${table} {}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  map host_ports { type ipv4_addr . inet_service : ipv4_addr . inet_service;${elements('host_ports')} }`,
    `  map any_ports { type inet_service : ipv4_addr . inet_service;${elements('any_ports')} }`,
    '  chain output { type nat hook output priority -100; policy accept;',
    '    fib daddr type local dnat ip to ip daddr . tcp dport map @host_ports',
    '    fib daddr type local dnat ip to tcp dport map @any_ports',
    '  }',
    '  chain postrouting { type nat hook postrouting priority 100; policy accept;',
    `    oifname "${ifPrefix}*" ip saddr 127.0.0.0/8 masquerade`,
    '  }',
    '  chain prerouting { type filter hook prerouting priority -300; policy accept;',
    `    iifname "${ifPrefix}*" ip daddr 127.0.0.0/8 drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function nft(script: string): { ok: boolean; error: string } {
  const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) return { ok: false, error: r.error.message };
  return { ok: r.status === 0, error: (r.stderr ?? '').trim().split('\n')[0] ?? '' };
}

/** The same without blocking the daemon's event loop (an `nft` run costs 3-8 ms here). */
function nftAsync(script: string): Promise<{ ok: boolean; error: string }> {
  return new Promise((resolve) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (err.length < 4096) err += d; });
    child.once('error', (e) => resolve({ ok: false, error: e.message }));
    child.once('close', (code) => resolve({ ok: code === 0, error: err.trim().split('\n')[0] ?? '' }));
    child.stdin.end(script);
  });
}

function setRouteLocalnet(bridge: string, value: '0' | '1'): void {
  const path = `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`;
  try {
    if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
  } catch (e) {
    throw new GantryError('SYSCALL_FAILED', `write \`${path}\`: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Changes are applied in order, one `nft` run at a time, off the event loop. They never fail to the caller: the
 * proxy serves the port meanwhile or instead, and a failure is logged.
 */
export class PortDnat {
  private readonly entries = new Map<string, DnatEntry>();
  private queue: Promise<void> = Promise.resolve();

  private constructor(private readonly table: string, private readonly ifPrefix: string, private readonly log: (msg: string) => void) {}

  /** The DNAT path, or a reason it is not available (nft missing, or the kernel refuses the table). */
  static open(linkPrefix: string, entries: readonly DnatEntry[], log: (msg: string) => void = () => undefined): PortDnat | string {
    const d = new PortDnat(dnatTableName(linkPrefix), linkPrefix, log);
    for (const e of entries) d.entries.set(`${mapOf(e)}|${key(e)}`, e);
    const r = nft(dnatTableScript(d.table, d.ifPrefix, [...d.entries.values()]));
    return r.ok ? d : r.error || 'nft failed';
  }

  /** A bridge of ours: loopback-sourced packets may leave through it (only it; see the top of this file). */
  static allowLoopbackOut(bridge: string): void {
    setRouteLocalnet(bridge, '1');
  }

  /** DNAT off: a bridge an earlier run opened is closed again (its drop rule went with the table). */
  static denyLoopbackOut(bridge: string): void {
    setRouteLocalnet(bridge, '0');
  }

  /** Adds or replaces the element of a binding; resolves once the kernel has it (or the failure is logged). */
  set(e: DnatEntry): Promise<void> {
    const id = `${mapOf(e)}|${key(e)}`;
    const old = this.entries.get(id);
    this.entries.set(id, e);
    const script = old === undefined
      ? `add element ip ${this.table} ${mapOf(e)} { ${element(e)} }\n`
      : `delete element ip ${this.table} ${mapOf(e)} { ${key(e)} }\nadd element ip ${this.table} ${mapOf(e)} { ${element(e)} }\n`;
    return this.apply(script);
  }

  remove(e: { hostIp: string; hostPort: number }): Promise<void> {
    const id = `${mapOf(e)}|${key(e)}`;
    if (!this.entries.delete(id)) return this.queue;
    return this.apply(`delete element ip ${this.table} ${mapOf(e)} { ${key(e)} }\n`);
  }

  /** Resolves once every change queued so far has been applied (or its failure logged). */
  settled(): Promise<void> {
    return this.queue;
  }

  /** One change; when the kernel's table is not what we think (someone flushed it), the whole table is rewritten. */
  private apply(script: string): Promise<void> {
    this.queue = this.queue.then(async () => {
      if ((await nftAsync(script)).ok) return;
      const r = await nftAsync(dnatTableScript(this.table, this.ifPrefix, [...this.entries.values()]));
      if (!r.ok) this.log(`nft table ip ${this.table}: ${r.error} (published ports go through their proxies; GANTRY_PORT_DNAT=0 turns DNAT off)`);
    });
    return this.queue;
  }

  /** Bindings in the table now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The table goes. A daemon that stops leaves it while anything of it is left (containers outlive the daemon, and
   * so do their published ports' rules and the loopback drop of its bridges); tests drop it after their daemons.
   */
  static drop(linkPrefix: string): void {
    spawnSync('nft', ['delete', 'table', 'ip', dnatTableName(linkPrefix)], { stdio: 'ignore' });
  }
}

/**
 * Open connections DNATed to `ip:port` (the conntrack table: reply source = the container), TIME_WAIT and CLOSE
 * excluded. Read only while a hand-over drains.
 */
export function dnatConnectionsTo(ip: string, port: number, conntrack = '/proc/net/nf_conntrack'): number {
  let text: string;
  try {
    text = readFileSync(conntrack, 'utf8');
  } catch {
    return 0;
  }
  const reply = ` src=${ip} `;
  const sport = ` sport=${port} `;
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('ipv4') || !line.includes(' tcp ') || !line.includes(reply)) continue;
    if (/ (TIME_WAIT|CLOSE) /.test(line)) continue;
    // the first src=… tuple is the original direction, the second the reply; DNATed: the original went elsewhere
    const second = line.indexOf(' src=', line.indexOf(' src=') + 1);
    if (second < 0) continue;
    const tail = line.slice(second);
    if (tail.startsWith(reply) && tail.includes(sport) && !line.slice(0, second).includes(` dst=${ip} `)) n++;
  }
  return n;
}

/** A published port served by both paths: DNAT for local clients, the proxy for the rest (and to hold the port). */
export function withDnat(proxy: PortProxy, dnat: PortDnat, opts: { inTable?: boolean } = {}): PortProxy {
  if (!dnatApplies(proxy.protocol, proxy.hostIp, proxy.target.ip)) return proxy;
  const entry = (ip: string): DnatEntry => ({ hostIp: proxy.hostIp, hostPort: proxy.hostPort, ip, port: proxy.containerPort });
  // not awaited: the proxy serves the port until the element is in
  if (opts.inTable !== true) void dnat.set(entry(proxy.target.ip));
  let removed: Promise<void> | undefined;
  const remove = (): Promise<void> => (removed ??= dnat.remove(entry(proxy.target.ip)));
  return {
    hostIp: proxy.hostIp, hostPort: proxy.hostPort, containerPort: proxy.containerPort, protocol: proxy.protocol,
    outlivesDaemon: proxy.outlivesDaemon,
    get target() { return proxy.target; },
    activeCount: async () => await proxy.activeCount() + dnatConnectionsTo(proxy.target.ip, proxy.containerPort),
    activeTo: async (ip) => await proxy.activeTo(ip) + dnatConnectionsTo(ip, proxy.containerPort),
    retarget: async (ip) => {
      await proxy.retarget(ip);
      await dnat.set(entry(ip));
    },
    release: async () => {
      if (!proxy.outlivesDaemon) await remove(); // the in-daemon proxy goes: its port may be taken by someone else
      await proxy.release();
    },
    close: async () => {
      await remove();
      await proxy.close();
    },
  };
}
