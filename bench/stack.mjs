#!/usr/bin/env node
// Benchmark: load + validate + normalise a generated 100-service stack file.
// Medians of: in-process loadStack (warm), the whole `gantry stack config -f FILE` process, and `node -e 0`
// (the floor). Targets: in-process <= 20 ms; whole process <= node start-up + 60 ms.
// Run after a build: node bench/stack.mjs   (bench/run.mjs may import { run } from here).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function generateStack(n = 100) {
  const lines = ['name: bench', 'x-common: &common', '  restart: unless-stopped', '  labels:', '    team: bench', 'services:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  svc${i}:`,
      '    <<: *common',
      `    image: "registry.local/svc${i}:\${TAG:-1.0}"`,
      `    command: ["/bin/server", "--port", "80", "--id", "${i}"]`,
      '    environment:',
      `      - SERVICE_ID=${i}`,
      '      - LOG_LEVEL=info',
      `    ports: ["${10000 + i}:80", "127.0.0.1:${20000 + i}:9090/udp"]`,
      `    volumes: ["./data/svc${i}:/data:ro", "shared:/shared"]`,
      '    networks: [front, back]',
      ...(i > 0 ? ['    depends_on:', `      svc${i - 1}: {condition: service_started}`] : []),
      '    healthcheck:',
      '      test: ["CMD", "true"]',
      '      interval: 10s',
      '      timeout: 2s',
      '      retries: 3',
      '    deploy:',
      '      resources: {limits: {memory: 256m, cpus: "0.5", pids: 100}}',
      '    ulimits: {nofile: {soft: 1024, hard: 2048}}',
    );
  }
  lines.push('networks:', '  front: {}', '  back: {}', 'volumes:', '  shared: {}');
  return `${lines.join('\n')}\n`;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timeProcess(args, runs, file = process.execPath) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    execFileSync(file, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

export async function run({ runs = 15, inProcessRuns = 40, print = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-stack-'));
  try {
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, generateStack(100));
    const { loadStack } = await import(pathToFileURL(join(root, 'dist', 'src', 'stack', 'index.js')).href);
    const env = { PATH: process.env.PATH };
    for (let i = 0; i < 3; i++) await loadStack({ files: [file], env });
    const times = [];
    for (let i = 0; i < inProcessRuns; i++) {
      const t = process.hrtime.bigint();
      const { model } = await loadStack({ files: [file], env });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (Object.keys(model.services).length !== 100) throw new Error('bench: expected 100 services');
    }
    const inProcess = median(times);
    const nodeFloor = timeProcess(['-e', '0'], runs);
    const cli = timeProcess([join(root, 'bin', 'gantry.js'), 'stack', 'config', '-f', file], runs);
    const snapshot = timeProcess(['stack', 'config', '-f', file], runs, join(root, 'bin', 'gantry'));
    const entry = timeProcess([join(root, 'dist', 'src', 'cli', 'commands', 'stack-config-main.js'), '-f', file], runs);
    const result = {
      'stack: load+validate+normalise 100 services, in-process (ms)': inProcess,
      'stack: `gantry stack config` whole process, bin/gantry (snapshot) (ms)': snapshot,
      'stack: `gantry stack config` whole process, bin/gantry.js (modules) (ms)': cli,
      'stack: stack-config-main.js whole process (ms)': entry,
      'stack: node -e 0 (ms)': nodeFloor,
    };
    if (print) {
      console.log('\nstack config, 100-service file (medians)');
      console.log('| measurement | ms | target |');
      console.log('| --- | ---: | --- |');
      console.log(`| in-process loadStack | ${inProcess.toFixed(1)} | <= 20 |`);
      console.log(`| gantry stack config, bin/gantry (snapshot) | ${snapshot.toFixed(1)} | <= ${(nodeFloor + 40).toFixed(1)} (node + 40) |`);
      console.log(`| gantry stack config, bin/gantry.js (modules) | ${cli.toFixed(1)} | |`);
      console.log(`| stack-config-main.js (whole process) | ${entry.toFixed(1)} | <= ${(nodeFloor + 60).toFixed(1)} |`);
      console.log(`| node -e 0 (floor) | ${nodeFloor.toFixed(1)} | |`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run();
