// The reconciler's EngineOps over the in-daemon Engine: every call is one engine call.
import type { NetworkCreateOptions } from 'dockerode';
import { GantryError } from '../common/errors.js';
import type { ContainerRecord } from '../engine/containers/record.js';
import type { ContainerVolume, EngineOps } from '../reconcile/engine-ops.js';
import { LABEL } from '../reconcile/labels.js';
import type { ObservedContainer, ObservedState } from '../reconcile/types.js';
import type { Engine } from './engine.js';

/** What the stack code needs of the network manager (engine.networks). */
interface NetworkBackend {
  list(): Array<{ Name: string; Labels?: Record<string, string> | undefined }>;
  create(req: { name: string; driver?: string | undefined; subnet?: string | undefined; gateway?: string | undefined;
    internal?: boolean | undefined; labels?: Record<string, string> | undefined; options?: Record<string, string> | undefined }): unknown;
  remove(ref: string): Promise<void>;
}

export function networkBackend(engine: Engine): NetworkBackend {
  return engine.network;
}

export function observedContainer(rec: ContainerRecord): ObservedContainer | undefined {
  const l = rec.config.labels;
  const service = l[LABEL.SERVICE];
  if (l[LABEL.PROJECT] === undefined || service === undefined) return undefined;
  return {
    id: rec.id, name: rec.name, service, number: Number(l[LABEL.NUMBER] ?? '0'), oneOff: l[LABEL.ONE_OFF] === 'True',
    configHash: l[LABEL.CONFIG_HASH] ?? '', imageId: rec.config.imageId, status: rec.state.status,
    health: rec.state.health?.status, exitCode: rec.state.exitCode,
  };
}

export function projectContainers(engine: Engine, project: string): ContainerRecord[] {
  return engine.store.all().filter((r) => r.config.labels[LABEL.PROJECT] === project);
}

export function engineOps(engine: Engine, networks: NetworkBackend = networkBackend(engine)): EngineOps {
  const { containers, store, volumes } = engine;

  const waitChange = (id: string, check: () => boolean, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        unsubscribe();
        clearInterval(poll);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err); else resolve();
      };
      const test = (): void => { try { if (check()) finish(); } catch (e) { finish(e as Error); } };
      const onAbort = (): void => finish(new GantryError('CONFLICT', 'interrupted'));
      const unsubscribe = engine.events.subscribe((e) => { if (e.Actor.ID === id) test(); });
      const poll = setInterval(test, 250);
      signal.addEventListener('abort', onAbort);
      test();
    });

  return {
    observe(project: string, imageRefs: readonly string[]): ObservedState {
      const images: Record<string, string | undefined> = {};
      for (const ref of imageRefs) images[ref] = engine.images.resolve(ref)?.id;
      return {
        project,
        containers: projectContainers(engine, project).flatMap((r) => { const o = observedContainer(r); return o ? [o] : []; }),
        networks: networks.list().map((n) => ({ name: n.Name, project: n.Labels?.[LABEL.PROJECT] })),
        volumes: volumes.list().map((v) => ({ name: v.name, project: v.labels[LABEL.PROJECT] })),
        images,
      };
    },
    async createNetwork(body: NetworkCreateOptions): Promise<void> {
      const ipam = body.IPAM?.Config?.[0];
      await networks.create({ name: body.Name, driver: body.Driver, subnet: ipam?.Subnet, gateway: ipam?.Gateway, internal: body.Internal,
        labels: body.Labels, options: body.Options });
    },
    async removeNetwork(name: string): Promise<void> {
      if (!networks.list().some((n) => n.Name === name)) return;
      await networks.remove(name);
    },
    async createVolume(name: string, labels: Record<string, string>): Promise<void> {
      if (volumes.find(name)) return;
      volumes.create(name, { labels });
      engine.events.emit('volume', 'create', name);
    },
    async removeVolume(name: string): Promise<void> {
      if (!volumes.find(name)) return;
      volumes.remove(name, containers.volumeUsers(name));
      engine.events.emit('volume', 'destroy', name);
    },
    async createContainer(name, body): Promise<string> {
      return (await containers.create({ name, body })).id;
    },
    async startContainer(ref: string): Promise<void> { await containers.start(ref); },
    async stopContainer(ref: string, timeout: number | undefined): Promise<void> {
      if (!store.find(ref)) return;
      await containers.stop(ref, timeout);
    },
    async removeContainer(ref: string, opts: { volumes: boolean }): Promise<void> {
      if (!store.find(ref)) return;
      await containers.remove(ref, { force: true, volumes: opts.volumes });
    },
    async renameContainer(ref: string, name: string): Promise<string> {
      const old = store.get(ref).name;
      await containers.rename(ref, name);
      return old;
    },
    containerVolumes(ref: string): ContainerVolume[] {
      return store.get(ref).host.mounts.flatMap((m) => (m.type !== 'volume' ? [] : [{
        target: m.target, volume: m.source, anonymous: volumes.find(m.source)?.anonymous === true, readOnly: m.readOnly }]));
    },
    imageVolumes(imageRef: string): string[] {
      const image = engine.images.resolve(imageRef);
      return image === undefined ? [] : Object.keys(engine.images.config(image).Volumes ?? {});
    },
    waitHealthy(ref: string, signal: AbortSignal): Promise<void> {
      const id = store.get(ref).id;
      return waitChange(id, () => {
        const rec = store.find(id);
        if (rec === undefined) throw new GantryError('CONTAINER_NOT_FOUND', `container ${ref} was removed`);
        const s = rec.state;
        if (s.status === 'exited' || s.status === 'dead') {
          throw new GantryError('CONTAINER_NOT_RUNNING', `container ${rec.name} exited with code ${s.exitCode}${s.error ? ` (${s.error})` : ''}`,
            { hint: `see its output: gantry logs ${rec.name}` });
        }
        if (s.health?.status === 'unhealthy') {
          const last = s.health.log[s.health.log.length - 1];
          throw new GantryError('CONFLICT', `container ${rec.name} is unhealthy${last ? `: last check exited ${last.exitCode}${last.output.trim() ? ` (${last.output.trim().slice(0, 200)})` : ''}` : ''}`,
            { hint: `gantry inspect ${rec.name} shows the last health checks` });
        }
        return s.status === 'running' && (s.health === undefined || s.health.status === 'healthy');
      }, signal);
    },
    async waitExit(ref: string, signal: AbortSignal): Promise<number> {
      const id = store.get(ref).id;
      await waitChange(id, () => {
        const rec = store.find(id);
        return rec === undefined || rec.state.status === 'exited' || rec.state.status === 'dead';
      }, signal);
      return store.find(id)?.state.exitCode ?? 0;
    },
  };
}
