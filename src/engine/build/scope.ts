// Which variables an instruction sees, and the instruction after substitution. The reference's rules:
// ARGs before the first FROM (the global scope) are usable in FROM only, unless a stage redeclares them with
// `ARG NAME`; a build arg overrides a default; ENV (and the base image's Env) win over an ARG of the same
// name; ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR and ARG defaults are substituted; RUN,
// CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD never are (RUN's shell form is the shell's business).

import { DiagnosticSource, type DockerfileError } from './diagnostics.js';
import { PLATFORM_ARGS, PROXY_ARGS } from './args.js';
import type { Dockerfile, Heredoc, Instruction, KeyValue, RunMount } from './model.js';
import { substitute, type Lookup } from './substitute.js';

export interface ScopeInput {
  readonly dockerfile: Dockerfile;
  /** `--build-arg` values. */
  readonly buildArgs: ReadonlyMap<string, string>;
  /** From platformArgs(). */
  readonly platform: ReadonlyMap<string, string>;
}

export interface Applied {
  readonly instruction: Instruction;
  /**
   * The build arguments this step depends on, with their values (part of its cache key): for RUN every ARG
   * in scope (they are in its environment) and the proxy args given; for the others, those it substituted.
   */
  readonly args: ReadonlyMap<string, string>;
}

function locate(dockerfile: Dockerfile, inst: Instruction, message: string): DockerfileError {
  const src = new DiagnosticSource(dockerfile.fileName, dockerfile.text);
  return src.error({ code: 'DOCKERFILE_INVALID', message, instruction: inst.kind, line: inst.range.line, col: inst.range.col, hint: 'check the ${…} expression; see "Environment replacement" in the Dockerfile reference' });
}

class Substituter {
  readonly used = new Set<string>();
  constructor(private readonly dockerfile: Dockerfile, private readonly inst: Instruction, private readonly lookup: Lookup) {}

  word(text: string, raw = false): string {
    const r = substitute(text, this.lookup, { escape: this.dockerfile.directives.escape, raw });
    if (!r.ok) throw locate(this.dockerfile, this.inst, r.problem);
    for (const u of r.used) this.used.add(u);
    return r.value;
  }

  opt(text: string | undefined): string | undefined {
    return text === undefined ? undefined : this.word(text);
  }

  pairs(pairs: readonly KeyValue[]): KeyValue[] {
    return pairs.map((p) => ({ key: this.word(p.key), value: this.word(p.value) }));
  }

  heredocs(list: readonly Heredoc[]): Heredoc[] {
    return list.map((h) => (h.expand ? { ...h, content: this.word(h.content, true) } : h));
  }
}

/** The global scope: ARGs before the first FROM, with build args applied. Used to substitute FROM lines. */
export class GlobalScope {
  /** Declared global ARGs with their values (undefined: declared without a value). */
  readonly values = new Map<string, string | undefined>();
  /** Every ARG name declared here (for the "not consumed" warning). */
  readonly declared = new Set<string>();

  constructor(private readonly input: ScopeInput) {
    for (const inst of input.dockerfile.instructions) {
      if (inst.kind === 'FROM') break;
      if (inst.kind !== 'ARG') continue;
      const sub = new Substituter(input.dockerfile, inst, this.lookup);
      for (const a of inst.args) {
        this.declared.add(a.name);
        const given = input.buildArgs.get(a.name);
        this.values.set(a.name, given ?? (a.defaultValue === undefined ? undefined : sub.word(a.defaultValue)));
      }
    }
  }

  readonly lookup: Lookup = (name) => (this.values.has(name) ? this.values.get(name) : this.input.platform.get(name));

  /** A FROM instruction with its image and --platform substituted. */
  from(inst: Extract<Instruction, { kind: 'FROM' }>): Applied {
    const sub = new Substituter(this.input.dockerfile, inst, this.lookup);
    const instruction = { ...inst, image: sub.word(inst.image), platform: sub.opt(inst.platform) };
    return { instruction, args: pick(sub.used, this.lookup, (n) => this.values.has(n) || this.input.platform.has(n)) };
  }
}

function pick(names: Iterable<string>, lookup: Lookup, isArg: (name: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of [...names].sort()) {
    const v = lookup(n);
    if (isArg(n) && v !== undefined) out.set(n, v);
  }
  return out;
}

/** One stage's variables, advanced instruction by instruction with apply(). */
export class StageScope {
  /** ARGs declared in this stage, with their values. */
  private readonly args = new Map<string, string | undefined>();
  /** The environment: the base image's Env, then ENV instructions. */
  private readonly env = new Map<string, string>();
  /** ARG names this stage declared (for the "not consumed" warning). */
  readonly declared = new Set<string>();

