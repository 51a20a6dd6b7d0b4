// The narrow view of the engine the stack executor and service need, and its implementation over the Engine
// interface (src/engine/engine.ts): every call is one engine call. Unit tests run it against the fake engine.
import { GantryError } from '../common/errors.js';
import type { ContainerSpec, ContainerView, Engine, NetworkCreateRequest } from '../engine/engine.js';
import { ANONYMOUS_TARGET_LABEL } from '../engine/containers/container-spec.js';
import { LABEL } from './labels.js';
import type { ObservedContainer, ObservedState } from './types.js';

/** A volume mounted in a container. */
export interface ContainerVolume {
  readonly target: string;
  readonly volume: string;
  /** Made for the container (image VOLUME, `- /path`), not named by anyone. */
  readonly anonymous: boolean;
  readonly readOnly: boolean;
}

export interface EngineOps {
  /** Containers (by `gantry.project`), networks, volumes and the current ids of the given image refs. */
  observe(project: string, imageRefs: readonly string[]): ObservedState;
  createNetwork(req: NetworkCreateRequest): Promise<void>;
  removeNetwork(name: string): Promise<void>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** Creates a container; returns its id. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(ref: string): Promise<void>;
  stopContainer(ref: string, timeoutSeconds: number | undefined): Promise<void>;
  /** Removes a container (running or not); `volumes`: its anonymous volumes no other container uses go too. */
  removeContainer(ref: string, opts: { volumes: boolean }): Promise<void>;
  /** Renames a (stopped) container; returns its previous name. */
  renameContainer(ref: string, name: string): Promise<string>;
  /** The volume mounts of an existing container. */
  containerVolumes(ref: string): ContainerVolume[];
  /** Anonymous volumes made for container `number` of `service` that no container mounts now (left by a `down`). */
  leftAnonymousVolumes(project: string, service: string, number: number): ContainerVolume[];
  /** The `VOLUME` targets of an image (empty when the image is unknown). */
  imageVolumes(imageRef: string): string[];
  /** Resolves when the container is healthy (or running, without a healthcheck); rejects with the reason
   *  when it turns unhealthy or exits. */
  waitHealthy(ref: string, signal: AbortSignal): Promise<void>;
  /** Resolves with the exit code once the container has exited. */
  waitExit(ref: string, signal: AbortSignal): Promise<number>;
  /** Resolves after `ms` if the container kept running and did not turn unhealthy; rejects with the reason otherwise. */
  staysUp(ref: string, ms: number, signal: AbortSignal): Promise<void>;
  /** Start-first: `to`'s starts leave `from`'s published host ports to it until handOver. */
  expectHandover(toRef: string, fromRef: string): void;
  /** Start-first: `from`'s published ports and DNS names go to `to`; resolves once `from`'s connections ended (or after drainMs). */
  handOver(fromRef: string, toRef: string, drainMs: number): Promise<void>;
}

export function observedContainer(rec: ContainerView): ObservedContainer | undefined {
  const l = rec.config.labels;
  const service = l[LABEL.SERVICE];
  if (l[LABEL.PROJECT] === undefined || service === undefined) return undefined;
  return {
    id: rec.id, name: rec.name, service, number: Number(l[LABEL.NUMBER] ?? '0'), oneOff: l[LABEL.ONE_OFF] === 'True',
    configHash: l[LABEL.CONFIG_HASH] ?? '', imageId: rec.config.imageId, status: rec.state.status,
    health: rec.state.health?.status, exitCode: rec.state.exitCode,
  };
}

export function projectContainers(engine: Engine, project: string): ContainerView[] {
  return engine.containers().filter((r) => r.config.labels[LABEL.PROJECT] === project);
}

