// Container commands: run, create, start, stop, restart, kill, rm, wait, pause, unpause, ps, logs, exec, top, stats.
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Socket } from 'node:net';
import type { ContainerCreateOptions, ContainerInfo } from 'dockerode';
import { GantryError, errnoCode, usageError } from '../../common/errors.js';
import { PS_VIEW, PS_VIEW_PARAM, type PsEntry } from '../../common/ps-view.js';
import { compactJson, seccompOptionValue, seccompValueIsInline } from '../../common/seccomp-option.js';
import { SECCOMP_PROFILE_MAX_BYTES } from '../../engine/seccomp/profile.js';
import { parseCpus, parseDurationNs, parseMemorySize, parseSignal, formatAgo, formatBytes } from '../../common/units.js';
import { parseRestartPolicy } from '../../engine/containers/restart-policy.js';
import { parsePortSpecs } from '../../engine/network/ports.js';
import { bool, list, parseArgs, str, type FlagSpec, type Parsed } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson, table } from '../output.js';

/** `seccomp=FILE.json`: the CLI reads the file and sends its JSON, as docker's does (the daemon may be elsewhere). */
function readSeccompProfileOption(opt: string): string {
  const value = seccompOptionValue(opt);
  if (value === undefined || seccompValueIsInline(value)) return opt;
  let text: string;
  try {
    const st = statSync(value);
    if (!st.isFile()) throw usageError(`--security-opt seccomp=${value}: not a regular file`, 'give the path of a JSON seccomp profile');
    if (st.size > SECCOMP_PROFILE_MAX_BYTES) throw usageError(`--security-opt seccomp=${value}: larger than ${SECCOMP_PROFILE_MAX_BYTES >> 10} KiB`, 'a seccomp profile is a small JSON file; check the path');
    text = readFileSync(value, 'utf8');
  } catch (err) {
    if (err instanceof GantryError) throw err;
    throw usageError(`--security-opt seccomp=${value}: cannot read the profile: ${errnoCode(err) ?? String(err)}`, 'give the path of a JSON seccomp profile, or seccomp=unconfined');
  }
  return `seccomp=${compactJson(text)}`;
}

export const CREATE_FLAGS: FlagSpec[] = [
  { name: 'detach', short: 'd', kind: 'bool' }, { name: 'rm', kind: 'bool' }, { name: 'name', kind: 'string' },
  { name: 'env', short: 'e', kind: 'list' }, { name: 'env-file', kind: 'list' }, { name: 'volume', short: 'v', kind: 'list' },
  { name: 'tmpfs', kind: 'list' }, { name: 'workdir', short: 'w', kind: 'string' }, { name: 'user', short: 'u', kind: 'string' },
  { name: 'hostname', short: 'h', kind: 'string' }, { name: 'memory', short: 'm', kind: 'string' },
  { name: 'memory-swap', kind: 'string' }, { name: 'cpus', kind: 'string' }, { name: 'cpu-shares', short: 'c', kind: 'string' },
  { name: 'pids-limit', kind: 'string' }, { name: 'network', kind: 'list', aliases: ['net'] },
  { name: 'network-alias', kind: 'list' }, { name: 'ip', kind: 'string' },
  { name: 'publish', short: 'p', kind: 'list' }, { name: 'publish-all', short: 'P', kind: 'bool' }, { name: 'expose', kind: 'list' },
  { name: 'interactive', short: 'i', kind: 'bool' }, { name: 'tty', short: 't', kind: 'bool' },
  { name: 'restart', kind: 'string' }, { name: 'read-only', kind: 'bool' }, { name: 'init', kind: 'bool' },
  { name: 'cap-add', kind: 'list' }, { name: 'cap-drop', kind: 'list' }, { name: 'entrypoint', kind: 'string' },
  { name: 'label', short: 'l', kind: 'list' }, { name: 'ulimit', kind: 'list' }, { name: 'sysctl', kind: 'list' },
  { name: 'add-host', kind: 'list' }, { name: 'dns', kind: 'list' }, { name: 'dns-search', kind: 'list' },
  { name: 'stop-signal', kind: 'string' }, { name: 'stop-timeout', kind: 'string' }, { name: 'privileged', kind: 'bool' },
  { name: 'shm-size', kind: 'string' }, { name: 'oom-score-adj', kind: 'string' },
  { name: 'health-cmd', kind: 'string' }, { name: 'health-interval', kind: 'string' }, { name: 'health-timeout', kind: 'string' },
  { name: 'health-retries', kind: 'string' }, { name: 'health-start-period', kind: 'string' }, { name: 'health-start-interval', kind: 'string' },
  { name: 'no-healthcheck', kind: 'bool' },
  { name: 'log-driver', kind: 'string' }, { name: 'log-opt', kind: 'list' }, { name: 'help', kind: 'bool' },
  { name: 'device', kind: 'list' }, { name: 'security-opt', kind: 'list' },
];

