// What the container manager needs from its neighbours, as narrow interfaces (real ones are wired in the
// daemon; tests can pass fakes).
import type { HostSettings } from './record.js';

/** The parts of an image's OCI config that shape a container. */
export interface ImageRuntimeConfig {
  Env?: string[] | undefined;
  Cmd?: string[] | undefined;
  Entrypoint?: string[] | undefined;
  WorkingDir?: string | undefined;
  User?: string | undefined;
  ExposedPorts?: Record<string, object> | undefined;
  /** Image `VOLUME`s: each gets an anonymous volume unless the container mounts something there. */
  Volumes?: Record<string, object> | undefined;
  Labels?: Record<string, string> | undefined;
  StopSignal?: string | undefined;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | undefined;
}

export interface ImageView {
  /** "sha256:<hex>" */
  id: string;
  config: ImageRuntimeConfig;
  /** Extracted layer dirs, top-most first (overlay lowerdir order). */
  layerDirs: string[];
}

export interface ImageSource {
  /** Throws IMAGE_NOT_FOUND when unknown. */
  lookup(ref: string): ImageView;
  /** By id, for a container whose image may have been untagged. */
  byId(id: string): ImageView | undefined;
}

/** Network plumbing for one container start/stop (bridge networking plugs in here). */
export interface ContainerNetworking {
  /** Before `go`: configure the init's network namespace; returns what to record. */
  attach(containerId: string, initPid: number): Promise<void>;
  /**
   * After exit or on failed start: remove veths, free addresses, unpublish ports. Idempotent. Returns the addresses
   * the container had (network id → IPv4), which its record keeps so the next start asks for them again.
   * `removal`: the container is removed next (its id never comes back): its endpoint file may go after the answer.
   */
  detach(containerId: string, opts?: { removal?: boolean }): Promise<Record<string, string>>;
  /**
   * Before a start's spawn: a network namespace made ahead for the container's init to join (a path), or undefined
   * (the init makes its own). `netnsDone` follows once the start is settled, whatever its outcome.
   */
  netnsFor?(containerId: string): string | undefined;
  netnsDone?(containerId: string): void;
  /** At create, before anything is made: networks exist, --ip/--network-alias/ports fit the network mode. */
  validate?(host: HostSettings): void;
  /** A running container was renamed: its DNS name on each network follows (as Docker's does). */
  renamed?(containerId: string, oldName: string, newName: string): void;
}
