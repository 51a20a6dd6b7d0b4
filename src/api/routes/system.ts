// /_ping, /version, /info, /events.
import { cpus, totalmem, hostname, release } from 'node:os';
import type { Engine } from '../../engine/engine.js';
import type { HostInfo } from './index.js';
import type { Router } from '../router.js';

export const API_VERSION = '1.43';
export const GANTRY_VERSION = '0.1.0';

export function systemRoutes(r: Router, engine: Engine, host: HostInfo): void {
  r.add('GET', '/_ping', () => 'OK');
  r.add('HEAD', '/_ping', () => 'OK');
  r.add('GET', '/version', () => ({
    Platform: { Name: 'Gantry Engine' }, Version: GANTRY_VERSION, ApiVersion: API_VERSION, MinAPIVersion: '1.24',
    Os: 'linux', Arch: process.arch === 'x64' ? 'amd64' : process.arch, KernelVersion: release(), GoVersion: `node ${process.version}`,
    Components: [{ Name: 'Engine', Version: GANTRY_VERSION, Details: { ApiVersion: API_VERSION } }],
  }));
  r.add('GET', '/info', () => {
    const all = engine.containers();
    const count = (s: string): number => all.filter((c) => c.state.status === s).length;
    return {
      ID: host.prefix, Name: hostname(), Containers: all.length, ContainersRunning: count('running'),
      ContainersPaused: count('paused'), ContainersStopped: all.length - count('running') - count('paused'),
      Images: engine.images.list().length, Driver: 'overlay2', DockerRootDir: host.root,
      CgroupDriver: 'cgroupfs', CgroupVersion: String(host.cgroupVersion), KernelVersion: release(),
      OperatingSystem: 'linux', OSType: 'linux', Architecture: process.arch, NCPU: cpus().length, MemTotal: totalmem(),
      ServerVersion: GANTRY_VERSION, Warnings: host.warnings(),
    };
  });
  r.add('GET', '/events', (ctx) => {
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const unsubscribe = engine.events.subscribe((e) => { res.write(`${JSON.stringify(e)}\n`); });
    return new Promise<undefined>((resolve) => res.on('close', () => { unsubscribe(); resolve(undefined); }));
  });
}