const RUN_HELP = `Usage: gantry run|create [OPTIONS] IMAGE [COMMAND] [ARG...]

  -d, --detach                 run in the background and print the container id (run)
      --rm                     remove the container when it exits
      --name NAME              container name
  -i, --interactive            keep stdin open;  -t, --tty  allocate a pseudo-TTY
  -e, --env K=V, --env-file F  environment
  -v, --volume SRC:DST[:ro]    bind mount or named volume;  --tmpfs DST[:OPTS]
  -w, --workdir DIR   -u, --user USER[:GROUP]   -h, --hostname NAME   --entrypoint CMD
  -l, --label K=V     --init   --read-only   --privileged   --cap-add CAP   --cap-drop CAP
  -m, --memory SIZE   --memory-swap SIZE   --cpus N   -c, --cpu-shares N   --pids-limit N   --shm-size SIZE
      --ulimit NAME=SOFT[:HARD]   --sysctl K=V   --oom-score-adj N
      --network NET   --network-alias NAME   --ip ADDR   --add-host HOST:IP   --dns IP   --dns-search DOMAIN
  -p, --publish [IP:][HOST:]CTR[/udp]   -P, --publish-all   --expose PORT
      --restart no|always|on-failure[:N]|unless-stopped   --stop-signal SIG   --stop-timeout SECONDS
      --health-cmd CMD   --health-interval D   --health-timeout D   --health-retries N   --health-start-period D
      --no-healthcheck
      --device HOST[:CONTAINER][:PERMS]  give the container a host device node (PERMS: some of rwm, default rwm)
      --security-opt no-new-privileges   processes cannot gain privileges (setuid, file capabilities)
      --security-opt seccomp=unconfined|FILE.json   no seccomp filter, or a profile in Docker's format instead of
                                         the default (Docker's; --privileged runs unconfined)
      --log-driver json-file|none   where output goes: json-file (default; read by \`gantry logs\`) or none
      --log-opt K=V                json-file options, repeatable, as in Docker:
                                     max-size=SIZE  rotate before the log exceeds SIZE (10k, 10m, 1g; 1m = 1000000 bytes)
                                     max-file=N     files kept when rotating (default 1; needs max-size)
                                     labels=, labels-regex=, env=, env-regex=, tag=  attributes added to each line
                                     compress=true is refused (rotated files stay uncompressed)
`;

function parseKeyValues(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const i = it.indexOf('=');
    if (i <= 0) throw usageError(`invalid ${what} "${it}"`, `use KEY=VALUE`);
    out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

/** docker's --env-file: KEY=VALUE lines, `#` comments, a bare KEY takes the value from this environment. */
function readEnvFile(path: string): string[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { throw usageError(`cannot read env file ${path}`, 'check the path given to --env-file'); }
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#')).flatMap((l) => {
    if (l.includes('=')) return [l.trimStart()];
    const v = process.env[l.trim()];
    return v === undefined ? [] : [`${l.trim()}=${v}`];
  });
}

/** Docker's --device form: HOST[:CONTAINER][:PERMS]; a lone second part that reads as permissions is permissions. */
export function parseDeviceFlag(s: string): { PathOnHost: string; PathInContainer: string; CgroupPermissions: string } {
  const parts = s.split(':');
  if (parts.length > 3 || parts[0] === '') {
    throw usageError(`invalid device specification: ${s}`, 'use --device HOST_PATH[:CONTAINER_PATH][:PERMISSIONS], e.g. --device /dev/fuse');
  }
  const isPerms = (v: string): boolean => /^[rwm]{1,3}$/.test(v);
  let container = parts[1] ?? '';
  let perms = parts[2] ?? 'rwm';
  if (parts.length === 2 && isPerms(container)) { perms = container; container = ''; }
  return { PathOnHost: parts[0]!, PathInContainer: container || parts[0]!, CgroupPermissions: perms };
}

