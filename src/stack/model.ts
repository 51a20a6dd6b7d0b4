// The normalised stack model: the contract between the stack loader and the reconciler.
// Every field is in long form, every relative path is absolute, every duration is in nanoseconds and every
// memory size in bytes. Values are plain JSON data (no classes), deeply readonly.

import type { Diagnostic } from './diagnostic.js';

/** A port mapping in long form. `published` is a host port or range ("8080" / "8080-8081"), or undefined. */
export interface PortModel {
  readonly target: number;
  readonly published: string | undefined;
  readonly host_ip: string | undefined;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly mode: 'ingress' | 'host';
  readonly name: string | undefined;
  readonly app_protocol: string | undefined;
}

/** A mount in long form. `source` is an absolute path for binds, a stack volume key for named volumes. */
export interface VolumeMountModel {
  readonly type: 'bind' | 'volume' | 'tmpfs';
  /** Absolute host path (bind), volume key as declared under top-level `volumes` (volume), undefined for an
   *  anonymous volume or tmpfs. */
  readonly source: string | undefined;
  readonly target: string;
  readonly read_only: boolean;
  readonly bind: { readonly propagation: string | undefined; readonly create_host_path: boolean; readonly selinux: string | undefined } | undefined;
  readonly volume: { readonly nocopy: boolean; readonly subpath: string | undefined } | undefined;
  readonly tmpfs: { readonly size: number | undefined; readonly mode: number | undefined } | undefined;
  readonly consistency: string | undefined;
}

/** A service's attachment to a stack network (key = network key under top-level `networks`). */
export interface ServiceNetworkModel {
  readonly aliases: readonly string[];
  readonly ipv4_address: string | undefined;
  readonly ipv6_address: string | undefined;
  readonly mac_address: string | undefined;
  readonly priority: number;
}

export type DependencyCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface DependencyModel {
  readonly condition: DependencyCondition;
  readonly required: boolean;
  readonly restart: boolean;
}

export interface HealthcheckModel {
  /** The test in exec form: ["CMD", ...], ["CMD-SHELL", "..."], or ["NONE"]. */
  readonly test: readonly string[];
  /** Durations in nanoseconds. */
  readonly interval: number | undefined;
  readonly timeout: number | undefined;
  readonly start_period: number | undefined;
  readonly start_interval: number | undefined;
  readonly retries: number | undefined;
  readonly disable: boolean;
}

export interface ResourcesModel {
  /** Bytes. */
  readonly memory: number | undefined;
  readonly cpus: number | undefined;
  readonly pids: number | undefined;
}

/** deploy.restart_policy.condition; the Compose spellings `always` and `no` are stored as `any` and `none`. */
export type RestartCondition = 'none' | 'on-failure' | 'any' | 'unless-stopped';

export interface DeployModel {
  /** Number of containers; 1 unless set (deploy.replicas or scale). */
  readonly replicas: number;
  readonly limits: ResourcesModel;
  readonly reservations: ResourcesModel;
  readonly restart_policy:
    | { readonly condition: RestartCondition; readonly delay: number | undefined; readonly max_attempts: number | undefined; readonly window: number | undefined }
    | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** deploy.update_config: how `up` replaces the service's containers; undefined (compose's way: all at once,
   *  each stopped before its successor starts) unless given. Never part of the config hash. */
  readonly update_config: UpdateConfigModel | undefined;
}

export interface UpdateConfigModel {
  /** start-first: the new container runs (healthy) and takes over ports and DNS before the old one stops. */
  readonly order: 'stop-first' | 'start-first';
  /** Containers replaced at a time (0: all at once); 1 unless given, as Swarm. */
  readonly parallelism: number;
  /** Nanoseconds to wait between groups. */
  readonly delay: number;
  /** A replacement that fails: `pause` replaces no more containers of the service, `continue` goes on,
   *  `rollback` also puts the old container back (start-first always keeps the old one running). */
  readonly failure_action: 'pause' | 'continue' | 'rollback';
  /** Nanoseconds a new container must keep running (and not turn unhealthy) before it counts as good. */
  readonly monitor: number;
}

