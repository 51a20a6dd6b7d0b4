// Prunes and disk usage, Docker's commands and output: `container prune`, `image prune [-a]`, `volume prune [-a]`,
// `system prune [-a] [--volumes]`, `system df [-v]`. Without -f they ask first, as docker does.
import { createInterface } from 'node:readline';
import { usageError } from '../../common/errors.js';
import { formatBytes } from '../../common/units.js';
import { bool, list, parseArgs, type FlagSpec } from '../args.js';
import { connectDaemon, type DaemonClient } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { table } from '../output.js';

interface Report { SpaceReclaimed: number; ContainersDeleted?: string[] | null; ImagesDeleted?: Array<{ Untagged?: string; Deleted?: string }> | null; VolumesDeleted?: string[] | null; NetworksDeleted?: string[] | null }

async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const rl = createInterface({ input: process.stdin });
  const answer = await new Promise<string>((resolve) => { rl.once('line', resolve); rl.once('close', () => resolve('')); });
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

function filtersOf(values: string[], extra: Record<string, string[]> = {}): string | undefined {
  const f: Record<string, string[]> = { ...extra };
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw usageError(`bad format of filter "${v}" (expected name=value)`);
    (f[v.slice(0, eq)] ??= []).push(v.slice(eq + 1));
  }
  return Object.keys(f).length > 0 ? JSON.stringify(f) : undefined;
}

async function prune(client: DaemonClient, what: 'containers' | 'images' | 'volumes' | 'networks', filters: string | undefined): Promise<Report> {
  return client.call<Report>('POST', `/${what}/prune`, { query: { filters } });
}

function print(r: Report): number {
  const section = (title: string, lines: string[] | undefined): void => {
    if (lines !== undefined && lines.length > 0) process.stdout.write(`${title}:\n${lines.join('\n')}\n\n`);
  };
  section('Deleted Containers', r.ContainersDeleted ?? undefined);
  section('Deleted Networks', r.NetworksDeleted ?? undefined);
  section('Deleted Volumes', r.VolumesDeleted ?? undefined);
  section('Deleted Images', r.ImagesDeleted?.map((i) => (i.Untagged !== undefined ? `untagged: ${i.Untagged}` : `deleted: ${i.Deleted}`)));
  return r.SpaceReclaimed;
}

