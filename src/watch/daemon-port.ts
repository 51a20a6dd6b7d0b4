// What watch needs from the daemon, over the existing API (the CLI process watches; the daemon writes through
// the Engine): the containers of a service, archive writes as the container's user, removals, restart, exec,
// and the events stream. One interface, so the session can be driven by a fake in unit tests.

import { Writable, type Readable } from 'node:stream';
import type { DaemonClient } from '../cli/client.js';
import type { WatchExecModel } from '../stack/model.js';

export interface WatchedContainer {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  /** `down`: created, paused or exited (files are still written into it, through its layers); removing and dead ones are not listed. */
  readonly state: 'running' | 'restarting' | 'down';
}

export interface ContainerEvent {
  readonly action: string;
  readonly id: string;
  readonly service: string;
}

export interface DaemonPort {
  containers(project: string): Promise<WatchedContainer[]>;
  putArchive(id: string, dir: string, archive: Readable): Promise<void>;
  removePaths(id: string, paths: readonly string[]): Promise<void>;
  restart(id: string): Promise<void>;
  /** Runs the command in the container, its output written to `out` line by line; resolves with the exit code. */
  exec(id: string, exec: WatchExecModel, out: (line: string) => void): Promise<number>;
  /** The project's container events until the stream ends (the daemon went away). */
  events(project: string): AsyncIterable<ContainerEvent>;
  /** Resolves once the daemon answers again. */
  ping(): Promise<boolean>;
}

interface ContainerListItem { Id: string; Names: string[]; State: string; Labels: Record<string, string> }
interface EventLine { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }

function lineWriter(out: (line: string) => void): Writable & { flushRest(): void } {
  let rest = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      rest += chunk.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) out(l);
      cb();
    },
  });
  return Object.assign(w, { flushRest: () => { if (rest !== '') out(rest); rest = ''; } });
}

export function daemonPort(client: DaemonClient): DaemonPort {
  return {
    async containers(project) {
      const items = await client.call<ContainerListItem[]>('GET', '/containers/json', { query: { all: true, filters: JSON.stringify({ label: [`gantry.project=${project}`] }) } });
      return items.filter((c) => c.Labels['gantry.oneoff'] !== 'True' && c.State !== 'removing' && c.State !== 'dead').map((c) => ({
        id: c.Id, name: c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12), service: c.Labels['gantry.service'] ?? '',
        state: c.State === 'running' ? 'running' : c.State === 'restarting' ? 'restarting' : 'down',
      }));
    },
    async putArchive(id, dir, archive) {
      await client.call('PUT', `/containers/${id}/archive`, { query: { path: dir, asContainerUser: true }, bodyStream: archive, headers: { 'Content-Type': 'application/x-tar' } });
    },
    async removePaths(id, paths) {
      if (paths.length > 0) await client.call('POST', `/containers/${id}/archive/remove`, { body: { Paths: paths } });
    },
    async restart(id) {
      await client.call('POST', `/containers/${id}/restart`);
    },
    async exec(id, x, out) {
      const { Id } = await client.call<{ Id: string }>('POST', `/containers/${id}/exec`, { body: {
        Cmd: x.command, Env: Object.entries(x.environment).map(([k, v]) => `${k}=${v}`), WorkingDir: x.working_dir, User: x.user,
        Privileged: x.privileged, Tty: false, AttachStdin: false, AttachStdout: true, AttachStderr: true,
      } });
      const sock = await client.hijack(`/exec/${Id}/start`, { body: { Detach: false, Tty: false } });
      const { demuxTo } = await import('../cli/commands/containers.js');
      const stdout = lineWriter(out);
      const stderr = lineWriter(out);
      const demux = demuxTo(stdout, stderr);
      sock.on('data', demux);
      await new Promise<void>((res) => { sock.once('close', () => res()); sock.once('end', () => res()); sock.resume(); });
      stdout.flushRest();
      stderr.flushRest();
      for (let i = 0; i < 100; i++) {
        const info = await client.call<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${Id}/json`);
        if (!info.Running && info.ExitCode !== null) return info.ExitCode;
        await new Promise((r) => setTimeout(r, 20));
      }
      return -1;
    },
    async *events(project) {
      const { jsonLines } = await import('../cli/http.js');
      const res = await client.stream('GET', '/events', { query: { filters: JSON.stringify({ type: ['container'], label: [`gantry.project=${project}`] }) } });
      for await (const e of jsonLines<EventLine>(res)) {
        if (e.Type !== 'container' || e.Actor.Attributes['gantry.project'] !== project) continue;
        yield { action: e.Action, id: e.Actor.ID, service: e.Actor.Attributes['gantry.service'] ?? '' };
      }
    },
    async ping() {
      return client.call('GET', '/_ping').then(() => true, () => false);
    },
  };
}
