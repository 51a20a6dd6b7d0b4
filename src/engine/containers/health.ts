// Healthchecks with Docker's semantics: CMD / CMD-SHELL probes run as execs inside the container every
// `interval` (`start_interval` during `start_period`), each bounded by `timeout`; `retries` consecutive
// failures make it unhealthy, one success makes it healthy; failures during the start period do not count.
// The status and the last 5 results live in the container record (inspect, ps) and changes are events
// (`health_status: healthy|unhealthy`). Beyond Docker (moby#28400): a container labelled
// `gantry.restart-on-unhealthy=true` is restarted when it turns unhealthy.
import { Duplex } from 'node:stream';
import type { EventBus } from '../events/bus.js';
import type { ExecManager } from './exec.js';
import type { ContainerManager } from './manager.js';
import type { Clock, Timer } from '../clock.js';
import type { ContainerView, HealthLogEntry, HealthState } from './record.js';
import type { ContainerStore } from './store.js';

export const RESTART_ON_UNHEALTHY_LABEL = 'gantry.restart-on-unhealthy';
const MAX_LOG = 5;
const MAX_OUTPUT = 4096;

interface Watch { generation: number; timer: Timer | undefined; startedAtMs: number }

export interface HealthMonitorOptions {
  store: ContainerStore;
  execs: ExecManager;
  containers: ContainerManager;
  events: EventBus;
  clock: Clock;
}

/** A write-only stream that keeps what the exec printed (Docker's multiplexed frames, headers stripped). */
class OutputSink extends Duplex {
  private buf = Buffer.alloc(0);
  override _read(): void { /* nothing to read: probes get no stdin */ }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    if (this.buf.length < MAX_OUTPUT * 2) this.buf = Buffer.concat([this.buf, chunk]);
    cb();
  }
  text(): string {
    const parts: Buffer[] = [];
    let b = this.buf;
    while (b.length >= 8 && (b[0] === 1 || b[0] === 2) && b[1] === 0) {
      const len = b.readUInt32BE(4);
      parts.push(b.subarray(8, 8 + len));
      b = b.subarray(8 + len);
    }
    return Buffer.concat(parts).toString('utf8').slice(0, MAX_OUTPUT);
  }
}