export function engineOps(engine: Engine): EngineOps {
  const { volumes, networks } = engine;

  /** Resolves when `check` says so (or, given `forMs`, once that long passed with `check` neither true nor throwing). */
  const waitChange = (id: string, check: () => boolean, signal: AbortSignal, forMs?: number): Promise<void> =>
    new Promise((resolve, reject) => {
      let done = false;
      const timer = forMs === undefined ? undefined : setTimeout(() => finish(), forMs);
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err); else resolve();
      };
      const test = (): void => { try { if (check()) finish(); } catch (e) { finish(e as Error); } };
      const onAbort = (): void => finish(new GantryError('CONFLICT', 'interrupted'));
      // Every state change of a container is an event (start, die, health_status, destroy...): no polling.
      const unsubscribe = engine.events.subscribe((e) => { if (e.Actor.ID === id) test(); });
      signal.addEventListener('abort', onAbort);
      test();
    });

  /** The container's state; throws (with the reason) when it is gone, exited or unhealthy. */
  const goodState = (id: string, ref: string): ContainerView['state'] => {
    const rec = engine.findContainer(id);
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
    return s;
  };

  return {
    observe(project: string, imageRefs: readonly string[]): ObservedState {
      const images: Record<string, string | undefined> = {};
      for (const ref of imageRefs) images[ref] = engine.images.resolve(ref)?.id;
      return {
        project,
        containers: projectContainers(engine, project).flatMap((r) => { const o = observedContainer(r); return o ? [o] : []; }),
        networks: networks.summaries().map((n) => ({ name: n.name, project: n.labels[LABEL.PROJECT] })),
        volumes: volumes.list().map((v) => ({ name: v.name, project: v.labels[LABEL.PROJECT] })),
        images,
      };
    },
    async createNetwork(req: NetworkCreateRequest): Promise<void> {
      networks.create(req);
    },
    async removeNetwork(name: string): Promise<void> {
      if (!networks.summaries().some((n) => n.name === name)) return;
      await networks.remove(name);
    },
    async createVolume(name: string, labels: Record<string, string>): Promise<void> {
      if (volumes.find(name)) return;
      engine.createVolume(name, { labels });
    },
    async removeVolume(name: string): Promise<void> {
      if (!volumes.find(name)) return;
      engine.removeVolume(name);
    },
    async createContainer(spec: ContainerSpec): Promise<string> {
      return (await engine.createContainer(spec)).id;
    },
    async startContainer(ref: string): Promise<void> { await engine.startContainer(ref); },
    async stopContainer(ref: string, timeout: number | undefined): Promise<void> {
      if (!engine.findContainer(ref)) return;
      await engine.stopContainer(ref, { timeoutSeconds: timeout });
    },
    async removeContainer(ref: string, opts: { volumes: boolean }): Promise<void> {
      if (!engine.findContainer(ref)) return;
      await engine.removeContainer(ref, { force: true, volumes: opts.volumes });
    },
    async renameContainer(ref: string, name: string): Promise<string> {
      const old = engine.getContainer(ref).name;
      await engine.renameContainer(ref, name);
      return old;
    },
    containerVolumes(ref: string): ContainerVolume[] {
      return engine.getContainer(ref).host.mounts.flatMap((m) => (m.type !== 'volume' ? [] : [{
        target: m.target, volume: m.source, anonymous: volumes.find(m.source)?.anonymous === true, readOnly: m.readOnly }]));
    },
    leftAnonymousVolumes(project: string, service: string, number: number): ContainerVolume[] {
      return volumes.list().flatMap((v) => {
        const l = v.labels;
        const target = l[ANONYMOUS_TARGET_LABEL];
        if (!v.anonymous || target === undefined || l[LABEL.PROJECT] !== project || l[LABEL.SERVICE] !== service || l[LABEL.NUMBER] !== String(number)) return [];
        return engine.volumeUsers(v.name).length > 0 ? [] : [{ target, volume: v.name, anonymous: true, readOnly: false }];
      });
    },
    imageVolumes(imageRef: string): string[] {
      const image = engine.images.resolve(imageRef);
      return image === undefined ? [] : Object.keys(engine.images.config(image).Volumes ?? {});
    },
    waitHealthy(ref: string, signal: AbortSignal): Promise<void> {
      const id = engine.getContainer(ref).id;
      return waitChange(id, () => {
        const s = goodState(id, ref);
        return s.status === 'running' && (s.health === undefined || s.health.status === 'healthy');
      }, signal);
    },
    staysUp(ref: string, ms: number, signal: AbortSignal): Promise<void> {
      const id = engine.getContainer(ref).id;
      // throws as soon as it exits or turns unhealthy; `ms` passing is the good outcome
      return waitChange(id, () => { goodState(id, ref); return false; }, signal, ms);
    },
    expectHandover(toRef: string, fromRef: string): void { engine.expectHandover(toRef, fromRef); },
    handOver(fromRef: string, toRef: string, drainMs: number): Promise<void> { return engine.handOverContainer(fromRef, toRef, drainMs); },
    async waitExit(ref: string, signal: AbortSignal): Promise<number> {
      const id = engine.getContainer(ref).id;
      await waitChange(id, () => {
        const rec = engine.findContainer(id);
        return rec === undefined || rec.state.status === 'exited' || rec.state.status === 'dead';
      }, signal);
      return engine.findContainer(id)?.state.exitCode ?? 0;
    },
  };
}
