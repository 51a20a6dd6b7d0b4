// Engine events in Docker's shape (`gantry events`, health/state changes), fanned out to subscribers.
export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'stack' | 'daemon' | 'deploy';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export type EventListener = (e: EngineEvent) => void;

/** How many past events the bus keeps for `events --since` (Docker keeps a bounded log in memory too). */
export const EVENT_HISTORY = 1024;

export class EventBus {
  private readonly listeners = new Set<EventListener>();
  private readonly history: EngineEvent[] = [];

  /** The kept events at or after `sinceNano`, oldest first. */
  since(sinceNano: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
    const e: EngineEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Math.floor(now / 1000), timeNano: now * 1_000_000 };
    this.history.push(e);
    if (this.history.length > EVENT_HISTORY) this.history.shift();
    for (const fn of this.listeners) {
      try { fn(e); } catch { /* a broken subscriber must not break the engine */ }
    }
  }
}
