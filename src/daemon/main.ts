// gantryd: the daemon. Serves the API on a unix socket; containers outlive it.
import { existsSync, readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError, isGantryError, noSpaceError } from '../common/errors.js';
import { resolveDaemonPaths } from '../common/paths.js';

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} gantryd: ${msg}\n`);
}

function parseArgs(argv: string[]): { root?: string; host?: string; prefix?: string } {
  const out: { root?: string; host?: string; prefix?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new GantryError('USAGE', `${flag} needs a value`);
      return v;
    };
    if (flag === '--root') out.root = value();
    else if (flag === '-H' || flag === '--host') out.host = value();
    else if (flag === '--prefix') out.prefix = value();
    else throw new GantryError('USAGE', `unknown flag ${a}`, { hint: 'gantryd [--root DIR] [-H unix:///path.sock] [--prefix NAME]' });
  }
  return out;
}

/** Refuses to share a root with a live daemon: two writers would corrupt state. */
function takePidFile(pidFile: string): void {
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 0 && pid !== process.pid) {
      let alive = false;
      try { alive = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('gantryd'); } catch { alive = false; }
      if (alive) throw new GantryError('DAEMON_START_FAILED', `another gantryd (pid ${pid}) already uses this root`, { hint: 'stop it, or give this one its own --root and -H' });
    }
  }
  writeFileSync(pidFile, `${process.pid}\n`);
}

export async function daemonMain(argv: string[]): Promise<void> {
  try {
    const opts = parseArgs(argv);
    if (process.getuid?.() !== 0) throw new GantryError('DAEMON_START_FAILED', 'gantryd must run as root (it creates namespaces, mounts and cgroups)', { hint: 'run it with sudo' });
    const paths = resolveDaemonPaths(opts);
    mkdirSync(paths.root, { recursive: true, mode: 0o700 });
    const pidFile = join(paths.root, 'gantryd.pid');
    takePidFile(pidFile);
    const [{ Daemon }, { buildRouter }, { ApiServer }] = await Promise.all([
      import('./engine.js'), import('../api/routes/index.js'), import('../api/server.js')]);
    // Shims detach from the process that spawned them (runtime/shim-process.ts): as a subreaper, the daemon gets
    // them as children again and reaps each when its container is done; without, init does.
    try {
      const { sysSetChildSubreaper } = await import('../sys/ffi.js');
      sysSetChildSubreaper();
    } catch (e) {
      log(`warning: cannot become a child subreaper (${e instanceof Error ? e.message : String(e)}): exited shims are left to init to reap`);
    }
    const engine = await Daemon.open(paths);
    const server = new ApiServer(buildRouter(engine.engine, engine.stacks, { prefix: paths.prefix, root: paths.root, cgroupVersion: engine.cgroups.version, warnings: () => [...engine.cgroups.warnings, ...engine.stateWarnings()] }, engine.registry, engine.deploy), log);
    await server.listen(paths.socket);
    log(`listening on unix://${paths.socket} (root ${paths.root}, prefix ${paths.prefix}, cgroup v${engine.cgroups.version})`);
    let stopping = false;
    const stop = async (): Promise<void> => {
      if (stopping) return;
      stopping = true;
      await engine.close();
      await server.close();
      const { flushPendingWrites } = await import('../common/atomic-file.js');
      await flushPendingWrites();
      try { unlinkSync(paths.socket); } catch { /* gone */ }
      try { unlinkSync(pidFile); } catch { /* gone */ }
      process.exit(0);
    };
    // A bug in one request must not take every container's supervisor down: log it loudly and go on (state is
    // on disk; the next request re-reads it).
    process.on('uncaughtException', (e) => log(`BUG (uncaught): ${e.stack ?? e.message}`));
    process.on('unhandledRejection', (e) => log(`BUG (unhandled rejection): ${e instanceof Error ? e.stack ?? e.message : String(e)}`));
    process.on('SIGTERM', () => void stop());
    process.on('SIGINT', () => void stop());
  } catch (thrown) {
    // One line the CLI can quote when autostart fails; the stack only when asked for. A full disk is said so.
    const e = isGantryError(thrown) ? thrown : noSpaceError(thrown) ?? thrown;
    if (isGantryError(e)) log(`error[${e.code}]: ${e.message}${e.hint ? ` (hint: ${e.hint})` : ''}`);
    else log(`cannot start: ${e instanceof Error ? e.message : String(e)}${process.env['GANTRY_DEBUG'] && e instanceof Error ? `\n${e.stack}` : ''}`);
    process.exit(1);
  }
}
