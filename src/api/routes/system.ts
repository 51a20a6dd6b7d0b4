// /_ping, /version, /info, /events.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, hostname, machine, release } from 'node:os';
import type { ServerResponse } from 'node:http';
import type { Engine } from '../../engine/engine.js';
import type { EngineEvent } from '../../engine/events/bus.js';
import { dockerEvent, eventFilter, eventTimeNano } from '../docker/events.js';
import type { HostInfo } from './index.js';
import { filtersParam, type Router } from '../router.js';
import { API_VERSION, GANTRY_VERSION, MIN_API_VERSION } from '../version.js';

/** Go's names for the CPU architecture, as Docker reports `Arch`. */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

function operatingSystem(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'linux';
  } catch {
    return 'linux';
  }
}

/** `_ping`'s headers: the API version clients negotiate down to, and no caching of the answer. */
function pingHeaders(res: ServerResponse | undefined): void {
  res?.setHeader('Builder-Version', '1');
  res?.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res?.setHeader('Pragma', 'no-cache');
}

export function systemRoutes(r: Router, engine: Engine, host: HostInfo): void {
  r.add('GET', '/_ping', (ctx) => { pingHeaders(ctx.res); return 'OK'; });
  r.add('HEAD', '/_ping', (ctx) => { pingHeaders(ctx.res); return 'OK'; });
  r.add('GET', '/version', () => {
    // Not a Go program: GoVersion and GitCommit say so ("n/a"); clients only print them.
    const details = {
      ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: GO_ARCH[process.arch] ?? process.arch,
      KernelVersion: release(), GitCommit: 'n/a', GoVersion: 'n/a', NodeVersion: process.version, Experimental: 'false', BuildTime: '',
    };
    return {
      Platform: { Name: 'Gantry Engine' }, Version: GANTRY_VERSION, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION,
      Os: details.Os, Arch: details.Arch, KernelVersion: details.KernelVersion, GitCommit: details.GitCommit, GoVersion: details.GoVersion, BuildTime: '',
      Components: [{ Name: 'Engine', Version: GANTRY_VERSION, Details: details }],
    };
  });
  r.add('GET', '/info', () => {
    const all = engine.containers();
    const count = (s: string): number => all.filter((c) => c.state.status === s).length;
    return {
      ID: host.prefix, Name: hostname(), Containers: all.length, ContainersRunning: count('running'),
      ContainersPaused: count('paused'), ContainersStopped: all.length - count('running') - count('paused'),
      Images: engine.images.list().length, Driver: 'overlay2', DriverStatus: [], DockerRootDir: host.root,
      CgroupDriver: 'cgroupfs', CgroupVersion: String(host.cgroupVersion), KernelVersion: release(),
      OperatingSystem: operatingSystem(), OSType: 'linux', OSVersion: '', Architecture: machine(), NCPU: cpus().length, MemTotal: totalmem(),
      ServerVersion: GANTRY_VERSION, LoggingDriver: 'json-file', MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true,
      CPUShares: true, PidsLimit: true, IPv4Forwarding: true, Debug: false, Experimental: false, LiveRestoreEnabled: true,
      Plugins: { Volume: ['local'], Network: ['bridge', 'host', 'null'], Authorization: null, Log: ['json-file', 'none'] },
      Runtimes: { 'gantry-shim': { path: 'gantry-shim' } }, DefaultRuntime: 'gantry-shim', SecurityOptions: ['name=no-new-privileges'],
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: [], Mirrors: [] }, IndexServerAddress: 'https://index.docker.io/v1/',
      Labels: [], Warnings: host.warnings(),
    };
  });
  // Events: kept ones from `since`, then live ones; the stream ends at `until` (at once when it has passed).
  r.add('GET', '/events', (ctx) => {
    const res = ctx.res!;
    const matches = eventFilter(filtersParam(ctx.query));
    const sinceText = ctx.query.get('since');
    const untilText = ctx.query.get('until');
    const nowNano = Date.now() * 1e6;
    const sinceNano = sinceText ? eventTimeNano(sinceText, 'since') : undefined;
    const untilNano = untilText ? eventTimeNano(untilText, 'until') : undefined;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (e: EngineEvent): void => {
      if ((untilNano === undefined || e.timeNano <= untilNano) && matches(e)) res.write(`${JSON.stringify(dockerEvent(e))}\n`);
    };
    // Subscribed before the replay is read: an event emitted meanwhile is in one of them, not lost.
    const live: EngineEvent[] = [];
    let replayed = false;
    const unsubscribe = engine.events.subscribe((e) => { if (replayed) send(e); else live.push(e); });
    if (sinceNano !== undefined) for (const e of engine.events.since(sinceNano)) if (!live.includes(e)) send(e);
    replayed = true;
    for (const e of live) send(e);
    return new Promise<undefined>((resolve) => {
      const finish = (): void => { clearTimeout(timer); unsubscribe(); if (!res.writableEnded) res.end(); resolve(undefined); };
      const timer = untilNano === undefined ? undefined : setTimeout(finish, Math.min(2 ** 31 - 1, Math.max(0, (untilNano - nowNano) / 1e6)));
      res.on('close', finish);
    });
  });
}
