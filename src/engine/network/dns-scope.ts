// What one client may resolve: the names of every network its container is on (Docker's rule), as a read-only
// DnsTable over the per-network tables, first network first. A client on a single network sees exactly that
// network's table, so containers on different networks never resolve each other.
import { DnsTable } from './dns.js';

export class ScopedDnsTable extends DnsTable {
  constructor(private readonly tables: readonly DnsTable[]) {
    super();
  }

  override has(name: string): boolean {
    return this.tables.some((t) => t.has(name));
  }

  /** Addresses from every table that knows the name (each rotated by its own table), without duplicates. */
  override lookup(name: string): string[] | undefined {
    const found = this.tables.flatMap((t) => t.lookup(name) ?? []);
    return found.length === 0 ? undefined : [...new Set(found)];
  }

  override reverse(address: string): string | undefined {
    for (const t of this.tables) {
      const name = t.reverse(address);
      if (name !== undefined) return name;
    }
    return undefined;
  }

  override names(): string[] {
    return [...new Set(this.tables.flatMap((t) => t.names()))].sort();
  }
}
