#!/usr/bin/env node
// Benchmark: `stack convert --to kubernetes` of a generated 100-service stack. Medians of: in-process convert
// (load excluded), validateObjects of its output, the whole `gantry stack convert` process next to the whole
// `gantry stack config` process (the baseline: same load), and the import of @kubernetes/client-node, which only
// `stack deploy` pays (why it is imported lazily). Run after a build: node bench/kube.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function generate(n) {
  const lines = ['name: bench', 'services:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  svc${i}:`, `    image: registry.local/svc${i}:1.0`, '    command: ["/bin/server", "--port", "80"]', '    environment: {LOG_LEVEL: info}',
      `    ports: ["${10000 + i}:80"]`, '    volumes: ["shared:/shared"]', '    healthcheck: {test: ["CMD", "true"], interval: 10s}',
      '    deploy: {replicas: 2, resources: {limits: {memory: 256m, cpus: "0.5"}}}',
      ...(i > 0 ? [`    depends_on: {svc${i - 1}: {condition: service_healthy}}`] : []));
  }
  lines.push('volumes:', '  shared: {}');
  return `${lines.join('\n')}\n`;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timeProcess(args, runs) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'ignore'] });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
}

export async function run({ runs = 9, inProcessRuns = 20 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-kube-'));
  try {
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, generate(100));
    const { loadStack } = await import(pathToFileURL(join(root, 'dist', 'src', 'stack', 'index.js')).href);
    const { convertStack } = await import(pathToFileURL(join(root, 'dist', 'src', 'kube', 'convert.js')).href);
    const { validateObjects } = await import(pathToFileURL(join(root, 'dist', 'src', 'kube', 'validate.js')).href);
    const r = await loadStack({ files: [file], env: {} });
    const conv = [];
    const val = [];
    let objects = [];
    for (let i = 0; i < inProcessRuns; i++) {
      let t = process.hrtime.bigint();
      objects = convertStack(r.model, r.source, { readFile: () => Buffer.alloc(0) }).objects;
      conv.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      const problems = await validateObjects(objects);
      val.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (problems.length > 0) throw new Error(`bench: invalid objects: ${problems[0].message}`);
    }
    const importClient = timeProcess(['--input-type=module', '-e', "await import('@kubernetes/client-node')"], runs) - timeProcess(['-e', '0'], runs);
    return {
      name: 'kube',
      results: [
        { name: `convert 100 services (${objects.length} objects), in-process`, value: median(conv), unit: 'ms' },
        { name: 'validateObjects of them (schemas + unknown fields + names)', value: median(val), unit: 'ms' },
        { name: '`gantry stack convert --to kubernetes` whole process', value: timeProcess([join(root, 'bin', 'gantry.js'), 'stack', 'convert', '--to', 'kubernetes', '-f', file], runs), unit: 'ms' },
        { name: '`gantry stack config` whole process (baseline: same load)', value: timeProcess([join(root, 'bin', 'gantry.js'), 'stack', 'config', '-f', file], runs), unit: 'ms' },
        { name: 'import @kubernetes/client-node (only deploy pays it)', value: importClient, unit: 'ms' },
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await run();
  for (const r of out.results) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit}`);
}