  /** `baseEnv`: the base image's config Env ("K=V" strings), or the parent stage's final environment. */
  constructor(private readonly input: ScopeInput, private readonly globals: GlobalScope, baseEnv: readonly string[]) {
    for (const kv of baseEnv) {
      const eq = kv.indexOf('=');
      if (eq > 0) this.env.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  }

  readonly lookup: Lookup = (name) => this.env.get(name) ?? this.args.get(name) ?? undefined;

  /** The environment the stage's image gets (ENV only; ARGs are not kept). */
  environment(): string[] {
    return [...this.env].map(([k, v]) => `${k}=${v}`);
  }

  /** ARGs in scope with a value, plus the proxy build args: the extra environment of RUN steps. */
  runArgs(): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of PROXY_ARGS) {
      const v = this.input.buildArgs.get(p);
      if (v !== undefined) out.set(p, v);
    }
    for (const [k, v] of [...this.args].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (v !== undefined) out.set(k, v);
    return out;
  }

  private isArg = (name: string): boolean => this.args.has(name) && !this.env.has(name);

  /** Substitutes `inst` in this scope and applies its effect on the scope (ARG, ENV). */
  apply(inst: Instruction): Applied {
    const sub = new Substituter(this.input.dockerfile, inst, this.lookup);
    const used = (): Map<string, string> => pick(sub.used, this.lookup, this.isArg);
    switch (inst.kind) {
      case 'ARG': {
        // BuildKit's order: the build arg, else the default (substituted in the stage), else the global value.
        const args = inst.args.map((a) => {
          const given = this.input.buildArgs.get(a.name);
          const global = this.globals.values.has(a.name) ? this.globals.values.get(a.name) : PLATFORM_ARGS.includes(a.name) ? this.input.platform.get(a.name) : undefined;
          const value = given ?? (a.defaultValue === undefined ? global : sub.word(a.defaultValue));
          return { name: a.name, value };
        });
        const taken = used();
        for (const a of args) {
          this.declared.add(a.name);
          this.args.set(a.name, a.value);
          if (a.value !== undefined) taken.set(a.name, a.value); // the value in effect counts in the step's key
        }
        // The applied ARG carries its default as written, substituted (what Docker's history shows: `ARG K=default`).
        // (A build arg skips the default: it is kept as written, unread.)
        return {
          instruction: { ...inst, args: inst.args.map((a) => ({ name: a.name, defaultValue: a.defaultValue === undefined || this.input.buildArgs.has(a.name) ? a.defaultValue : sub.word(a.defaultValue) })) },
          args: taken,
        };
      }
      case 'ENV': {
        const pairs = sub.pairs(inst.pairs);
        const taken = used();
        for (const p of pairs) this.env.set(p.key, p.value);
        return { instruction: { ...inst, pairs }, args: taken };
      }
      case 'LABEL':
        return { instruction: { ...inst, pairs: sub.pairs(inst.pairs) }, args: used() };
      case 'EXPOSE':
        return { instruction: { ...inst, ports: inst.ports.map((p) => sub.word(p)) }, args: used() };
      case 'VOLUME':
        return { instruction: { ...inst, paths: inst.paths.map((p) => sub.word(p)) }, args: used() };
      case 'USER':
        return { instruction: { ...inst, user: sub.word(inst.user) }, args: used() };
      case 'WORKDIR':
        return { instruction: { ...inst, path: sub.word(inst.path) }, args: used() };
      case 'STOPSIGNAL':
        return { instruction: { ...inst, signal: sub.word(inst.signal) }, args: used() };
      case 'COPY':
        return {
          instruction: { ...inst, sources: inst.sources.map((s) => sub.word(s)), dest: sub.word(inst.dest), heredocs: sub.heredocs(inst.heredocs), chown: sub.opt(inst.chown), chmod: sub.opt(inst.chmod), exclude: inst.exclude.map((e) => sub.word(e)) },
          args: used(),
        };
      case 'ADD':
        return {
          instruction: { ...inst, sources: inst.sources.map((s) => sub.word(s)), dest: sub.word(inst.dest), heredocs: sub.heredocs(inst.heredocs), chown: sub.opt(inst.chown), chmod: sub.opt(inst.chmod), checksum: sub.opt(inst.checksum), exclude: inst.exclude.map((e) => sub.word(e)) },
          args: used(),
        };
      case 'RUN': {
        // BuildKit substitutes the mounts' paths and names (not the command: that is the shell's).
        const mounts = inst.mounts.map((m) => {
          const out: Record<string, unknown> = { ...m };
          for (const key of ['target', 'source', 'from', 'id', 'env'] as const) {
            const v = (m as Record<string, unknown>)[key];
            if (typeof v === 'string') out[key] = sub.word(v);
          }
          return out as unknown as RunMount;
        });
        return { instruction: { ...inst, mounts }, args: this.runArgs() };
      }
      case 'FROM':
        return this.globals.from(inst);
      default:
        return { instruction: inst, args: new Map() };
    }
  }
}
