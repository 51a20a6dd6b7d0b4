#!/usr/bin/env node
// Runs test tiers from dist/: unit (no root), integration (root, real kernel), e2e (root, whole stacks),
// conformance (root: Docker's own clients — docker CLI, docker-compose, dockerode, docker-py — against gantryd).
// Privileged tests skip with their reason on a laptop and FAIL when GANTRY_REQUIRE_PRIVILEGED=1 (CI).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tier = process.argv[2] ?? 'all';
const tiers = tier === 'all' ? ['unit', 'integration', 'e2e', 'conformance'] : [tier];
const extra = process.argv.slice(3);

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return collect(p);
    return name.endsWith('.test.js') ? [p] : [];
  }).sort();
}

let failed = false;
for (const t of tiers) {
  let files = collect(join(root, 'dist', 'test', t));
  if (extra.length) files = files.filter((f) => extra.some((e) => f.includes(e)));
  if (files.length === 0) continue;
  console.log(`\n## ${t} tests (${files.length} files)`);
  const concurrency = t === 'unit' ? [] : ['--test-concurrency=1'];
    // A CLI a test spawns with no socket of its own must never autostart the default daemon (/run/gantry,
  // /var/lib/gantry): tests that mean to autostart set GANTRY_AUTOSTART=1 with a private socket.
  const env = { ...process.env, GANTRY_AUTOSTART: process.env.GANTRY_AUTOSTART ?? '0' };
  const r = spawnSync(process.execPath, ['--test', ...concurrency, ...files], { stdio: 'inherit', cwd: root, env });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