function parseUlimit(s: string): { Name: string; Soft: number; Hard: number } {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s);
  if (!m) throw usageError(`invalid ulimit "${s}"`, 'use NAME=SOFT[:HARD], e.g. --ulimit nofile=1024:2048');
  return { Name: m[1]!, Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
}

function durationNs(p: Parsed, flag: string): number | undefined {
  const text = str(p, flag);
  return text === undefined ? undefined : parseDurationNs(text, `--${flag}`);
}

/** Turns `run`/`create` flags into a Docker Engine API create body. Validates what the daemon cannot see. */
export function buildCreateBody(p: Parsed): { name?: string | undefined; body: ContainerCreateOptions } {
  const [image, ...cmd] = p.positionals;
  if (!image) throw usageError('an image is required', 'gantry run [OPTIONS] IMAGE [COMMAND] [ARG...]');
  const env = [...list(p, 'env-file').flatMap(readEnvFile), ...list(p, 'env').map((e) => {
    if (e.includes('=')) return e;
    const v = process.env[e];
    return v === undefined ? '' : `${e}=${v}`;
  }).filter(Boolean)];
  const restartText = str(p, 'restart');
  const restart = restartText === undefined ? undefined : parseRestartPolicy(restartText);
  if (restartText !== undefined && !restart) throw usageError(`invalid restart policy "${restartText}"`, 'use no, always, on-failure[:N] or unless-stopped');
  const memoryText = str(p, 'memory');
  const memory = memoryText === undefined ? undefined : parseMemorySize(memoryText, 'memory size');
  const swapText = str(p, 'memory-swap');
  const memorySwap = swapText === undefined ? undefined : swapText === '-1' ? -1 : parseMemorySize(swapText, 'memory-swap size');
  const cpus = str(p, 'cpus');
  const pids = str(p, 'pids-limit');
  if (pids !== undefined && !/^-?\d+$/.test(pids)) throw usageError(`invalid --pids-limit "${pids}"`, 'give a whole number');
  const tmpfs: Record<string, string> = {};
  for (const t of list(p, 'tmpfs')) {
    const i = t.indexOf(':');
    tmpfs[i < 0 ? t : t.slice(0, i)] = i < 0 ? '' : t.slice(i + 1);
  }
  const binds: string[] = [];
  const anonymous: Record<string, object> = {};
  for (const v of list(p, 'volume')) {
    const parts = v.split(':');
    if (parts.length === 1) { anonymous[v] = {}; continue; }
    // A relative host path is a volume name in docker; ./x or ../x are paths: resolve them.
    const src = parts[0]!.startsWith('.') ? resolvePath(parts[0]!) : parts[0]!;
    binds.push([src, ...parts.slice(1)].join(':'));
  }
  const portBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  const exposed: Record<string, object> = {};
  // -p [IP:][HOST[-HOST]:]CTR[-CTR][/tcp|udp] (ranges, random host ports), parsed by the engine's port module.
  for (const b of parsePortSpecs(list(p, 'publish'))) {
    const key = `${b.containerPort}/${b.protocol}`;
    const hostPort = b.hostPort === 0 ? '' : b.hostPortEnd === undefined ? String(b.hostPort) : `${b.hostPort}-${b.hostPortEnd}`;
    (portBindings[key] ??= []).push({ HostIp: b.hostIp, HostPort: hostPort });
    exposed[key] = {};
  }
  for (const e of list(p, 'expose')) exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  // --ip/--network-alias without --network apply to the default network (where the daemon refuses them clearly).
  const networks = list(p, 'network').length > 0 || (str(p, 'ip') === undefined && list(p, 'network-alias').length === 0) ? list(p, 'network') : ['bridge'];
  const networkMode = networks[0];
  const entrypoint = str(p, 'entrypoint');
  const healthCmd = str(p, 'health-cmd');
  const stopTimeout = str(p, 'stop-timeout');
  const shm = str(p, 'shm-size');
  const signal = str(p, 'stop-signal');
  if (signal !== undefined) parseSignal(signal);
  const logDriver = str(p, 'log-driver');
  const logOpts = list(p, 'log-opt');
  const body: ContainerCreateOptions = {
    Image: image, Cmd: cmd.length > 0 ? cmd : undefined, Env: env,
    Entrypoint: entrypoint === undefined ? undefined : entrypoint === '' ? [] : [entrypoint],
    WorkingDir: str(p, 'workdir'), User: str(p, 'user'), Hostname: str(p, 'hostname'),
    Tty: bool(p, 'tty'), OpenStdin: bool(p, 'interactive'), StdinOnce: bool(p, 'interactive') && !bool(p, 'detach'),
    AttachStdin: bool(p, 'interactive'), AttachStdout: !bool(p, 'detach'), AttachStderr: !bool(p, 'detach'),
    Labels: parseKeyValues(list(p, 'label'), 'label'), StopSignal: signal,
    StopTimeout: stopTimeout === undefined ? undefined : Number(stopTimeout), ExposedPorts: exposed, Volumes: anonymous,
    Healthcheck: bool(p, 'no-healthcheck') ? { Test: ['NONE'] } : healthCmd === undefined ? undefined : {
      Test: ['CMD-SHELL', healthCmd], Interval: durationNs(p, 'health-interval'), Timeout: durationNs(p, 'health-timeout'),
      StartPeriod: durationNs(p, 'health-start-period'), StartInterval: durationNs(p, 'health-start-interval'),
      Retries: str(p, 'health-retries') === undefined ? undefined : Number(str(p, 'health-retries')),
    },
    HostConfig: {
      ...consoleSize(bool(p, 'tty')),
      AutoRemove: bool(p, 'rm'), Binds: binds, Tmpfs: tmpfs, Memory: memory, MemorySwap: memorySwap,
      NanoCpus: cpus === undefined ? undefined : Math.round(parseCpus(cpus) * 1e9),
      CpuShares: str(p, 'cpu-shares') === undefined ? undefined : Number(str(p, 'cpu-shares')),
      PidsLimit: pids === undefined ? undefined : Number(pids), NetworkMode: networkMode,
      PortBindings: portBindings, PublishAllPorts: bool(p, 'publish-all'),
      RestartPolicy: restart ? { Name: restart.name, MaximumRetryCount: restart.maximumRetryCount } : undefined,
      ReadonlyRootfs: bool(p, 'read-only'), Init: bool(p, 'init'), CapAdd: list(p, 'cap-add'), CapDrop: list(p, 'cap-drop'),
      Ulimits: list(p, 'ulimit').map(parseUlimit), Sysctls: parseKeyValues(list(p, 'sysctl'), 'sysctl'),
      ExtraHosts: list(p, 'add-host'), Dns: list(p, 'dns'), DnsSearch: list(p, 'dns-search'), Privileged: bool(p, 'privileged'),
      Devices: list(p, 'device').map(parseDeviceFlag), SecurityOpt: list(p, 'security-opt').map(readSeccompProfileOption),
      ShmSize: shm === undefined ? undefined : parseMemorySize(shm, 'shm size'),
      OomScoreAdj: str(p, 'oom-score-adj') === undefined ? undefined : Number(str(p, 'oom-score-adj')),
      // Type "" = the daemon's default driver (json-file), as docker sends it when only --log-opt is given.
      LogConfig: logDriver === undefined && logOpts.length === 0 ? undefined : { Type: logDriver ?? '', Config: parseKeyValues(logOpts, 'log option') },
    },
    NetworkingConfig: networks.length === 0 ? undefined : {
      EndpointsConfig: Object.fromEntries(networks.filter((n) => !['none', 'host'].includes(n) && !n.startsWith('container:')).map((n, i) => [n, {
        Aliases: i === 0 ? list(p, 'network-alias') : [], ...(i === 0 && str(p, 'ip') ? { IPAMConfig: { IPv4Address: str(p, 'ip') } } : {}),
      }])),
    },
  };
  return { name: str(p, 'name'), body };
}

