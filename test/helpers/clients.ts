// Docker's own clients pointed at a private gantryd (conformance tier): the docker CLI with its default API
// negotiation, Debian's docker-compose and python3-docker, each run under `timeout -s KILL` (the docker CLI
// ignores SIGTERM while attached), so a hanging client fails its test instead of the run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RunResult, TestDaemon } from './daemon.js';

export const DOCKER_CLI = '/usr/local/bin/docker';
export const DOCKER_COMPOSE = '/usr/bin/docker-compose';
/** Debian's python, where python3-docker is installed (a pyenv python3 may come first in PATH). */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** The environment a user would have: DOCKER_HOST at gantryd, an empty docker config, no pinned API version. */
export function clientEnv(d: TestDaemon): NodeJS.ProcessEnv {
  const config = join(d.dir, 'docker-config');
  mkdirSync(config, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${d.socket}`, DOCKER_CONFIG: config };
  for (const k of ['DOCKER_API_VERSION', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'COMPOSE_API_VERSION']) delete env[k];
  return env;
}

export interface ClientRunOptions { input?: string; timeoutSeconds?: number; cwd?: string; env?: Record<string, string> }

/** Runs `cmd args` killed after the timeout (exit 137 then). */
export function runClient(d: TestDaemon, cmd: string, args: readonly string[], opts: ClientRunOptions = {}): RunResult {
  const r = spawnSync('timeout', ['-s', 'KILL', String(opts.timeoutSeconds ?? 60), cmd, ...args], {
    env: { ...clientEnv(d), ...opts.env }, encoding: 'utf8', input: opts.input ?? '', cwd: opts.cwd ?? d.dir,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The same, in the background (for clients that stream while the test acts). */
export function spawnClient(d: TestDaemon, cmd: string, args: readonly string[], opts: ClientRunOptions = {}): { output: () => string; done: Promise<RunResult> } {
  const proc = spawn('timeout', ['-s', 'KILL', String(opts.timeoutSeconds ?? 60), cmd, ...args], { env: { ...clientEnv(d), ...opts.env }, cwd: opts.cwd ?? d.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  proc.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const done = new Promise<RunResult>((resolve) => proc.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr })));
  return { output: () => stdout, done };
}

export function docker(d: TestDaemon, args: readonly string[], opts: ClientRunOptions = {}): RunResult {
  return runClient(d, DOCKER_CLI, args, opts);
}

/** Fails with everything a reader needs when the command does not exit 0. */
export function dockerOk(d: TestDaemon, args: readonly string[], opts: ClientRunOptions = {}): string {
  const r = docker(d, args, opts);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\ndaemon log:\n${d.logText.slice(-2000)}`);
  return r.stdout;
}

/** A Python program run by Debian's python3 with the docker SDK; `docker.from_env()` reads DOCKER_HOST. */
export function python(d: TestDaemon, program: string, opts: ClientRunOptions = {}): RunResult {
  return runClient(d, DEBIAN_PYTHON, ['-c', program], opts);
}
