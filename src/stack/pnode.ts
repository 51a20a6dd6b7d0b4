// A positioned YAML tree: plain data plus, for every node and every mapping key, where it came from.
// Positions survive interpolation, merging, extends and include, so diagnostics point at the source.

export interface Pos {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly col: number;
  /** Characters to underline (at least 1, never past the end of the line). */
  readonly length: number;
  /** Directory that relative paths in this node resolve against. */
  readonly base: string;
}

export type Tag = 'reset' | 'override' | undefined;
export type ScalarValue = string | number | boolean | null;

export interface PScalar {
  readonly kind: 'scalar';
  readonly value: ScalarValue;
  readonly pos: Pos;
  /** True for an unquoted scalar (its value is re-typed after interpolation, as YAML would type it). */
  readonly plain: boolean;
  readonly tag: Tag;
}

export interface PEntry {
  readonly key: string;
  readonly keyPos: Pos;
  readonly value: PNode;
}

export interface PMap {
  readonly kind: 'map';
  readonly entries: Map<string, PEntry>;
  readonly pos: Pos;
  readonly tag: Tag;
}

export interface PSeq {
  readonly kind: 'seq';
  readonly items: PNode[];
  readonly pos: Pos;
  readonly tag: Tag;
}

export type PNode = PScalar | PMap | PSeq;
export type PathSeg = string | number;

export function pmap(pos: Pos, entries: Map<string, PEntry> = new Map(), tag: Tag = undefined): PMap {
  return { kind: 'map', entries, pos, tag };
}

export function pseq(pos: Pos, items: PNode[] = [], tag: Tag = undefined): PSeq {
  return { kind: 'seq', items, pos, tag };
}

export function pscalar(pos: Pos, value: ScalarValue, plain = false, tag: Tag = undefined): PScalar {
  return { kind: 'scalar', value, pos, plain, tag };
}

export function getEntry(node: PNode | undefined, key: string): PEntry | undefined {
  return node?.kind === 'map' ? node.entries.get(key) : undefined;
}

export function getChild(node: PNode | undefined, seg: PathSeg): PNode | undefined {
  if (node === undefined) return undefined;
  if (typeof seg === 'number') return node.kind === 'seq' ? node.items[seg] : undefined;
  return node.kind === 'map' ? node.entries.get(seg)?.value : undefined;
}

/** The position of the node at `path` (or of its key with `key: true`); falls back to the nearest ancestor. */
export function locate(root: PNode, path: readonly PathSeg[], key = false): Pos {
  let node: PNode = root;
  let pos = root.pos;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] as PathSeg;
    if (typeof seg === 'string' && node.kind === 'map') {
      const entry = node.entries.get(seg);
      if (entry === undefined) return pos;
      node = entry.value;
      pos = key && i === path.length - 1 ? entry.keyPos : entry.value.pos;
    } else if (typeof seg === 'number' && node.kind === 'seq') {
      const item = node.items[seg];
      if (item === undefined) return pos;
      node = item;
      pos = item.pos;
    } else {
      return pos;
    }
  }
  return pos;
}

/** Plain JS data: maps become objects (in key order), sequences arrays. */
export function toPlain(node: PNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map': {
      const out: Record<string, unknown> = {};
      node.entries.forEach((e, k) => {
        out[k] = toPlain(e.value);
      });
      return out;
    }
  }
}

/** Number of nodes, counting shared subtrees once per reference (the size after alias expansion). */
export function expandedSize(node: PNode, memo = new Map<PNode, number>()): number {
  if (node.kind === 'scalar') return 1; // a leaf: no memo needed
  const known = memo.get(node);
  if (known !== undefined) return known;
  // A node that contains itself (a recursive alias) expands without end.
  memo.set(node, Number.POSITIVE_INFINITY);
  let size = 1;
  if (node.kind === 'seq') {
    for (const item of node.items) size += item.kind === 'scalar' ? 1 : expandedSize(item, memo);
  } else {
    // forEach, not for-of: cheaper in the interpreter, where a CLI's one load runs.
    node.entries.forEach((e) => {
      size += e.value.kind === 'scalar' ? 1 : expandedSize(e.value, memo);
    });
  }
  memo.set(node, size);
  return size;
}

/**
 * Copy-on-write rewrite of a mapping's values, in order: `f` returns the new value (the same object when
 * unchanged) or undefined to drop the entry. Returns undefined when nothing changed, so callers keep the node.
 */
export function mapEntryValues(entries: ReadonlyMap<string, PEntry>, f: (value: PNode, key: string) => PNode | undefined): Map<string, PEntry> | undefined {
  let out: Map<string, PEntry> | undefined;
  let unchanged = 0;
  entries.forEach((e, k) => {
    const v = f(e.value, k);
    if (out === undefined) {
      if (v === e.value) {
        unchanged++;
        return;
      }
      out = new Map();
      let n = 0;
      for (const [k2, e2] of entries) {
        if (n++ === unchanged) break;
        out.set(k2, e2);
      }
    }
    if (v !== undefined) out.set(k, v === e.value ? e : { ...e, value: v });
  });
  return out;
}

/**
 * A node nested deeper than `cap` collections (aliases followed), or undefined. Iterative, so a deep tree
 * cannot exhaust the stack; a node reached again is walked again only when reached deeper, so shared subtrees
 * cost at most `cap` walks each. A node that contains itself is left to expandedSize (the alias-bomb check).
 */
export function nodeBeyondDepth(root: PNode, cap: number): PNode | undefined {
  let deepest: Map<PNode, number> | undefined; // only once a node is met twice (shared through an alias)
  const seen = new Set<PNode>();
  const onPath = new Set<PNode>();
  // Parallel stacks: a node and its depth; a negative depth marks the exit from that node.
  const nodes: PNode[] = [root];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as PNode;
    const depth = depths.pop() as number;
    if (depth < 0) {
      onPath.delete(node);
      continue;
    }
    if (depth > cap) return node;
    if (seen.has(node)) {
      if (onPath.has(node)) return undefined;
      deepest ??= new Map();
      if ((deepest.get(node) ?? 0) >= depth) continue;
    } else seen.add(node);
    if (deepest !== undefined) deepest.set(node, depth);
    onPath.add(node);
    nodes.push(node);
    depths.push(-1);
    if (node.kind === 'seq') {
      for (const item of node.items) if (item.kind !== 'scalar') { nodes.push(item); depths.push(depth + 1); }
    } else if (node.kind === 'map') {
      node.entries.forEach((e) => {
        if (e.value.kind !== 'scalar') {
          nodes.push(e.value);
          depths.push(depth + 1);
        }
      });
    }
  }
  return undefined;
}
