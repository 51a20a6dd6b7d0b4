// The narrow view of the engine the executor needs. The daemon adapts its Engine to it
// (src/daemon/stack-ops.ts); tests can pass a recording fake.
import type { ContainerCreateOptions, NetworkCreateOptions } from 'dockerode';
import type { ObservedState } from './types.js';

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
  createNetwork(body: NetworkCreateOptions): Promise<void>;
  removeNetwork(name: string): Promise<void>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** Creates a container named `name`; returns its id. */
  createContainer(name: string, body: ContainerCreateOptions): Promise<string>;
  startContainer(ref: string): Promise<void>;
  stopContainer(ref: string, timeoutSeconds: number | undefined): Promise<void>;
  /** Removes a container (running or not); `volumes`: its anonymous volumes no other container uses go too. */
  removeContainer(ref: string, opts: { volumes: boolean }): Promise<void>;
  /** Renames a (stopped) container; returns its previous name. */
  renameContainer(ref: string, name: string): Promise<string>;
  /** The volume mounts of an existing container. */
  containerVolumes(ref: string): ContainerVolume[];
  /** The `VOLUME` targets of an image (empty when the image is unknown). */
  imageVolumes(imageRef: string): string[];
  /** Resolves when the container is healthy (or running, without a healthcheck); rejects with the reason
   *  when it turns unhealthy or exits. */
  waitHealthy(ref: string, signal: AbortSignal): Promise<void>;
  /** Resolves with the exit code once the container has exited. */
  waitExit(ref: string, signal: AbortSignal): Promise<number>;
}
