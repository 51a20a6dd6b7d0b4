// The stage planner: stages by name and index, the target (--target or the last stage), the stages it needs
// (the rest are skipped), their dependency order and which could build in parallel; cycles and unknown stages
// as located errors. Pure: no I/O, no clock.

import { usageError } from '../../common/errors.js';
import { closeName, DiagnosticSource, type DockerfileError } from './diagnostics.js';
import type { Dockerfile, FromInstruction, Instruction } from './model.js';
import { GlobalScope, StageScope, type ScopeInput } from './scope.js';

export interface Stage {
  readonly index: number;
  /** Lower-cased `AS` name. */
  readonly name: string | undefined;
  /** The FROM line, image and --platform substituted with the global scope. */
  readonly from: FromInstruction;
  /** The instructions after FROM, as parsed (substitution happens as the stage runs). */
  readonly instructions: readonly Instruction[];
}

/** What a stage needs before it can run. */
export type StageDependency =
  | { readonly kind: 'stage'; readonly index: number; readonly via: Instruction }
  | { readonly kind: 'image'; readonly ref: string; readonly via: Instruction };

export interface BuildPlan {
  readonly stages: readonly Stage[];
  readonly target: Stage;
  /** Stage indexes the target needs (itself included), dependencies first. */
  readonly order: readonly number[];
  /** The same stages in waves: each wave depends only on earlier waves, so its stages may build in parallel. */
  readonly waves: readonly (readonly number[])[];
  /** Stages not needed by the target (skipped). */
  readonly skipped: readonly number[];
  readonly dependencies: ReadonlyMap<number, readonly StageDependency[]>;
  readonly globals: GlobalScope;
}

export interface PlanOptions extends Omit<ScopeInput, 'dockerfile'> {
  readonly target?: string | undefined;
}

function locate(dockerfile: Dockerfile, inst: Instruction, message: string, hint?: string): DockerfileError {
  return new DiagnosticSource(dockerfile.fileName, dockerfile.text).error({ code: 'DOCKERFILE_INVALID', message, instruction: inst.kind, line: inst.range.line, col: inst.range.col, hint });
}

const PLAIN_NAME = /^[a-z][a-z0-9\-_]*$/;

