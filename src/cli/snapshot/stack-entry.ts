// The CLI's stack start-up snapshot (dist/cli/gantry-stack.blob): `stack`, `up`, `down`, `watch`, `deploy`.
// Loaded and warmed at build time: the stack commands and the stack loader, with one stack parsed from a string
// (the YAML reader, the schema validator, the normaliser, the YAML printer), read from no file and no environment.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import '../commands/containers.js';
import { warmCommandPaths } from '../commands/stack.js';
import { loadStack } from '../../stack/index.js';
import { modelYaml } from '../commands/stack-config.js';
import { setMain, warm } from './runtime.js';

// One stack loaded and printed at build time compiles the parser's, the validator's, the normaliser's and the
// printer's code into the snapshot (from a string: no file, no environment of the build machine is read).
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
// Then once more from a file of the warm-up's own dir (the file lookup and the read of the commands), and what a
// no-op `up -d` and a `stack ps` do with the model, against the stand-in daemon (warmCommandPaths).
warm(async (dir, socket) => {
  modelYaml((await loadStack({ files: ['-'], stdin: () => Promise.resolve(WARM_STACK), env: {}, cwd: '/' })).model);
  writeFileSync(join(dir, 'compose.yaml'), WARM_STACK);
  const { model } = await loadStack({ env: {}, cwd: dir });
  const sink = new Writable({ write: (_chunk, _encoding, done) => { done(); } });
  await warmCommandPaths(`unix://${socket}`, model, join(dir, 'config.json'), sink);
});

setMain('stack');
