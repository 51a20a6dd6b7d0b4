// `gantry network create|ls|rm|inspect|connect|disconnect|prune` and `gantry port`.
import type { ContainerInspectInfo, NetworkInspectInfo } from 'dockerode';
import { GantryError, usageError } from '../../common/errors.js';
import { formatPublishedPorts, type PortProtocol, type PublishedPort } from '../../engine/network/ports.js';
import { bool, list, parseArgs, str } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson, table } from '../output.js';
import { formatPath } from './inspect.js';

const USAGE = 'gantry network create|ls|rm|inspect|connect|disconnect|prune';

function keyValues(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const i = it.indexOf('=');
    if (i === 0) throw usageError(`invalid ${what} "${it}"`, 'use KEY=VALUE');
    if (i < 0) out[it] = '';
    else out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

async function create(client: DaemonClient, args: string[]): Promise<number> {
  const p = parseArgs(args, [
    { name: 'subnet', kind: 'string' }, { name: 'gateway', kind: 'string' }, { name: 'internal', kind: 'bool' },
    { name: 'driver', short: 'd', kind: 'string' }, { name: 'label', kind: 'list' }, { name: 'opt', short: 'o', kind: 'list' },
    { name: 'attachable', kind: 'bool' },
  ]);
  const name = p.positionals[0];
  if (name === undefined || p.positionals.length !== 1) throw usageError('network create takes exactly one name', 'gantry network create [--subnet CIDR] [--gateway IP] [--internal] NAME');
  const subnet = str(p, 'subnet');
  const gateway = str(p, 'gateway');
  if (gateway !== undefined && subnet === undefined) throw usageError('--gateway needs --subnet', 'give the subnet the gateway belongs to');
  const res = await client.call<{ Id: string }>('POST', '/networks/create', { body: {
    Name: name, Driver: str(p, 'driver') ?? 'bridge', Internal: bool(p, 'internal'), Attachable: bool(p, 'attachable'),
    IPAM: { Driver: 'default', Config: subnet === undefined ? [] : [{ Subnet: subnet, ...(gateway === undefined ? {} : { Gateway: gateway }) }] },
    Labels: keyValues(list(p, 'label'), 'label'), Options: keyValues(list(p, 'opt'), 'option'),
  } });
  process.stdout.write(`${res.Id}\n`);
  return 0;
}

/** Repeated `--filter KEY=VALUE` as the API's filters object. */
function filterArgs(items: string[]): Record<string, string[]> {
  const filters: Record<string, string[]> = {};
  for (const f of items) {
    const i = f.indexOf('=');
    if (i <= 0) throw usageError(`invalid filter "${f}"`, 'use KEY=VALUE, e.g. --filter name=web');
    (filters[f.slice(0, i)] ??= []).push(f.slice(i + 1));
  }
  return filters;
}

async function ls(client: DaemonClient, args: string[]): Promise<number> {
  const p = parseArgs(args, [
    { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'filter', short: 'f', kind: 'list' }, { name: 'format', kind: 'string' },
    { name: 'no-trunc', kind: 'bool' },
  ]);
  const filters = filterArgs(list(p, 'filter'));
  const nets = await client.call<NetworkInspectInfo[]>('GET', '/networks', { query: { filters: JSON.stringify(filters) } });
  const id = (n: NetworkInspectInfo): string => (bool(p, 'no-trunc') ? n.Id : n.Id.slice(0, 12));
  if (bool(p, 'quiet')) {
    process.stdout.write(nets.map((n) => `${id(n)}\n`).join(''));
    return 0;
  }
  const format = str(p, 'format');
  if (format === 'json') {
    for (const n of nets) process.stdout.write(`${JSON.stringify({ ID: id(n), Name: n.Name, Driver: n.Driver, Scope: n.Scope, Internal: n.Internal })}\n`);
    return 0;
  }
  if (format !== undefined && format.includes('{{')) {
    // The fields of Docker's `network ls --format` template.
    for (const n of nets) {
      const labels = Object.entries(n.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      const row = { ID: id(n), Name: n.Name, Driver: n.Driver, Scope: n.Scope, IPv6: n.EnableIPv6, Internal: n.Internal, Labels: labels, CreatedAt: n.Created };
      process.stdout.write(`${formatPath(row, format)}\n`);
    }
    return 0;
  }
  if (format !== undefined && format !== 'table') throw usageError(`unsupported --format "${format}"`, 'use json, table or a template like {{.Name}}');
  process.stdout.write(table(['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], nets.map((n) => [id(n), n.Name, n.Driver, n.Scope])));
  return 0;
}

/** Reads one answer line from stdin; end of input counts as "no". */
async function confirm(question: string): Promise<boolean> {
  process.stdout.write(question);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const finish = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', finish);
      process.stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes('\n')) finish();
    };
    process.stdin.on('data', onData);
    process.stdin.once('end', finish);
  });
  return /^y(es)?$/i.test(answer.trim());
}

/** `gantry network prune [-f] [--filter label=K[=V]|label!=…|until=24h]`: Docker's prompt and output. */
async function prune(client: DaemonClient, args: string[]): Promise<number> {
  const p = parseArgs(args, [{ name: 'force', short: 'f', kind: 'bool' }, { name: 'filter', kind: 'list' }]);
  if (p.positionals.length > 0) throw usageError('network prune takes no arguments', 'gantry network prune [-f] [--filter KEY=VALUE]');
  const filters = filterArgs(list(p, 'filter'));
  const warning = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ';
  if (!bool(p, 'force') && !(await confirm(warning))) {
    process.stderr.write('network prune has been cancelled\n');
    return 1;
  }
  const res = await client.call<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', { query: { filters: JSON.stringify(filters) } });
  const names = res.NetworksDeleted ?? [];
  if (names.length > 0) process.stdout.write(`Deleted Networks:\n${names.map((n) => `${n}\n`).join('')}\n`);
  return 0;
}

async function each(names: string[], usage: string, fn: (name: string) => Promise<void>): Promise<number> {
  if (names.length === 0) throw usageError('requires at least 1 argument', usage);
  let status = 0;
  for (const n of names) {
    try {
      await fn(n);
    } catch (e) {
      process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
      if (e instanceof GantryError && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      status = 1;
    }
  }
  return status;
}

async function connectCmd(client: DaemonClient, args: string[], connect: boolean): Promise<number> {
  const p = parseArgs(args, connect
    ? [{ name: 'alias', kind: 'list' }, { name: 'ip', kind: 'string' }]
    : [{ name: 'force', short: 'f', kind: 'bool' }]);
  const [net, container, ...extra] = p.positionals;
  const verb = connect ? 'connect' : 'disconnect';
  if (net === undefined || container === undefined || extra.length > 0) {
    throw usageError(`network ${verb} takes a network and a container`, `gantry network ${verb}${connect ? ' [--alias NAME] [--ip ADDRESS]' : ''} NETWORK CONTAINER`);
  }
  const ip = str(p, 'ip');
  const body = connect
    ? { Container: container, EndpointConfig: { Aliases: list(p, 'alias'), ...(ip === undefined ? {} : { IPAMConfig: { IPv4Address: ip } }) } }
    : { Container: container, Force: bool(p, 'force') };
  await client.call('POST', `/networks/${encodeURIComponent(net)}/${verb}`, { body });
  return 0;
}

/** `gantry port CONTAINER [PRIVATE_PORT[/PROTO]]`, Docker's output. */
async function port(client: DaemonClient, args: string[]): Promise<number> {
  const [ref, which, ...extra] = args;
  if (ref === undefined || extra.length > 0) throw usageError('port takes a container and optionally a port', 'gantry port CONTAINER [PRIVATE_PORT[/PROTO]]');
  let want: { port: number; protocol: PortProtocol } | undefined;
  if (which !== undefined) {
    const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(which);
    if (m === null || Number(m[1]) < 1 || Number(m[1]) > 65535) throw usageError(`invalid port "${which}"`, 'give PORT or PORT/tcp or PORT/udp');
    want = { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as PortProtocol };
  }
  const info = await client.call<ContainerInspectInfo>('GET', `/containers/${encodeURIComponent(ref)}/json`);
  const ports: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
    const [p, proto] = key.split('/');
    for (const b of (bindings as { HostIp: string; HostPort: string }[] | null) ?? []) {
      ports.push({ hostIp: b.HostIp, hostPort: Number(b.HostPort), containerPort: Number(p), protocol: (proto ?? 'tcp') as PortProtocol });
    }
  }
  if (want === undefined) {
    process.stdout.write(formatPublishedPorts(ports).map((l) => `${l}\n`).join(''));
    return 0;
  }
  const match = ports.filter((x) => x.containerPort === want.port && x.protocol === want.protocol);
  if (match.length === 0) {
    throw new GantryError('NOT_FOUND', `no public port '${want.port}/${want.protocol}' published for ${ref}`, { hint: 'publish it with -p when creating the container' });
  }
  process.stdout.write(formatPublishedPorts(match).map((l) => `${l.slice(l.indexOf(' -> ') + 4)}\n`).join(''));
  return 0;
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  if (cmd === 'port') return port(await connectDaemon(g.host), args);
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === 'help') throw usageError('network needs a command', USAGE);
  const known = ['create', 'ls', 'list', 'rm', 'remove', 'inspect', 'connect', 'disconnect', 'prune'];
  if (!known.includes(verb)) throw usageError(`unknown network command "${verb}"`, USAGE);
  const client = await connectDaemon(g.host);
  switch (verb) {
    case 'create': return create(client, rest);
    case 'ls': case 'list': return ls(client, rest);
    case 'rm': case 'remove':
      return each(parseArgs(rest, []).positionals, 'gantry network rm NETWORK...', async (n) => {
        await client.call('DELETE', `/networks/${encodeURIComponent(n)}`);
        process.stdout.write(`${n}\n`);
      });
    case 'inspect': {
      const p = parseArgs(rest, [{ name: 'format', short: 'f', kind: 'string' }]);
      if (p.positionals.length === 0) throw usageError('network inspect needs at least one network', 'gantry network inspect [-f FORMAT] NETWORK...');
      const out: unknown[] = [];
      const status = await each(p.positionals, 'gantry network inspect NETWORK...', async (n) => {
        out.push(await client.call('GET', `/networks/${encodeURIComponent(n)}`));
      });
      const format = str(p, 'format');
      if (format === undefined || format === 'json') printJson(out);
      else for (const o of out) process.stdout.write(`${formatPath(o, format)}\n`);
      return status;
    }
    case 'prune': return prune(client, rest);
    case 'connect': return connectCmd(client, rest, true);
    default: return connectCmd(client, rest, false);
  }
}
