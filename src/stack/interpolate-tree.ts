// Interpolates every scalar value of a positioned tree (keys are left alone, as in Compose). The result stays
// a string: the schema accepts strings where numbers or booleans are expected, and normalisation converts
// them (so `replicas: ${N}` works, and `VERSION: ${V}` with V=1.10 stays "1.10").

import type { Lookup } from './interpolate.js';
import { interpolate } from './interpolate.js';
import { mapEntryValues, type PathSeg, type PNode, type PScalar } from './pnode.js';
import type { Reporter } from './report.js';

export function interpolateTree(root: PNode, lookup: Lookup, reporter: Reporter, warnedUnset: Set<string>): PNode {
  const memo = new Map<PNode, PNode>();
  // The path of the node being walked; copied only when something is reported.
  const path: PathSeg[] = [];
  const scalar = (node: PScalar): PNode => {
    if (typeof node.value !== 'string' || !node.value.includes('$')) return node;
    const r = interpolate(node.value, lookup);
    for (const p of r.problems) {
      const pos = node.plain ? { ...node.pos, col: node.pos.col + p.offset, length: 1 } : node.pos;
      if (p.kind === 'syntax') {
        reporter.error('SPEC_INTERPOLATION_SYNTAX', `invalid interpolation: ${p.message}`, pos, path.slice(), 'write "$$" for a literal "$"; variables are $NAME or ${NAME}');
      } else {
        reporter.error('SPEC_INTERPOLATION_REQUIRED', p.message, pos, path.slice(), `set ${p.name ?? 'it'} in the environment or in the .env file`);
      }
    }
    for (const name of r.unset) {
      if (warnedUnset.has(name)) continue;
      warnedUnset.add(name);
      reporter.warn('SPEC_UNSET_VARIABLE', `variable ${name} is not set; using an empty string`, node.pos, path.slice(), `set ${name} in the environment or in the .env file, or give a default: \${${name}:-default}`);
    }
    return r.problems.length === 0 && r.value !== node.value ? { ...node, value: r.value } : node;
  };
  const walk = (node: PNode): PNode => {
    if (node.kind === 'scalar') {
      // Scalars need no memo: the same input gives the same output, and what it reports is reported once.
      if (typeof node.value !== 'string' || !node.value.includes('$')) return node;
    }
    const known = memo.get(node);
    if (known !== undefined) return known;
    let out: PNode = node;
    if (node.kind === 'scalar') {
      out = scalar(node);
    } else if (node.kind === 'seq') {
      let items: PNode[] | undefined;
      const src = node.items;
      for (let i = 0; i < src.length; i++) {
        const item = src[i] as PNode;
        path.push(i);
        const v = walk(item);
        path.pop();
        if (v !== item) {
          items ??= src.slice(0, i);
        }
        if (items !== undefined) items.push(v);
      }
      if (items !== undefined) out = { ...node, items };
    } else {
      // A new map is built only from the first changed value on.
      const entries = mapEntryValues(node.entries, (value, k) => {
        path.push(k);
        const v = walk(value);
        path.pop();
        return v;
      });
      if (entries !== undefined) out = { ...node, entries };
    }
    memo.set(node, out);
    return out;
  };
  return walk(root);
}
