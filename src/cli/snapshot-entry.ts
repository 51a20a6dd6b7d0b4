// The entry of the CLI's start-up snapshot (scripts/build-cli-snapshot.mjs bundles it and runs
// `node --build-snapshot` on the bundle; bin/gantry starts node from the blob). What is imported statically here is
// evaluated once, at build time, and starts already loaded: the command dispatcher, the container and stack commands,
// the stack loader and its schema validator, and the node modules they use. Everything else in the bundle is
// evaluated lazily, when a command imports it, as in the module build. Modules evaluated here must not read the
// environment, the clock or the working directory at their top level (the values would be the build machine's).
//
// Inside a snapshot there is no ES module loader: a command that needs a package only available as ES modules
// (the Kubernetes client) or the daemon itself runs through the module build instead (`runsOnlyFromModules`).
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { startupSnapshot } from 'node:v8';
import 'node:fs/promises';
import 'node:net';
import 'node:stream';
import { main, runsOnlyFromModules } from './main.js';
import './commands/containers.js';
import './commands/stack.js';
import './commands/build.js';
import { parseDockerfile } from '../engine/build/parse.js';
import { loadStack } from '../stack/index.js';
import { printableModel } from './commands/stack-config.js';

// One stack loaded at build time compiles the parser's, the validator's and the normaliser's hot paths into the
// snapshot (from a string: no file, no environment of the build machine is read).
const WARM_STACK = `name: warm
x-common: &common
  restart: unless-stopped
  labels: {team: warm}
services:
  web:
    <<: *common
    image: "nginx:\${TAG:-1}"
    command: ["nginx", "-g", "daemon off;"]
    environment: [A=1, "B=two words"]
    ports: ["8080:80", "127.0.0.1:9090:9090/udp"]
    volumes: ["data:/data:ro", "./site:/site"]
    networks: [front, back]
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: ["CMD", "true"], interval: 10s, timeout: 2s, retries: 3}
    deploy: {resources: {limits: {memory: 256m, cpus: "0.5", pids: 100}}}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: example
    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
    networks: [back]
networks: {front: {}, back: {}}
volumes: {data: {}}
`;
void loadStack({ files: ['-'], stdin: () => Promise.resolve(WARM_STACK), env: {}, cwd: '/' }).then((r) => printableModel(r.model));

// And one Dockerfile, for the build command's parser.
parseDockerfile('# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM ${BASE} AS base\nRUN --mount=type=cache,target=/c echo hi > /x\nCOPY --chown=1:1 a b /app/\nENV A=1 B="two words"\nWORKDIR /app\nEXPOSE 80/tcp\nHEALTHCHECK CMD ["true"]\nCMD ["sh", "-c", "echo $A"]\n', 'Dockerfile');

/** The project's root: bin/gantry starts node with `--snapshot-blob <root>/dist/cli/gantry.blob`. */
function projectRoot(): string {
  const i = process.execArgv.indexOf('--snapshot-blob');
  const blob = i >= 0 ? process.execArgv[i + 1] : undefined;
  if (blob === undefined) throw new Error('the CLI snapshot runs only under `node --snapshot-blob` (bin/gantry)');
  return resolve(blob, '..', '..', '..');
}

/** Runs the module build of the CLI with the same arguments and streams, and leaves with its status. */
function runFromModules(args: string[]): void {
  const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'gantry.js'), ...args], { stdio: 'inherit' });
  // The terminal's signals reach both processes; one sent to this process alone is passed on.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => { child.kill(sig); });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

startupSnapshot.setDeserializeMainFunction(() => {
  const args = process.argv.slice(1);
  if (runsOnlyFromModules(args)) runFromModules(args);
  else void main(args);
});