/** `logging`: only the drivers Gantry implements; options as strings, as Docker's LogConfig.Config holds them. */
export interface LoggingModel {
  readonly driver: 'json-file' | 'none';
  readonly options: Readonly<Record<string, string>>;
}

export interface UlimitModel {
  readonly soft: number;
  readonly hard: number;
}

/** A secret or config granted to a service, long form. `source` is the key under top-level secrets/configs. */
export interface ServiceFileGrantModel {
  readonly source: string;
  /** Absolute path inside the container (secrets default to /run/secrets/<source>, configs to /<source>). */
  readonly target: string;
  readonly uid: string | undefined;
  readonly gid: string | undefined;
  readonly mode: number | undefined;
}

/** `build:` of a service (the string form is the context alone). */
export interface BuildModel {
  /** Absolute context directory. */
  readonly context: string;
  /** The Dockerfile's path relative to the context (default Dockerfile), unless dockerfile_inline is given. */
  readonly dockerfile: string | undefined;
  readonly dockerfile_inline: string | undefined;
  readonly args: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** Extra tags besides the service's image. */
  readonly tags: readonly string[];
  readonly network: string | undefined;
  /** `build.secrets`: top-level secrets (`source`) given to the build as id `id` (the long form's target, else the source). */
  readonly secrets: readonly { readonly source: string; readonly id: string }[];
}

export type WatchAction = 'sync' | 'rebuild' | 'restart' | 'sync+restart' | 'sync+exec';

export interface WatchExecModel {
  readonly command: readonly string[];
  readonly user: string | undefined;
  readonly privileged: boolean;
  readonly working_dir: string | undefined;
  readonly environment: Readonly<Record<string, string>>;
}

/** One `develop.watch` rule: `path` is absolute on the host (resolved against the project directory). */
export interface WatchRuleModel {
  readonly path: string;
  readonly action: WatchAction;
  /** Absolute path in the container; set for the sync actions. */
  readonly target: string | undefined;
  /** .dockerignore-syntax patterns relative to `path`. */
  readonly ignore: readonly string[];
  /** When set, only paths matching one of them are watched. */
  readonly include: readonly string[];
  readonly initial_sync: boolean;
  readonly exec: WatchExecModel | undefined;
}

export interface DevelopModel {
  readonly watch: readonly WatchRuleModel[];
  /** The service's build context directory (absolute), whose .dockerignore watch honours; undefined without `build`. */
  readonly context: string | undefined;
}

