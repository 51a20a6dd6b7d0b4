// The cache key of a build step: the parent layer chain, the instruction after substitution (not where it was
// written: moving it or adding a comment above keeps the key), the build args it uses, and for COPY/ADD the
// digest of its sources. A stable sha256 of a canonical JSON (keys sorted).

import { createHash } from 'node:crypto';
import type { Instruction } from './model.js';

export interface StepKeyInput {
  /** Chain id of the layers below ("" for FROM scratch), or the previous step's key. */
  readonly parent: string;
  /** The instruction after substitution (StageScope.apply). */
  readonly instruction: Instruction;
  /** Build args the step depends on, with their values (Applied.args). */
  readonly args: ReadonlyMap<string, string>;
  /** digestSources() of a COPY/ADD's sources (and of a bind mount's, when the executor hashes them). */
  readonly sourcesDigest?: string | undefined;
  /** Anything else the executor knows changes the outcome (platform, base image digest, SHELL in effect…). */
  readonly extra?: Readonly<Record<string, string>>;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

/** The instruction without its position and source text, recursively (ONBUILD's trigger too). */
function essence(inst: Instruction): unknown {
  const { range: _range, original: _original, ...rest } = inst;
  if (rest.kind === 'ONBUILD') return { ...rest, trigger: essence(rest.trigger) };
  return rest;
}

export function stepCacheKey(input: StepKeyInput): string {
  const material = canonical({
    // 2: step results changed (history as Docker 20.10 writes it, layers without copied-up mountpoint dirs, a
    // default PATH): entries of 1 would hand back the old results
    v: 2,
    parent: input.parent,
    instruction: essence(input.instruction),
    args: [...input.args].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    sources: input.sourcesDigest ?? null,
    extra: input.extra ?? {},
  });
  return `sha256:${createHash('sha256').update(JSON.stringify(material)).digest('hex')}`;
}
