// `gantry watch`: the session wired to chokidar, the daemon's events stream and Ctrl-C. The stack stays up when
// watch ends. The events stream ending means the daemon went away: watch says so, polls until it answers, then
// resyncs every container (changes made meanwhile are batched as usual and applied after the resync).

import { lstat, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FSWatcher } from 'chokidar';
import { systemClock } from '../engine/clock.js';
import type { StackModel } from '../stack/model.js';
import type { DaemonPort } from './daemon-port.js';
import { manifestFile, SyncManifest, watchStateDir } from './manifest.js';
import { WatchSession } from './session.js';

export interface WatchRunOptions {
  readonly quiet: boolean;
  readonly quietMs?: number | undefined;
  readonly out?: (line: string) => void;
  /** Resolves to stop watching (default: the first SIGINT or SIGTERM). */
  readonly until?: Promise<void>;
  /** Rebuilds a service's image and recreates only its containers (`rebuild` rules); false when the build failed. */
  readonly rebuild?: (service: string) => Promise<boolean>;
  /** The daemon watched (its socket): with the project it names the record of what was synced (manifest.ts). */
  readonly daemon: string;
}

async function readSmallText(path: string): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || !st.isFile() || st.size > 1024 * 1024) return undefined;
  return readFile(path, 'utf8').catch(() => undefined);
}

async function followEvents(session: WatchSession, port: DaemonPort, project: string, stopped: () => boolean, say: (s: string) => void): Promise<void> {
  let lost = false;
  while (!stopped()) {
    try {
      const events = port.events(project);
      if (lost) { say('watch: the daemon is back; resyncing'); session.daemonBack(); lost = false; }
      for await (const e of events) {
        if (stopped()) return;
        session.containerEvent(e.action, e.id, e.service);
      }
    } catch {
      /* the stream failed to open or broke: handled below */
    }
    if (stopped()) return;
    if (!lost) say('watch: lost the daemon; waiting for it to come back');
    lost = true;
    while (!stopped() && !(await port.ping())) await new Promise((r) => setTimeout(r, 250));
  }
}

/** chokidar drops a path's `change` events for 50 ms after one it emitted (no trailing event): a save right
 *  after another would be lost. So each file event is followed by a look 60 ms later; a file that changed again
 *  meanwhile is reported once more (and looked at again). */
function throttleGuard(emit: (path: string) => void): (path: string) => void {
  const pending = new Map<string, NodeJS.Timeout>();
  const look = (path: string): void => {
    clearTimeout(pending.get(path));
    void lstat(path).then((was) => ({ size: was.size, mtimeMs: was.mtimeMs }), () => undefined).then((was) => {
      pending.set(path, setTimeout(() => {
        pending.delete(path);
        void lstat(path).then((now) => {
          if (was === undefined || now.size !== was.size || now.mtimeMs !== was.mtimeMs) { emit(path); look(path); }
        }, () => undefined);
      }, 60).unref());
    });
  };
  return look;
}

export async function runWatch(model: StackModel, services: readonly string[], port: DaemonPort, o: WatchRunOptions): Promise<void> {
  const say = o.out ?? ((line: string) => { process.stdout.write(`${line}\n`); });
  const manifest = new SyncManifest(manifestFile(watchStateDir(), o.daemon, model.name, model.projectDir), say);
  const session = new WatchSession(model, services, port, systemClock, { quiet: o.quiet, quietMs: o.quietMs, out: say, readText: readSmallText, rebuild: o.rebuild, manifest });
  await session.prepare();
  if (session.rules.length === 0) {
    say('watch: no rule to watch (every rule was skipped)');
    return;
  }
  let stop = false;
  const until = o.until ?? new Promise<void>((res) => { process.once('SIGINT', () => res()); process.once('SIGTERM', () => res()); });
  const { watch } = await import('chokidar');
  const watchers: FSWatcher[] = [];
  const ready: Promise<void>[] = [];
  for (const w of session.rules) {
    // a path that does not exist yet (a file the rule names, created later) is watched from its parent
    const exists = await stat(w.rule.path).then(() => true, () => false);
    const root = exists ? w.rule.path : dirname(w.rule.path);
    const watcher = watch(root, {
      ignoreInitial: true, atomic: false, followSymlinks: false, persistent: true, depth: exists ? undefined : 0,
      ignored: (path: string, st?: { isDirectory(): boolean }) => path !== root && w.filter.ignores(path, st?.isDirectory() ?? false),
    });
    const again = throttleGuard((path) => session.change({ path, kind: 'write', isDir: false }));
    watcher.on('add', (path) => { session.change({ path, kind: 'write', isDir: false }); again(path); });
    watcher.on('change', (path) => { session.change({ path, kind: 'write', isDir: false }); again(path); });
    watcher.on('addDir', (path) => session.change({ path, kind: 'write', isDir: true }));
    watcher.on('unlink', (path) => session.change({ path, kind: 'remove', isDir: false }));
    watcher.on('unlinkDir', (path) => session.change({ path, kind: 'remove', isDir: true }));
    watcher.on('error', (e) => say(`watch: ${w.rule.path}: ${e instanceof Error ? e.message : String(e)}`));
    ready.push(new Promise((res) => watcher.once('ready', () => res())));
    watchers.push(watcher);
  }
  await Promise.all(ready);
  const eventsDone = followEvents(session, port, model.name, () => stop, say);
  await session.initialSync();
  say(`watch: watching ${session.rules.length} rule${session.rules.length === 1 ? '' : 's'} of ${[...new Set(session.rules.map((r) => r.service))].join(', ')} (Ctrl-C stops watching; the stack stays up)`);
  await until;
  stop = true;
  await Promise.all(watchers.map((w) => w.close()));
  await session.close();
  void eventsDone;
  say('watch: stopped; the stack is still up');
}