export class HealthMonitor {
  private readonly watches = new Map<string, Watch>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: HealthMonitorOptions) {}

  /** Watches every running container with a healthcheck, now and as they start. */
  start(): void {
    this.unsubscribe = this.o.events.subscribe((e) => {
      if (e.Type !== 'container') return;
      if (e.Action === 'start') this.watch(e.Actor.ID);
      else if (['die', 'oom', 'stop', 'destroy', 'kill'].includes(e.Action)) this.unwatchIfStopped(e.Actor.ID);
    });
    for (const rec of this.o.store.all()) if (rec.state.status === 'running') this.watch(rec.id);
  }

  stop(): void {
    this.unsubscribe?.();
    for (const w of this.watches.values()) w.timer?.cancel();
    this.watches.clear();
  }

  private unwatchIfStopped(id: string): void {
    const rec = this.o.store.find(id);
    if (rec !== undefined && rec.state.status === 'running') return;
    this.watches.get(id)?.timer?.cancel();
    this.watches.delete(id);
  }

  private watch(id: string): void {
    const rec = this.o.store.find(id);
    const hc = rec?.config.healthcheck;
    if (rec === undefined || hc === undefined || hc.test[0] === 'NONE') return;
    this.watches.get(id)?.timer?.cancel();
    if (rec.state.health === undefined) this.o.containers.reportHealth(id, rec.state.generation, { status: 'starting', failingStreak: 0, log: [] });
    const startedAtMs = Date.parse(rec.state.startedAt);
    const w: Watch = { generation: rec.state.generation, timer: undefined, startedAtMs: Number.isFinite(startedAtMs) ? startedAtMs : this.o.clock.now() };
    this.watches.set(id, w);
    this.schedule(id, w);
  }

  private schedule(id: string, w: Watch): void {
    const rec = this.o.store.find(id);
    const hc = rec?.config.healthcheck;
    if (rec === undefined || hc === undefined) return;
    const inStartPeriod = this.o.clock.now() - w.startedAtMs < hc.startPeriodMs;
    const delay = inStartPeriod && rec.state.health?.status === 'starting' ? hc.startIntervalMs : hc.intervalMs;
    w.timer = this.o.clock.after(delay, () => { void this.probe(id, w); });
  }

  private current(id: string, w: Watch): ContainerView | undefined {
    const rec = this.o.store.find(id);
    if (rec === undefined || this.watches.get(id) !== w || rec.state.generation !== w.generation) return undefined;
    return rec;
  }

  private async probe(id: string, w: Watch): Promise<void> {
    const rec = this.current(id, w);
    if (rec === undefined) return;
    if (rec.state.status !== 'running') { if (rec.state.status === 'paused') this.schedule(id, w); return; }
    const hc = rec.config.healthcheck!;
    const start = new Date(this.o.clock.now());
    const result = await this.runProbe(rec, hc.test, hc.timeoutMs);
    const now = this.current(id, w);
    if (now === undefined) return;
    const entry: HealthLogEntry = { start: start.toISOString(), end: new Date(this.o.clock.now()).toISOString(), exitCode: result.exitCode, output: result.output };
    const h: HealthState = now.state.health === undefined ? { status: 'starting', failingStreak: 0, log: [] } : structuredClone(now.state.health) as HealthState;
    const before = h.status;
    const log = [...h.log, entry].slice(-MAX_LOG);
    let status = h.status;
    let failingStreak = h.failingStreak;
    if (result.exitCode === 0) {
      status = 'healthy';
      failingStreak = 0;
    } else {
      const inStartPeriod = start.getTime() - w.startedAtMs < hc.startPeriodMs;
      if (!inStartPeriod || status !== 'starting') {
        failingStreak += 1;
        if (failingStreak >= hc.retries) status = 'unhealthy';
      }
    }
    const restartNow = status !== before && status === 'unhealthy' && now.config.labels[RESTART_ON_UNHEALTHY_LABEL] === 'true';
    // Counted like a restart-policy restart (inspect's RestartCount), before it starts, as the manager does.
    if (this.o.containers.reportHealth(id, w.generation, { status, failingStreak, log }, restartNow) === undefined) return;
    if (status !== before) {
      this.o.events.emit('container', `health_status: ${status}`, id, { ...now.config.labels, image: now.config.image, name: now.name });
      if (restartNow) {
        this.watches.delete(id);
        this.o.events.emit('container', 'restart-unhealthy', id, { ...now.config.labels, image: now.config.image, name: now.name });
        void this.o.containers.restart(id).catch(() => undefined);
        return;
      }
    }
    this.schedule(id, w);
  }

  /** Runs one probe: exit code and output; a probe past its timeout is killed and counts as failed. */
  private async runProbe(rec: ContainerView, test: readonly string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const cmd = test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', test.slice(1).join(' ')] : test[0] === 'CMD' ? test.slice(1) : [...test];
    const sink = new OutputSink();
    let execId: string;
    let finished: Promise<number>;
    try {
      execId = this.o.execs.create(rec.id, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
      ({ finished } = await this.o.execs.start(execId, sink));
    } catch (e) {
      return { exitCode: -1, output: e instanceof Error ? e.message : String(e) };
    }
    let timer: Timer | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = this.o.clock.after(timeoutMs, () => resolve('timeout')); });
    const code = await Promise.race([finished, timedOut]);
    timer?.cancel();
    if (code === 'timeout') {
      this.o.execs.kill(execId);
      return { exitCode: -1, output: `Health check exceeded timeout (${timeoutMs / 1000}s)` };
    }
    return { exitCode: code, output: sink.text() };
  }
}
