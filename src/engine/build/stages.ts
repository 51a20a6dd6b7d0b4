// The stage planner: stages by name and index, the target (--target or the last stage), the stages it needs
// (the rest are skipped), their dependency order and which could build in parallel; a stage that uses itself
// or a later stage (BuildKit's rule: only stages above) and unknown stages as located errors. Pure.

import { usageError } from '../../common/errors.js';
import { closeName, DiagnosticSource, type DockerfileError } from './diagnostics.js';
import type { Dockerfile, FromInstruction, Instruction } from './model.js';
import { GlobalScope, StageScope, type ScopeInput } from './scope.js';
import { substitute } from './substitute.js';

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
      throw locate(dockerfile, current.from, `base name (${current.from.image}) should not be blank`, 'declare the ARG before the first FROM with a default, or pass --build-arg');
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

  const stageLabel = (index: number): string => JSON.stringify(stages[index]?.name ?? String(index));
  const resolve = (ref: string, via: Instruction, self: number, isFrom: boolean): StageDependency | undefined => {
    const lower = ref.toLowerCase();
    const named = byName.get(lower);
    // FROM names a stage only when it is defined above (`FROM node AS node` is the image node).
    if (isFrom) {
      if (named !== undefined && named < self) return { kind: 'stage', index: named, via };
      return lower === 'scratch' ? undefined : { kind: 'image', ref, via };
    }
    let index = named;
    if (index === undefined && /^\d+$/.test(ref)) {
      index = Number(ref);
      if (index >= stages.length) throw locate(dockerfile, via, `--from=${ref}: invalid stage index ${index} (the Dockerfile has ${stages.length} stages)`, 'stages are numbered from 0 in the order of their FROM lines');
    }
    if (index !== undefined) {
      // As in BuildKit, a stage can use only the stages above it: a loop is impossible, using itself or a
      // later stage is the error.
      if (index === self) throw locate(dockerfile, via, `circular dependency: stage ${stageLabel(self)} cannot use itself`, 'copy from a stage defined above this one');
      if (index > self) throw locate(dockerfile, via, `cannot copy from stage ${stageLabel(index)}, it needs to be defined before current stage ${stageLabel(self)}`, 'move that stage above this one');
      return { kind: 'stage', index, via };
    }
    const close = PLAIN_NAME.test(lower) ? closeName(lower, names) : undefined;
    if (close !== undefined && close !== lower) {
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
      if (inst.kind === 'COPY' && inst.from !== undefined && inst.from.includes('$')) {
        const plain = substitute(inst.from, () => undefined, { escape: dockerfile.directives.escape });
        if (!plain.ok || plain.value !== inst.from) {
          throw locate(dockerfile, inst, `variable expansion is not supported for --from (${inst.from})`, 'define a stage with FROM ${VAR} AS NAME using an ARG of the global scope, and COPY --from=NAME');
        }
      }
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

  // Every stage dependency points to a stage above (resolve refuses the others), so walking up from the
  // target finds what it needs, and ascending index order is a dependency order.
  const needed = new Set<number>([target.index]);
  for (let i = target.index; i >= 0; i--) {
    if (!needed.has(i)) continue;
    for (const dep of dependencies.get(i) ?? []) if (dep.kind === 'stage') needed.add(dep.index);
  }
  const order = [...needed].sort((a, b) => a - b);
  const depth = new Map<number, number>();
  for (const index of order) {
    const deps = (dependencies.get(index) ?? []).filter((d): d is Extract<StageDependency, { kind: 'stage' }> => d.kind === 'stage');
    depth.set(index, deps.reduce((d, dep) => Math.max(d, (depth.get(dep.index) as number) + 1), 0));
  }
  const waves: number[][] = [];
  for (const index of order) {
    const d = depth.get(index) as number;
    (waves[d] ??= []).push(index);
  }
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