export interface ServiceModel {
  readonly name: string;
  /** The image to run; with `build:` and no `image:`, `<project>-<service>` (the image the build tags). */
  readonly image: string | undefined;
  readonly build: BuildModel | undefined;
  readonly command: readonly string[] | undefined;
  readonly entrypoint: readonly string[] | undefined;
  readonly environment: Readonly<Record<string, string | null>>;
  readonly ports: readonly PortModel[];
  readonly expose: readonly string[];
  readonly volumes: readonly VolumeMountModel[];
  readonly tmpfs: readonly string[];
  readonly networks: Readonly<Record<string, ServiceNetworkModel>>;
  /** host | none | bridge | service:NAME | container:NAME, or undefined for the stack networks. */
  readonly network_mode: string | undefined;
  readonly depends_on: Readonly<Record<string, DependencyModel>>;
  readonly healthcheck: HealthcheckModel | undefined;
  readonly deploy: DeployModel;
  /** Bytes (mem_limit), cpus, pids_limit: the short service-level forms, kept as given. */
  readonly mem_limit: number | undefined;
  readonly mem_reservation: number | undefined;
  readonly memswap_limit: number | undefined;
  readonly shm_size: number | undefined;
  readonly cpus: number | undefined;
  readonly pids_limit: number | undefined;
  readonly user: string | undefined;
  readonly working_dir: string | undefined;
  readonly hostname: string | undefined;
  readonly domainname: string | undefined;
  readonly container_name: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly cap_add: readonly string[];
  readonly cap_drop: readonly string[];
  readonly privileged: boolean;
  readonly read_only: boolean;
  readonly init: boolean;
  readonly stop_signal: string | undefined;
  /** Nanoseconds. */
  readonly stop_grace_period: number | undefined;
  readonly ulimits: Readonly<Record<string, UlimitModel>>;
  readonly sysctls: Readonly<Record<string, string>>;
  readonly tty: boolean;
  readonly stdin_open: boolean;
  /** "host:ip" entries, in declaration order. */
  readonly extra_hosts: readonly string[];
  readonly dns: readonly string[];
  readonly dns_search: readonly string[];
  readonly dns_opt: readonly string[];
  readonly secrets: readonly ServiceFileGrantModel[];
  readonly configs: readonly ServiceFileGrantModel[];
  readonly profiles: readonly string[];
  /** no | always | on-failure[:N] | unless-stopped */
  readonly restart: string;
  readonly pull_policy: string | undefined;
  readonly mac_address: string | undefined;
  readonly group_add: readonly string[];
  /** Undefined when the service does not set `logging` (so its config hash is what it was before logging). */
  readonly logging: LoggingModel | undefined;
  /** ['no-new-privileges'] when set (the one option Gantry applies); undefined otherwise and in stored stacks from before. */
  readonly security_opt?: readonly string[] | undefined;
  /** `develop` (watch rules for `gantry watch`); never part of the config hash. Undefined when unset. */
  readonly develop?: DevelopModel | undefined;
  /** Extension fields of the service (`x-` keys, notably `x-gantry`), passed through unchanged (key without
   *  change, i.e. still with the `x-` prefix). */
  readonly x: Readonly<Record<string, unknown>>;
}

export interface NetworkModel {
  /** Name of the network on the engine: `<project>_<key>` unless `name:` is set or it is external. */
  readonly name: string;
  readonly driver: string | undefined;
  readonly driver_opts: Readonly<Record<string, string>>;
  readonly external: boolean;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly enable_ipv6: boolean;
  readonly ipam: {
    readonly driver: string | undefined;
    readonly config: readonly { readonly subnet: string | undefined; readonly ip_range: string | undefined; readonly gateway: string | undefined }[];
  };
  readonly labels: Readonly<Record<string, string>>;
  readonly x: Readonly<Record<string, unknown>>;
}

export interface VolumeModel {
  /** Name of the volume on the engine: `<project>_<key>` unless `name:` is set or it is external. */
  readonly name: string;
  readonly driver: string | undefined;
  readonly driver_opts: Readonly<Record<string, string>>;
  readonly external: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly x: Readonly<Record<string, unknown>>;
}

/** A top-level secret or config: exactly one of file (absolute path), content, environment, or external. */
export interface FileObjectModel {
  readonly name: string;
  readonly file: string | undefined;
  readonly content: string | undefined;
  readonly environment: string | undefined;
  readonly external: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly x: Readonly<Record<string, unknown>>;
}

export interface StackModel {
  /** The normalised project name ([a-z0-9][a-z0-9_-]*). */
  readonly name: string;
  /** Absolute project directory. */
  readonly projectDir: string;
  /** The absolute paths of the files that were loaded (main files first, then extends/include files). */
  readonly files: readonly string[];
  /** Active profiles. */
  readonly profiles: readonly string[];
  /** Enabled services only (those filtered out by profiles are absent). */
  readonly services: Readonly<Record<string, ServiceModel>>;
  readonly networks: Readonly<Record<string, NetworkModel>>;
  readonly volumes: Readonly<Record<string, VolumeModel>>;
  readonly secrets: Readonly<Record<string, FileObjectModel>>;
  readonly configs: Readonly<Record<string, FileObjectModel>>;
  /** Top-level extension fields. */
  readonly x: Readonly<Record<string, unknown>>;
  /** Warnings found while loading (errors make loading fail instead). */
  readonly warnings: readonly Diagnostic[];
}
