// Engine events in Docker's shape (`gantry events`, health/state changes), fanned out to subscribers.
export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'stack';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export type EventListener = (e: EngineEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
    const e: EngineEvent = { Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Math.floor(now / 1000), timeNano: now * 1_000_000 };
    for (const fn of this.listeners) {
      try { fn(e); } catch { /* a broken subscriber must not break the engine */ }
    }
  }
}
