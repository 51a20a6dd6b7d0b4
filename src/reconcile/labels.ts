// Every label key the reconciler reads or writes, in one place. Objects without PROJECT are never touched.
export const LABEL = {
  PROJECT: 'gantry.project',
  SERVICE: 'gantry.service',
  NUMBER: 'gantry.number',
  CONFIG_HASH: 'gantry.config-hash',
  ONE_OFF: 'gantry.oneoff',
  NETWORK: 'gantry.network',
  VOLUME: 'gantry.volume',
  /** Set from `x-gantry: { restart-on-unhealthy: true }`: the health monitor restarts the container when it
   *  turns unhealthy (Docker does not, moby#28400). */
  RESTART_ON_UNHEALTHY: 'gantry.restart-on-unhealthy',
} as const;

/** The `com.docker.compose.*` equivalents, for tools that read compose labels. */
export const COMPOSE_LABEL = {
  PROJECT: 'com.docker.compose.project',
  SERVICE: 'com.docker.compose.service',
  NUMBER: 'com.docker.compose.container-number',
  CONFIG_HASH: 'com.docker.compose.config-hash',
  ONE_OFF: 'com.docker.compose.oneoff',
  NETWORK: 'com.docker.compose.network',
  VOLUME: 'com.docker.compose.volume',
} as const;

/** Labels that mark a container as `<project>-<service>-<number>`. */
export function containerLabels(project: string, service: string, num: number, hash: string, oneOff = false): Record<string, string> {
  return {
    [LABEL.PROJECT]: project, [LABEL.SERVICE]: service, [LABEL.NUMBER]: String(num), [LABEL.CONFIG_HASH]: hash,
    [LABEL.ONE_OFF]: oneOff ? 'True' : 'False',
    [COMPOSE_LABEL.PROJECT]: project, [COMPOSE_LABEL.SERVICE]: service, [COMPOSE_LABEL.NUMBER]: String(num),
    [COMPOSE_LABEL.CONFIG_HASH]: hash, [COMPOSE_LABEL.ONE_OFF]: oneOff ? 'True' : 'False',
  };
}

export function networkLabels(project: string, key: string): Record<string, string> {
  return { [LABEL.PROJECT]: project, [LABEL.NETWORK]: key, [COMPOSE_LABEL.PROJECT]: project, [COMPOSE_LABEL.NETWORK]: key };
}

export function volumeLabels(project: string, key: string): Record<string, string> {
  return { [LABEL.PROJECT]: project, [LABEL.VOLUME]: key, [COMPOSE_LABEL.PROJECT]: project, [COMPOSE_LABEL.VOLUME]: key };
}

/** `<project>-<service>-<n>`, the name of a service's n-th container. */
export function containerName(project: string, service: string, num: number): string {
  return `${project}-${service}-${num}`;
}