const FORCE: FlagSpec = { name: 'force', short: 'f', kind: 'bool' };
const FILTER: FlagSpec = { name: 'filter', kind: 'list' };

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const verb = cmd === 'system' ? args[0] : cmd;
  const rest = cmd === 'system' ? args.slice(1) : args;
  switch (verb) {
    case 'container-prune': case 'image-prune': case 'volume-prune': {
      const p = parseArgs(rest, [FORCE, FILTER, ...(verb === 'container-prune' ? [] : [{ name: 'all', short: 'a', kind: 'bool' } as const])]);
      if (p.positionals.length > 0) throw usageError(`${verb.replace('-', ' ')} takes no arguments`);
      const all = bool(p, 'all');
      const kind = verb === 'container-prune' ? 'containers' : verb === 'image-prune' ? 'images' : 'volumes';
      const warning = kind === 'containers' ? 'WARNING! This will remove all stopped containers.'
        : kind === 'images' ? (all ? 'WARNING! This will remove all images without at least one container associated to them.' : 'WARNING! This will remove all dangling images.')
          : (all ? 'WARNING! This will remove all local volumes not used by at least one container.' : 'WARNING! This will remove anonymous local volumes not used by at least one container.');
      const filters = filtersOf(list(p, 'filter'), kind === 'images' && all ? { dangling: ['false'] } : kind === 'volumes' && all ? { all: ['true'] } : {});
      if (!bool(p, 'force') && !(await confirm(warning))) return 0;
      const client = await connectDaemon(g.host);
      const space = print(await prune(client, kind, filters));
      process.stdout.write(`Total reclaimed space: ${formatBytes(space)}\n`);
      return 0;
    }
    case 'prune': {
      const p = parseArgs(rest, [FORCE, FILTER, { name: 'all', short: 'a', kind: 'bool' }, { name: 'volumes', kind: 'bool' }]);
      const all = bool(p, 'all');
      const warning = ['WARNING! This will remove:', '  - all stopped containers', '  - all networks not used by at least one container',
        ...(bool(p, 'volumes') ? ['  - all anonymous volumes not used by at least one container'] : []),
        all ? '  - all images without at least one container associated to them' : '  - all dangling images'].join('\n');
      if (!bool(p, 'force') && !(await confirm(warning))) return 0;
      const client = await connectDaemon(g.host);
      const filters = list(p, 'filter');
      let space = print(await prune(client, 'containers', filtersOf(filters)));
      const networks = await client.call<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersOf(filters) } });
      print({ SpaceReclaimed: 0, NetworksDeleted: networks.NetworksDeleted ?? null });
      if (bool(p, 'volumes')) space += print(await prune(client, 'volumes', filtersOf(filters.filter((f) => !f.startsWith('until=')))));
      space += print(await prune(client, 'images', filtersOf(filters, all ? { dangling: ['false'] } : {})));
      process.stdout.write(`Total reclaimed space: ${formatBytes(space)}\n`);
      return 0;
    }
    case 'df': {
      const p = parseArgs(rest, [{ name: 'verbose', short: 'v', kind: 'bool' }]);
      const client = await connectDaemon(g.host);
      const df = await client.call<{
        Images: Array<{ Id: string; RepoTags: string[]; Size: number; SharedSize: number; Containers: number; Created: number }>;
        Containers: Array<{ Id: string; Names: string[]; Image: string; State: string; SizeRw: number }>;
        Volumes: Array<{ Name: string; UsageData: { Size: number; RefCount: number } }>;
      }>('GET', '/system/df');
      const pct = (part: number, whole: number): string => (whole > 0 ? ` (${Math.round((part / whole) * 100)}%)` : '');
      const imgSize = df.Images.reduce((s, i) => s + i.Size - i.SharedSize, 0) + Math.max(0, ...df.Images.map((i) => i.SharedSize));
      const imgFree = df.Images.filter((i) => i.Containers === 0).reduce((s, i) => s + i.Size - i.SharedSize, 0);
      const ctrSize = df.Containers.reduce((s, c) => s + c.SizeRw, 0);
      const ctrFree = df.Containers.filter((c) => c.State !== 'running' && c.State !== 'paused').reduce((s, c) => s + c.SizeRw, 0);
      const volSize = df.Volumes.reduce((s, v) => s + v.UsageData.Size, 0);
      const volFree = df.Volumes.filter((v) => v.UsageData.RefCount === 0).reduce((s, v) => s + v.UsageData.Size, 0);
      process.stdout.write(table(['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'], [
        ['Images', String(df.Images.length), String(df.Images.filter((i) => i.Containers > 0).length), formatBytes(imgSize), `${formatBytes(imgFree)}${pct(imgFree, imgSize)}`],
        ['Containers', String(df.Containers.length), String(df.Containers.filter((c) => c.State === 'running').length), formatBytes(ctrSize), `${formatBytes(ctrFree)}${pct(ctrFree, ctrSize)}`],
        ['Local Volumes', String(df.Volumes.length), String(df.Volumes.filter((v) => v.UsageData.RefCount > 0).length), formatBytes(volSize), `${formatBytes(volFree)}${pct(volFree, volSize)}`],
        ['Build Cache', '0', '0', '0B', '0B'],
      ]));
      if (bool(p, 'verbose')) {
        process.stdout.write(`\nImages space usage:\n\n${table(['REPOSITORY:TAG', 'IMAGE ID', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
          df.Images.map((i) => [i.RepoTags[0] ?? '<none>:<none>', i.Id.slice(7, 19), formatBytes(i.Size), formatBytes(i.SharedSize), formatBytes(i.Size - i.SharedSize), String(i.Containers)]))}`);
        process.stdout.write(`\nContainers space usage:\n\n${table(['CONTAINER ID', 'IMAGE', 'SIZE', 'STATUS', 'NAMES'],
          df.Containers.map((c) => [c.Id.slice(0, 12), c.Image, formatBytes(c.SizeRw), c.State, c.Names.map((n) => n.replace(/^\//, '')).join(',')]))}`);
        process.stdout.write(`\nLocal Volumes space usage:\n\n${table(['VOLUME NAME', 'LINKS', 'SIZE'], df.Volumes.map((v) => [v.Name, String(v.UsageData.RefCount), formatBytes(v.UsageData.Size)]))}`);
      }
      return 0;
    }
    default:
      throw usageError(`unknown command: system ${verb ?? ''}`, 'gantry system df|prune [OPTIONS]');
  }
}