// ---- streaming helpers ------------------------------------------------------------------------------------

/** Writes Docker-multiplexed frames to stdout/stderr. */
export function demuxTo(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4);
      if (buf.length < 8 + len) break;
      (buf[0] === 2 ? stderr : stdout).write(buf.subarray(8, 8 + len));
      buf = buf.subarray(8 + len);
    }
  };
}

interface AttachSession { done: Promise<void> }

function pipeAttach(sock: Socket, tty: boolean, stdin: boolean): AttachSession {
  const done = new Promise<void>((resolve) => {
    sock.on('end', resolve);
    sock.on('close', resolve);
    sock.on('error', resolve);
  });
  if (tty) sock.on('data', (c: Buffer) => process.stdout.write(c));
  else sock.on('data', demuxTo(process.stdout, process.stderr));
  sock.resume();
  if (stdin) {
    if (tty && process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.on('data', (c: Buffer) => sock.write(c));
    process.stdin.on('end', () => { if (!tty) sock.end(); });
  }
  return { done };
}

/** Like docker: with a tty, the terminal's size goes with the create, so the container's pty has it from the start. */
function consoleSize(tty: boolean): { ConsoleSize?: [number, number] } {
  return tty && process.stdout.isTTY && process.stdout.rows > 0 && process.stdout.columns > 0 ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {};
}

function trackResize(client: DaemonClient, path: string): void {
  if (!process.stdout.isTTY) return;
  const send = (): void => { void client.call('POST', path, { query: { h: process.stdout.rows, w: process.stdout.columns } }).catch(() => undefined); };
  send();
  process.stdout.on('resize', send);
}

/** Registers a wait with the daemon; `exit` settles when the container meets the condition. */
async function waitFor(client: DaemonClient, id: string, condition: string): Promise<{ exit: Promise<number> }> {
  const res = await client.stream('POST', `/containers/${id}/wait`, { query: { condition } });
  // Wrapped in an object: an async function returning a bare promise would wait for it.
  return { exit: (async () => {
    const chunks: Buffer[] = [];
    for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { StatusCode?: number };
    return body.StatusCode ?? 1;
  })() };
}

// ---- commands ---------------------------------------------------------------------------------------------

async function runCommand(client: DaemonClient, args: string[], createOnly: boolean): Promise<number> {
  const p = parseArgs(args, CREATE_FLAGS, { stopAfterPositionals: 1 });
  const { name, body } = buildCreateBody(p);
  const created = await client.call<{ Id: string }>('POST', '/containers/create', { query: { name }, body });
  const id = created.Id;
  if (createOnly) { process.stdout.write(`${id}\n`); return 0; }
  const detach = bool(p, 'detach');
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  if (detach) {
    try {
      await client.call('POST', `/containers/${id}/start`);
    } catch (e) {
      if (bool(p, 'rm')) await client.call('DELETE', `/containers/${id}`, { query: { force: true, v: true } }).catch(() => undefined);
      throw e;
    }
    process.stdout.write(`${id}\n`);
    return 0;
  }
  // attached and waited on before the start (nothing printed or the exit is missed), both at once: one round trip less
  const [sock, { exit }] = await Promise.all([
    client.hijack(`/containers/${id}/attach`, { query: { stream: true, stdin: interactive, stdout: true, stderr: true } }),
    waitFor(client, id, bool(p, 'rm') ? 'removed' : 'next-exit'),
  ]);
  const session = pipeAttach(sock, tty, interactive);
  try {
    await client.call('POST', `/containers/${id}/start`);
  } catch (e) {
    sock.destroy();
    if (bool(p, 'rm')) await client.call('DELETE', `/containers/${id}`, { query: { force: true, v: true } }).catch(() => undefined);
    if (e instanceof GantryError && (e.code === 'COMMAND_NOT_FOUND' || e.code === 'COMMAND_NOT_EXECUTABLE')) {
      process.stderr.write(`gantry: ${e.message}\n`);
      return e.code === 'COMMAND_NOT_FOUND' ? 127 : 126;
    }
    // Like docker: 125 when the container could not be started at all.
    process.stderr.write(`gantry: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof GantryError && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    return 125;
  }
  if (tty) trackResize(client, `/containers/${id}/resize`);
  // Ctrl-C without a tty: forward to the container like docker's --sig-proxy.
  if (!tty) for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { void client.call('POST', `/containers/${id}/kill`, { query: { signal: sig } }).catch(() => undefined); });
  const code = await exit;
  await Promise.race([session.done, new Promise((r) => setTimeout(r, 200))]);
  if (tty && process.stdin.isTTY) process.stdin.setRawMode(false);
  return code;
}

/** Requests in flight at once for a verb given many containers (as the docker CLI, which runs them in parallel). */
const AT_ONCE = 16;

/** Runs `fn` for every ref, `atOnce` at a time; each result is printed in the order the refs were given. */
async function each(client: DaemonClient, refs: string[], fn: (ref: string) => Promise<void>, usage: string, atOnce = AT_ONCE): Promise<number> {
  if (refs.length === 0) throw usageError(`requires at least 1 argument`, usage);
  const outcomes: Array<Promise<unknown>> = [];
  const slots: Array<Promise<unknown>> = [];
  for (const ref of refs) {
    if (slots.length >= atOnce) await Promise.race(slots);
    const p = fn(ref).then(() => undefined, (e: unknown) => e);
    const slot = p.then(() => { slots.splice(slots.indexOf(slot), 1); });
    slots.push(slot);
    outcomes.push(p);
  }
  let status = 0;
  for (const [i, outcome] of outcomes.entries()) {
    const e = await outcome;
    if (e === undefined) { process.stdout.write(`${refs[i]}\n`); continue; }
    process.stderr.write(`Error response from daemon: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof GantryError && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    status = 1;
  }
  return status;
}

function psRow(c: PsEntry): string[] {
  const ports = c.Ports.filter((x) => x.PublicPort).map((x) => `${x.IP || '0.0.0.0'}:${x.PublicPort}->${x.PrivatePort}/${x.Type}`).join(', ');
  const cmd = c.Command.length > 20 ? `${c.Command.slice(0, 19)}…` : c.Command;
  const ago = `${formatAgo(Date.now() - c.Created * 1000)} ago`;
  return [c.Id.slice(0, 12), c.Image, `"${cmd}"`, ago, c.Status, ports, c.Names[0]!.replace(/^\//, '')];
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  // Help needs no daemon (and must not start one).
  if ((cmd === 'run' || cmd === 'create') && bool(parseArgs(args, CREATE_FLAGS, { stopAfterPositionals: 1 }), 'help')) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const client = await connectDaemon(g.host);
  switch (cmd) {
    case 'run': return runCommand(client, args, false);
    case 'create': return runCommand(client, args, true);
    case 'start': {
      const p = parseArgs(args, [{ name: 'attach', short: 'a', kind: 'bool' }, { name: 'interactive', short: 'i', kind: 'bool' }]);
      if (bool(p, 'attach') && p.positionals.length === 1) {
        const ref = p.positionals[0]!;
        const info = await client.call<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${ref}/json`);
        const sock = await client.hijack(`/containers/${info.Id}/attach`, { query: { stream: true, stdin: bool(p, 'interactive'), stdout: true, stderr: true } });
        const session = pipeAttach(sock, info.Config.Tty, bool(p, 'interactive'));
        const { exit } = await waitFor(client, info.Id, 'next-exit');
        await client.call('POST', `/containers/${info.Id}/start`);
        const code = await exit;
        await Promise.race([session.done, new Promise((r) => setTimeout(r, 200))]);
        return code;
      }
      // one after the other, as docker: a container may join the network of one started before it
      return each(client, p.positionals, (r) => client.call('POST', `/containers/${r}/start`), 'gantry start CONTAINER [CONTAINER...]', 1);
    }
    case 'stop': case 'restart': {
      const p = parseArgs(args, [{ name: 'time', short: 't', kind: 'string' }, { name: 'signal', short: 's', kind: 'string' }]);
      const t = str(p, 'time');
      if (t !== undefined && !/^-?\d+$/.test(t)) throw usageError(`invalid --time "${t}"`, 'give whole seconds');
      return each(client, p.positionals, (r) => client.call('POST', `/containers/${r}/${cmd}`, { query: { t, signal: str(p, 'signal') } }), `gantry ${cmd} [-t SECONDS] CONTAINER...`);
    }
    case 'kill': {
      const p = parseArgs(args, [{ name: 'signal', short: 's', kind: 'string' }]);
      const sig = str(p, 'signal');
      if (sig !== undefined) parseSignal(sig);
      return each(client, p.positionals, (r) => client.call('POST', `/containers/${r}/kill`, { query: { signal: sig } }), 'gantry kill [-s SIGNAL] CONTAINER...');
    }
    case 'rm': {
      const p = parseArgs(args, [{ name: 'force', short: 'f', kind: 'bool' }, { name: 'volumes', short: 'v', kind: 'bool' }]);
      return each(client, p.positionals, (r) => client.call('DELETE', `/containers/${r}`, { query: { force: bool(p, 'force'), v: bool(p, 'volumes') } }), 'gantry rm [-f] CONTAINER...');
    }
    case 'pause': case 'unpause':
      return each(client, args, (r) => client.call('POST', `/containers/${r}/${cmd}`), `gantry ${cmd} CONTAINER...`);
    case 'wait': {
      if (args.length === 0) throw usageError('requires at least 1 argument', 'gantry wait CONTAINER...');
      let last = 0;
      for (const ref of args) {
        last = await (await waitFor(client, ref, 'not-running')).exit;
        process.stdout.write(`${last}\n`);
      }
      return 0;
    }
    case 'ps': {
      const p = parseArgs(args, [{ name: 'all', short: 'a', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' },
        { name: 'format', kind: 'string' }, { name: 'filter', short: 'f', kind: 'list' }, { name: 'no-trunc', kind: 'bool' }]);
      const filters: Record<string, string[]> = {};
      for (const f of list(p, 'filter')) {
        const i = f.indexOf('=');
        if (i < 0) throw usageError(`invalid filter "${f}"`, 'use KEY=VALUE, e.g. --filter label=app=web');
        (filters[f.slice(0, i)] ??= []).push(f.slice(i + 1));
      }
      const format = str(p, 'format');
      if (format !== undefined && format !== 'table' && format !== 'json') throw usageError(`unsupported --format "${format}"`, 'use json or table');
      // (the short entries of common/ps-view.ts unless the whole of each is printed)
      const query = { all: bool(p, 'all'), filters: JSON.stringify(filters), ...(format === 'json' ? {} : { [PS_VIEW_PARAM]: PS_VIEW }) };
      const items = await client.call<PsEntry[]>('GET', '/containers/json', { query });
      if (bool(p, 'quiet')) { process.stdout.write(items.map((c) => `${c.Id.slice(0, 12)}\n`).join('')); return 0; }
      if (format === 'json') { for (const c of items) process.stdout.write(`${JSON.stringify(c)}\n`); return 0; }
      process.stdout.write(table(['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES'], items.map(psRow)));
      return 0;
    }
    case 'logs': {
      const p = parseArgs(args, [{ name: 'follow', short: 'f', kind: 'bool' }, { name: 'tail', short: 'n', kind: 'string' },
        { name: 'timestamps', short: 't', kind: 'bool' }, { name: 'since', kind: 'string' }]);
      const ref = p.positionals[0];
      if (!ref || p.positionals.length > 1) throw usageError('logs takes exactly one container', 'gantry logs [-f] [--tail N] [-t] CONTAINER');
      const tail = str(p, 'tail');
      if (tail !== undefined && tail !== 'all' && !/^\d+$/.test(tail)) throw usageError(`invalid --tail "${tail}"`, 'give a number of lines or "all"');
      const info = await client.call<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${ref}/json`);
      const res = await client.stream('GET', `/containers/${info.Id}/logs`, { query: { stdout: true, stderr: true, follow: bool(p, 'follow'), tail, timestamps: bool(p, 'timestamps') } });
      const write = info.Config.Tty ? (c: Buffer) => { process.stdout.write(c); } : demuxTo(process.stdout, process.stderr);
      for await (const c of res as AsyncIterable<Buffer>) {
        write(c);
        // A slow reader (a pager, a pipe) holds the daemon back instead of piling the log up in this process.
        for (const s of [process.stdout, process.stderr]) if (s.writableNeedDrain) await new Promise((r) => s.once('drain', r));
      }
      return 0;
    }
    case 'exec': {
      const p = parseArgs(args, [{ name: 'interactive', short: 'i', kind: 'bool' }, { name: 'tty', short: 't', kind: 'bool' },
        { name: 'env', short: 'e', kind: 'list' }, { name: 'workdir', short: 'w', kind: 'string' }, { name: 'user', short: 'u', kind: 'string' },
        { name: 'detach', short: 'd', kind: 'bool' }, { name: 'privileged', kind: 'bool' }], { stopAfterPositionals: 1 });
      const [ref, ...command] = p.positionals;
      if (!ref || command.length === 0) throw usageError('exec needs a container and a command', 'gantry exec [-it] CONTAINER COMMAND [ARG...]');
      const tty = bool(p, 'tty');
      const interactive = bool(p, 'interactive');
      const { Id } = await client.call<{ Id: string }>('POST', `/containers/${ref}/exec`, { body: {
        Cmd: command, Env: list(p, 'env'), WorkingDir: str(p, 'workdir'), User: str(p, 'user'), Tty: tty,
        AttachStdin: interactive, AttachStdout: !bool(p, 'detach'), AttachStderr: !bool(p, 'detach'), Privileged: bool(p, 'privileged'),
        ...consoleSize(tty),
      } });
      if (bool(p, 'detach')) { await client.call('POST', `/exec/${Id}/start`, { body: { Detach: true } }); return 0; }
      const sock = await client.hijack(`/exec/${Id}/start`, { body: { Detach: false, Tty: tty } });
      const session = pipeAttach(sock, tty, interactive);
      if (tty) trackResize(client, `/exec/${Id}/resize`);
      await session.done;
      if (tty && process.stdin.isTTY) process.stdin.setRawMode(false);
      for (let i = 0; i < 50; i++) {
        const info = await client.call<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${Id}/json`);
        if (!info.Running && info.ExitCode !== null) return info.ExitCode;
        await new Promise((r) => setTimeout(r, 20));
      }
      return 1;
    }
    case 'top': {
      if (args.length !== 1) throw usageError('top takes one container', 'gantry top CONTAINER');
      const t = await client.call<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${args[0]}/top`);
      process.stdout.write(table(t.Titles, t.Processes));
      return 0;
    }
    case 'stats': {
      const p = parseArgs(args, [{ name: 'no-stream', kind: 'bool' }, { name: 'all', short: 'a', kind: 'bool' }, { name: 'format', kind: 'string' }]);
      if (!bool(p, 'no-stream')) throw usageError('only `gantry stats --no-stream` is implemented', 'add --no-stream');
      const refs = p.positionals.length ? p.positionals : (await client.call<ContainerInfo[]>('GET', '/containers/json', { query: { all: bool(p, 'all') } })).map((c) => c.Id);
      type Stats = { id: string; name: string; cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number }; memory_stats: { usage: number; limit: number }; pids_stats: { current: number } };
      const sample = (): Promise<Stats[]> => Promise.all(refs.map((r) => client.call<Stats>('GET', `/containers/${r}/stats`, { query: { stream: false } })));
      const first = await sample();
      await new Promise((r) => setTimeout(r, 500));
      const second = await sample();
      const rows = second.map((s, i) => {
        const a = first[i]!;
        const dCpu = s.cpu_stats.cpu_usage.total_usage - a.cpu_stats.cpu_usage.total_usage;
        const dSys = s.cpu_stats.system_cpu_usage - a.cpu_stats.system_cpu_usage;
        const cpu = dSys > 0 ? (dCpu / dSys) * s.cpu_stats.online_cpus * 100 : 0;
        const mem = s.memory_stats;
        return [s.id.slice(0, 12), s.name.replace(/^\//, ''), `${cpu.toFixed(2)}%`, `${formatBytes(mem.usage)} / ${formatBytes(mem.limit)}`,
          `${mem.limit ? ((mem.usage / mem.limit) * 100).toFixed(2) : '0.00'}%`, String(s.pids_stats.current)];
      });
      if (str(p, 'format') === 'json') { printJson(second); return 0; }
      process.stdout.write(table(['CONTAINER ID', 'NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'], rows));
      return 0;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
