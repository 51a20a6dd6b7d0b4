// Interpolates every scalar value of a positioned tree (keys are left alone, as in Compose). The result stays
// a string: the schema accepts strings where numbers or booleans are expected, and normalisation converts
// them (so `replicas: ${N}` works, and `VERSION: ${V}` with V=1.10 stays "1.10").

import type { Lookup } from './interpolate.js';
import { interpolate } from './interpolate.js';
import type { PathSeg, PEntry, PNode } from './pnode.js';
import type { Reporter } from './report.js';

export function interpolateTree(root: PNode, lookup: Lookup, reporter: Reporter, warnedUnset: Set<string>): PNode {
  const memo = new Map<PNode, PNode>();
  const walk = (node: PNode, path: PathSeg[]): PNode => {
    const known = memo.get(node);
    if (known !== undefined) return known;
    let out: PNode = node;
    if (node.kind === 'scalar') {
      if (typeof node.value === 'string' && node.value.includes('$')) {
        const r = interpolate(node.value, lookup);
        for (const p of r.problems) {
          const pos = node.plain ? { ...node.pos, col: node.pos.col + p.offset, length: 1 } : node.pos;
          if (p.kind === 'syntax') {
            reporter.error('SPEC_INTERPOLATION_SYNTAX', `invalid interpolation: ${p.message}`, pos, path, 'write "$$" for a literal "$"; variables are $NAME or ${NAME}');
          } else {
            reporter.error('SPEC_INTERPOLATION_REQUIRED', p.message, pos, path, `set ${p.name ?? 'it'} in the environment or in the .env file`);
          }
        }
        for (const name of r.unset) {
          if (warnedUnset.has(name)) continue;
          warnedUnset.add(name);
          reporter.warn('SPEC_UNSET_VARIABLE', `variable ${name} is not set; using an empty string`, node.pos, path, `set ${name} in the environment or in the .env file, or give a default: \${${name}:-default}`);
        }
        if (r.problems.length === 0 && r.value !== node.value) {
          out = { ...node, value: r.value };
        }
      }
    } else if (node.kind === 'seq') {
      const items = node.items.map((item, i) => walk(item, [...path, i]));
      out = items.every((x, i) => x === node.items[i]) ? node : { ...node, items };
    } else {
      let changed = false;
      const entries = new Map<string, PEntry>();
      for (const [k, e] of node.entries) {
        const v = walk(e.value, [...path, k]);
        if (v !== e.value) changed = true;
        entries.set(k, v === e.value ? e : { ...e, value: v });
      }
      out = changed ? { ...node, entries } : node;
    }
    memo.set(node, out);
    return out;
  };
  return walk(root, []);
}

