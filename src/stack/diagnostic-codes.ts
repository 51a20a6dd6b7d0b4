// The one catalogue of stack-file diagnostic codes. Codes are stable: tests and users rely on them.
// Add new codes at the end of their group; never rename one.

export const DIAGNOSTIC_CODES = {
  // files and YAML
  SPEC_FILE_NOT_FOUND: 'a stack file (or a file it refers to) does not exist or cannot be read',
  SPEC_NO_FILE: 'no stack file was given and none was found in the working directory',
  SPEC_YAML_SYNTAX: 'the file is not valid YAML',
  SPEC_ALIAS_BOMB: 'YAML aliases expand to far more nodes than the file holds',
  SPEC_DUPLICATE_KEY: 'a mapping has the same key twice',
  SPEC_BAD_MERGE_KEY: 'a `<<` merge key does not refer to a mapping',
  SPEC_NOT_A_MAPPING: 'the document is not a mapping',
  SPEC_EMPTY_FILE: 'the stack files hold nothing (no `services:`, no other key)',
  SPEC_FILE_TOO_LARGE: 'a stack, included, extended or env file is larger than the size cap',
  SPEC_YAML_TOO_DEEP: 'the YAML nests deeper than the nesting cap',
  // interpolation and env files
  SPEC_INTERPOLATION_SYNTAX: 'a `${...}` expression is malformed',
  SPEC_INTERPOLATION_REQUIRED: 'a required variable (`${VAR:?msg}` / `${VAR?msg}`) is unset or empty',
  SPEC_UNSET_VARIABLE: 'a variable used without a default is not set; it becomes an empty string (warning)',
  SPEC_ENV_FILE_SYNTAX: 'a line of an env file is malformed',
  // schema
  SPEC_UNKNOWN_KEY: 'a key that the stack schema does not define',
  SPEC_INVALID_TYPE: 'a value of the wrong type',
  SPEC_INVALID_VALUE: 'a value outside the allowed set or format',
  SPEC_MISSING_KEY: 'a required key is missing',
  SPEC_INVALID_NAME: 'a service, network, volume, secret or config name is not allowed',
  SPEC_UNSUPPORTED_KEY: 'a key that Compose accepts but Gantry does not implement yet (warning)',
  SPEC_DEPRECATED_KEY: 'a form that Compose still accepts but has deprecated; it is honoured (warning)',
  SPEC_UNSUPPORTED_LOG_DRIVER: 'a logging driver other than json-file or none',
  SPEC_UNSUPPORTED_VALUE: 'a value Compose accepts that Gantry does not implement (e.g. a logging option)',
  // composition
  SPEC_EXTENDS_UNKNOWN: '`extends` refers to a service that does not exist',
  SPEC_EXTENDS_CYCLE: '`extends` chains form a cycle',
  SPEC_INCLUDE_CYCLE: '`include` chains form a cycle',
  SPEC_INCLUDE_CONFLICT: 'an included file defines a resource the including file already defines',
  SPEC_BAD_RESET: '`!reset` / `!override` used where it cannot apply',
  // semantics
  SPEC_UNKNOWN_DEPENDENCY: '`depends_on` names a service that is not defined',
  SPEC_INACTIVE_DEPENDENCY: '`depends_on` names a service that is disabled by profiles',
  SPEC_UNKNOWN_LINK: '`links` names a service that is not defined',
  SPEC_UNKNOWN_NETWORK_MODE_SERVICE: '`network_mode: service:X` names a service that is not defined',
  SPEC_UNKNOWN_VOLUMES_FROM: '`volumes_from` names a service that is not defined',
  SPEC_DEPENDENCY_CYCLE: 'services depend on each other in a cycle',
  SPEC_UNDEFINED_NETWORK: 'a service uses a network not declared under top-level `networks`',
  SPEC_UNDEFINED_VOLUME: 'a service mounts a named volume not declared under top-level `volumes`',
  SPEC_UNDEFINED_SECRET: 'a service uses a secret not declared under top-level `secrets`',
  SPEC_UNDEFINED_CONFIG: 'a service uses a config not declared under top-level `configs`',
  SPEC_CONTAINER_NAME_REPLICAS: '`container_name` is set on a service with more than one replica',
  SPEC_DUPLICATE_HOST_PORT: 'two ports in the stack publish the same host port',
  SPEC_NO_IMAGE: 'a service has neither `image` nor `build`',
  SPEC_BAD_PROJECT_NAME: 'the project name is empty after normalisation',
  SPEC_PROFILE_UNKNOWN: 'an active profile is used by no service (warning)',
  SPEC_WATCH_NO_BUILD: 'a `develop.watch` rule with `action: rebuild` on a service without `build`',
  // policy: risky host access (warnings; errors in strict mode) and paths outside the project (strict mode)
  SPEC_RISKY_PRIVILEGED: 'a service runs privileged',
  SPEC_RISKY_CAPABILITY: 'a service adds a capability beyond Docker\'s default set',
  SPEC_RISKY_HOST_NAMESPACE: 'a service shares a namespace of the host (network, pid, ipc, uts, user)',
  SPEC_RISKY_BIND: 'a service bind-mounts the host root, a system directory or the daemon socket',
  SPEC_RISKY_DEVICE: 'a service is given a host device',
  SPEC_RISKY_SECCOMP: 'a service turns the seccomp filter off (`security_opt: [seccomp:unconfined]`)',
  SPEC_PATH_OUTSIDE_PROJECT: 'in strict mode, a path the stack names is outside the project directory',
  // `stack convert --to kubernetes` (src/kube)
  KUBE_UNMAPPED_KEY: 'a key that has no Kubernetes mapping; it is left out of the converted objects (warning)',
  KUBE_HOST_BIND: 'a host bind mount: a cluster has no host files to mount',
  KUBE_NAME_CHANGED: 'a name is not a valid Kubernetes name and was changed (warning)',
  KUBE_SHARED_VOLUME: 'a named volume is mounted by several pods: its claim needs ReadWriteMany (warning)',
  KUBE_LOCAL_IMAGE: 'a service builds its image locally: the cluster can pull it only after `gantry stack push` (warning)',
  KUBE_BAD_VALUE: 'a value that cannot be expressed in Kubernetes (an invalid name, quantity or file)',
  // `stack convert --to swarm` (src/swarm)
  SWARM_UNMAPPED_KEY: 'a key that `docker stack deploy` ignores or refuses; it is left out of the converted file (warning)',
  SWARM_HOST_BIND: 'a host bind mount: the path must exist on every node a task may run on (warning)',
  SWARM_INLINE_FILE: 'a secret or config with inline content or from the environment: swarm needs a file, written by `-o DIR`',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;
