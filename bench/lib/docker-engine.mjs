// Debian's docker.io engine for side-by-side figures, started so that it changes nothing of the host: its own
// data/exec roots and socket, no iptables rules (--iptables=false), no forwarding sysctl (--ip-forward=false), no
// docker0 (--bridge=none). The host's firewall rules and links are read before and after; a difference is
// reported (and the run fails), never left silently. Stopped by its own PID.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DOCKERD = '/usr/sbin/dockerd';

const hostNetState = () => [
  spawnSync('iptables', ['-S'], { encoding: 'utf8' }).stdout ?? '',
  spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(':')[1]?.trim()).filter((n) => n && !/^gt/.test(n)).sort().join(','),
  spawnSync('sysctl', ['-n', 'net.ipv4.ip_forward'], { encoding: 'utf8' }).stdout.trim(),
].join('\n');

/**
 * Runs fn(env) with DOCKER_HOST pointing at a private dockerd; undefined when dockerd or the docker CLI is missing.
 * `opts.deferRemoval`: an array the removal of the engine's data is pushed onto instead of done at once (a bench
 * that compares extractions keeps deletions out of its measured rounds).
 */
export async function withDockerEngine(fn, opts = {}) {
  if (!existsSync(DOCKERD) || spawnSync('docker', ['--version']).status !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-dockerd-'));
  const sock = join(dir, 'docker.sock');
  const before = hostNetState();
  const proc = spawn(DOCKERD, ['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'pid'),
    '-H', `unix://${sock}`, '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--bridge=none', '--storage-driver=overlay2'],
  { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'config') };
  try {
    for (let i = 0; i < 150; i++) {
      if (spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { env, timeout: 2000 }).status === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const version = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8' }).stdout.trim();
    if (!version) throw new Error('the private dockerd did not answer');
    return await fn(env, version);
  } finally {
    try { process.kill(-proc.pid, 'SIGTERM'); } catch { /* gone */ }
    for (let i = 0; i < 100 && proc.exitCode === null && proc.signalCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    try { process.kill(-proc.pid, 'SIGKILL'); } catch { /* gone */ }
    const remove = () => {
      spawnSync('umount', ['-R', '-l', join(dir, 'data')]);
      spawnSync('umount', ['-R', '-l', join(dir, 'exec')]);
      rmSync(dir, { recursive: true, force: true });
    };
    if (opts.deferRemoval !== undefined) opts.deferRemoval.push(remove);
    else remove();
    const after = hostNetState();
    if (after !== before) throw new Error(`the private dockerd changed the host's network state:\nbefore:\n${before}\nafter:\n${after}`);
  }
}