export function planStages(dockerfile: Dockerfile, options: PlanOptions): BuildPlan {
  const input: ScopeInput = { dockerfile, buildArgs: options.buildArgs, platform: options.platform };
  const globals = new GlobalScope(input);
  const stages: Stage[] = [];
  let current: { from: FromInstruction; body: Instruction[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const from = globals.from(current.from).instruction as FromInstruction;
    if (from.image === '') {
      throw locate(dockerfile, current.from, `the base name (${current.from.image}) is empty after substitution`, 'declare the ARG before the first FROM with a default, or pass --build-arg');
    }
    stages.push({ index: stages.length, name: current.from.stageName, from, instructions: current.body });
  };
  for (const inst of dockerfile.instructions) {
    if (inst.kind === 'FROM') {
      flush();
      current = { from: inst, body: [] };
    } else if (current !== undefined) current.body.push(inst);
  }
  flush();

  const byName = new Map(stages.filter((s) => s.name !== undefined).map((s) => [s.name as string, s.index]));
  const names = [...byName.keys()];

  const resolve = (ref: string, via: Instruction, self: number, isFrom: boolean): StageDependency | undefined => {
    const lower = ref.toLowerCase();
    const named = byName.get(lower);
    // FROM names a stage only when it is defined above (`FROM node AS node` is the image node); --from may
    // name any stage, and a loop is reported as a cycle.
    if (named !== undefined && (!isFrom || named < self)) return { kind: 'stage', index: named, via };
    if (!isFrom && /^\d+$/.test(ref)) {
      const index = Number(ref);
      if (index >= stages.length) throw locate(dockerfile, via, `--from=${ref}: there is no stage ${index} (the Dockerfile has ${stages.length})`, `stages are numbered from 0 in the order of their FROM lines`);
      return { kind: 'stage', index, via };
    }
    if (lower === 'scratch' && isFrom) return undefined;
    const close = PLAIN_NAME.test(lower) ? closeName(lower, names) : undefined;
    if (close !== undefined && close !== lower && !isFrom) {
      throw locate(dockerfile, via, `no stage named ${JSON.stringify(ref)} (did you mean ${close}?)`, `stages are ${names.join(', ')}; to use an image of that name, write its full reference (e.g. ${ref}:latest)`);
    }
    return { kind: 'image', ref, via };
  };

  const dependencies = new Map<number, StageDependency[]>();
  for (const stage of stages) {
    const deps: StageDependency[] = [];
    const base = resolve(stage.from.image, stage.from, stage.index, true);
    if (base !== undefined) deps.push(base);
    const scope = new StageScope(input, globals, []);
    for (const inst of stage.instructions) {
      const applied = inst.kind === 'ARG' || inst.kind === 'ENV' || inst.kind === 'COPY' || inst.kind === 'RUN' ? scope.apply(inst).instruction : inst;
      if (applied.kind === 'COPY' && applied.from !== undefined) {
        const d = resolve(applied.from, inst, stage.index, false);
        if (d !== undefined) deps.push(d);
      }
      if (applied.kind === 'RUN') {
        for (const m of applied.mounts) {
          if ('from' in m && m.from !== undefined) {
            const d = resolve(m.from, inst, stage.index, false);
            if (d !== undefined) deps.push(d);
          }
        }
      }
    }
    dependencies.set(stage.index, deps);
  }

  let target = stages[stages.length - 1] as Stage;
  if (options.target !== undefined) {
    const index = byName.get(options.target.toLowerCase());
    if (index === undefined) {
      const close = closeName(options.target.toLowerCase(), names);
      throw usageError(`target stage ${JSON.stringify(options.target)} could not be found${close === undefined ? '' : ` (did you mean ${close}?)`}`,
        names.length === 0 ? 'the Dockerfile names no stage (FROM IMAGE AS NAME)' : `stages are ${names.join(', ')}`);
    }
    target = stages[index] as Stage;
  }

  // Depth-first from the target: dependency order, and cycles with the instruction that closes them.
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const depth = new Map<number, number>();
  const visit = (index: number, path: number[]): number => {
    const seen = state.get(index);
    if (seen === 'done') return depth.get(index) as number;
    state.set(index, 'visiting');
    let d = 0;
    for (const dep of dependencies.get(index) ?? []) {
      if (dep.kind !== 'stage') continue;
      if (state.get(dep.index) === 'visiting') {
        const cycle = [...path.slice(path.indexOf(dep.index)), index, dep.index].map((i) => stages[i]?.name ?? String(i));
        throw locate(dockerfile, dep.via, `circular dependency between stages: ${[...new Set(cycle.slice(0, -1))].join(' → ')} → ${cycle[cycle.length - 1]}`, 'a stage cannot use itself or a stage that uses it');
      }
      d = Math.max(d, visit(dep.index, [...path, index]) + 1);
    }
    state.set(index, 'done');
    depth.set(index, d);
    order.push(index);
    return d;
  };
  visit(target.index, []);
  const waves: number[][] = [];
  for (const index of order) {
    const d = depth.get(index) as number;
    (waves[d] ??= []).push(index);
  }
  const needed = new Set(order);
  return {
    stages, target, order, waves: waves.map((w) => w.sort((a, b) => a - b)), skipped: stages.map((s) => s.index).filter((i) => !needed.has(i)),
    dependencies, globals,
  };
}

/** Every ARG name the plan's stages and the global scope declare (for unusedBuildArgsWarning). */
export function declaredArgs(plan: BuildPlan): Set<string> {
  const out = new Set(plan.globals.declared);
  for (const index of plan.order) {
    for (const inst of (plan.stages[index] as Stage).instructions) if (inst.kind === 'ARG') for (const a of inst.args) out.add(a.name);
  }
  return out;
}
