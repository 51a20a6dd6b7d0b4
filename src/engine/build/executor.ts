// The build executor: runs a Dockerfile's stages (those the target needs, in dependency order) step by step,
// each step's result an image in the store (untagged, as the classic builder's intermediate images), reused
// from the build cache when its step cache key matches. FROM takes an image from the store (pulled through
// the registry service when missing, or with --pull), an earlier stage, or scratch; RUN runs in a container of
// the engine (Engine interface: same isolation and seccomp as any container; no network unless asked), its
// changes committed as a layer, the container removed whatever happens; COPY/ADD and WORKDIR make layers
// directly (files.ts); metadata steps change the config with an empty-layer history entry (config-step.ts).
// Progress is Docker's classic builder's JSON stream: `{"stream": "Step 1/6 : FROM busybox\n"}` … `{"aux": {"ID": …}}`.
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { GantryError } from '../../common/errors.js';
import type { Engine } from '../engine.js';
import { defaultSpec } from '../containers/container-spec.js';
import type { LayerLimits } from '../images/limits.js';
import { hostPlatform as ociPlatform, type ImageConfigFields, type OciDescriptor, type OciImageConfig } from '../images/oci.js';
import type { ImageRecord } from '../images/store.js';
import { platformArgs, unusedBuildArgsWarning } from './args.js';
import type { BuildCache } from './cache.js';
import type { CacheMounts } from './cache-mounts.js';
import { stepCacheKey } from './cache-key.js';
import { applyMetadata, DEFAULT_SHELL, metadataCreatedBy, nopPrefix, runCreatedBy, workdirPath } from './config-step.js';
import { PROXY_ARGS } from './args.js';
import { DEFAULT_PATH_ENV } from '../images/oci.js';
import { contextPath, digestSources, loadDockerignore, resolveSourcePath, selectSources, walkContext, type ContextEntry, type ContextListing } from './context.js';
import { extractChecked } from './context-tar.js';
import { extractFromImage, isDirInImage, layerFromDir, makeDirs, removeDir, resolveChown, stageCopies, stagingDir, type CopyItem } from './files.js';
import type { AddInstruction, CopyInstruction, Instruction, RunInstruction } from './model.js';
import { MAX_DOCKERFILE_BYTES, parseDockerfile } from './parse.js';
import { runProgram } from './run-program.js';
import { mountsDigest, prepareRunMounts, SCRIPT_DIR, type MountFrom, type MountSources } from './run-mounts.js';
import { StageScope } from './scope.js';
import { planStages, type Stage } from './stages.js';

export type BuildNetwork = 'none' | 'host' | 'default';

/** What a build is asked to do (the same for the CLI's request and the executor). */
export interface BuildSettings {
  readonly tags: readonly string[];
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly target: string | undefined;
  readonly noCache: boolean;
  readonly pull: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly network: BuildNetwork;
}

export interface BuildRequest extends BuildSettings {
  /** The extracted context (a dir of the daemon's). */
  readonly contextDir: string;
  /** The Dockerfile's path in the context (default `Dockerfile`). */
  readonly dockerfile: string;
  /** Aborted when the client goes away: the running step's container is killed and removed. */
  readonly signal: AbortSignal;
  /** The build's secrets by id (`RUN --mount=type=secret`): never shown, stored, or part of a cache key. */
  readonly secrets?: ReadonlyMap<string, Buffer> | undefined;
}

/** One step as `--progress json` shows it, sent when the step is done (or failed). */
export interface StepReport {
  readonly step: number;
  readonly total: number;
  /** The instruction's first line, as written. */
  readonly instruction: string;
  /** True when nothing ran: taken from the build cache (FROM: the base was here, its triggers all cached). */
  readonly cached: boolean;
  readonly durationMs: number;
  /** What the step's command printed (RUN), line by line (capped). */
  readonly output: readonly string[];
  /** The step's error message when it failed. */
  readonly error?: string;
}

export type BuildMessage = { stream: string } | { aux: { ID: string } } | { step: StepReport };

export interface BuildDeps {
  readonly engine: Engine;
  readonly cache: BuildCache;
  /** `RUN --mount=type=cache` dirs (one per daemon: its locks are in memory). */
  readonly cacheMounts: CacheMounts;
  /** A dir of the daemon's for staging (under its root). */
  readonly tmpDir: string;
  readonly limits: LayerLimits;
  /** Pulls `ref` into the store (FROM of an image not there, or --pull); absent: such a FROM fails. */
  readonly pull: ((ref: string, emit: (m: BuildMessage) => void) => Promise<void>) | undefined;
}

export interface BuildResult {
  readonly imageId: string;
  /** Steps that ran (not taken from the cache), by kind, for callers that report it. */
  readonly executed: number;
  readonly cached: number;
  /** Each image reference taken from the store (FROM, COPY --from=IMAGE) and the id it resolved to. */
  readonly external: Readonly<Record<string, string>>;
}

/** Where a stage's messages go (a stage built beside another is buffered, then shown in order) and its step number. */
interface Out {
  emit(m: BuildMessage): void;
  say(text: string): void;
  step: number;
  /** Whether the current step ran something (not a cache hit, not a base image already here). */
  ran: boolean;
  /** The current step's output lines. */
  output: string[];
}

function outOf(emit: (m: BuildMessage) => void, step: number): Out {
  return { emit, say: (text) => emit({ stream: text.endsWith('\n') ? text : `${text}\n` }), step, ran: false, output: [] };
}

/** Output lines a step report keeps (the stream has them all). */
const MAX_REPORT_LINES = 2000;

function addOutput(o: Out, text: string): void {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    if (o.output.length < MAX_REPORT_LINES) o.output.push(line);
    else if (o.output.length === MAX_REPORT_LINES) { o.output.push('… (more output in the build stream)'); break; }
  }
}

/**
 * Shows the messages of stages that run at once in their plan order: the first streams live, the others are
 * buffered until those before them are done.
 */
export class OrderedOutput {
  #live = 0;
  readonly #buffers: BuildMessage[][];
  readonly #done: boolean[];
  constructor(private readonly emit: (m: BuildMessage) => void, count: number) {
    this.#buffers = Array.from({ length: count }, () => []);
    this.#done = Array.from({ length: count }, () => false);
  }
  sink(k: number): (m: BuildMessage) => void {
    return (m) => { if (k === this.#live) this.emit(m); else this.#buffers[k]?.push(m); };
  }
  finished(k: number): void {
    this.#done[k] = true;
    while (this.#done[this.#live] === true && this.#live < this.#done.length - 1) {
      this.#live++;
      for (const m of this.#buffers[this.#live] ?? []) this.emit(m);
      this.#buffers[this.#live] = [];
    }
  }
}

/** A stage's state between steps: the image so far (undefined only for scratch before a layer) and its config. */
interface State {
  readonly image: ImageRecord | undefined;
  readonly config: OciImageConfig;
}

/** Whether the context file starts like a tar (ustar magic) or a gzip stream: what ADD extracts. */
async function isArchive(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    return (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) || (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar');
  } finally {
    await handle.close();
  }
}

const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);

function scratchConfig(): OciImageConfig {
  return { ...ociPlatform(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}

/** The step as the stream shows it: the instruction's first line, continuations joined. */
function stepText(inst: Instruction): string {
  return inst.original.replace(/\\\r?\n\s*/g, '').split('\n')[0]?.trim() ?? inst.kind;
}

async function readDockerfile(listing: ContextListing, name: string): Promise<{ text: string; path: string }> {
  const rel = resolveSourcePath(listing, contextPath(name));
  let handle;
  try {
    handle = await open(join(listing.root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw new GantryError('NOT_FOUND', `the Dockerfile ${name} is not in the build context`, { hint: 'name it with -f PATH (relative to the context), or add a Dockerfile to the context' });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new GantryError('BUILD_CONTEXT_INVALID', `the Dockerfile ${name} is not a regular file`, { hint: 'give -f the path of a file' });
    if (st.size > MAX_DOCKERFILE_BYTES) throw new GantryError('TOO_LARGE', `the Dockerfile ${name} is larger than ${MAX_DOCKERFILE_BYTES} bytes`, { hint: 'a Dockerfile holds instructions; move data into the context' });
    return { text: await handle.readFile({ encoding: 'utf8' }), path: rel };
  } finally {
    await handle.close();
  }
}

export class BuildExecutor {
  #total = 0;
  #executed = 0;
  #cached = 0;
  readonly #external: Record<string, string> = {};
  readonly #results = new Map<number, State>();
  #listing!: ContextListing;
  #stages: readonly Stage[] = [];
  /** An empty dir (overlay needs two lower dirs; an image of one layer gets this one below). */
  #emptyDir = '';

  constructor(private readonly req: BuildRequest, private readonly deps: BuildDeps, private readonly emit: (m: BuildMessage) => void) {}

  private get images(): Engine['images'] {
    return this.deps.engine.images;
  }

  async run(): Promise<BuildResult> {
    const { req } = this;
    const dockerfileName = req.dockerfile || 'Dockerfile';
    const ignore = await loadDockerignore(req.contextDir, join(req.contextDir, dockerfileName));
    this.#listing = await walkContext(req.contextDir, { ignore: ignore?.matcher, keep: [contextPath(dockerfileName), '.dockerignore'] });
    const { text, path } = await readDockerfile(this.#listing, dockerfileName);
    const dockerfile = parseDockerfile(text, path);
    const platform = platformArgs();
    const plan = planStages(dockerfile, { buildArgs: req.buildArgs, platform, target: req.target });
    this.#stages = plan.stages;
    this.#total = plan.order.reduce((n, i) => n + 1 + (plan.stages[i]?.instructions.length ?? 0), 0) + (Object.keys(req.labels).length > 0 ? 1 : 0);
    const declared = new Set(plan.globals.declared);
    const top = outOf(this.emit, this.#total);
    this.#emptyDir = await stagingDir(this.deps.tmpDir);
    try {
      // Step numbers follow the plan's order; the stages of one wave depend only on earlier waves: they run at once.
      const firstStep = new Map<number, number>();
      let n = 0;
      for (const index of plan.order) { firstStep.set(index, n + 1); n += 1 + (plan.stages[index]?.instructions.length ?? 0); }
      for (const wave of plan.waves) {
        const ordered = [...wave].sort((a, b) => plan.order.indexOf(a) - plan.order.indexOf(b));
        const output = new OrderedOutput(this.emit, ordered.length);
        const siblings = new AbortController();
        const signal = AbortSignal.any([req.signal, siblings.signal]);
        await Promise.all(ordered.map(async (index, k) => {
          const stage = plan.stages[index] as Stage;
          try {
            const o = outOf(output.sink(k), (firstStep.get(index) ?? 1) - 1);
            const { state, scope } = await this.runStage(o, stage, signal, (baseEnv) => new StageScope({ dockerfile, buildArgs: req.buildArgs, platform }, plan.globals, baseEnv));
            for (const d of scope.declared) declared.add(d);
            this.#results.set(index, state);
          } catch (e) {
            siblings.abort(e);
            throw e;
          } finally {
            output.finished(k);
          }
        }));
      }
      let final = this.#results.get(plan.target.index) as State;
      if (Object.keys(req.labels).length > 0) {
        const pairs = Object.entries(req.labels).map(([key, value]) => ({ key, value }));
        const inst: Instruction = { kind: 'LABEL', pairs, range: { line: 0, col: 0, endLine: 0 }, original: `LABEL ${pairs.map((p) => `${p.key}=${JSON.stringify(p.value)}`).join(' ')}` };
        top.say(`Step ${this.#total}/${this.#total} : ${inst.original}`);
        top.step = this.#total;
        const base = final;
        final = await this.reported(top, inst, () => this.metadataStep(top, base, inst, new Map(), false));
      }
      const warning = unusedBuildArgsWarning(req.buildArgs, declared);
      if (warning !== undefined) top.say(warning);
      const image = final.image ?? await this.commit(final, final.config.config ?? {}, undefined, undefined);
      this.emit({ aux: { ID: image.id } });
      top.say(`Successfully built ${short(image.id)}`);
      for (const t of req.tags) {
        await this.images.tag(image.id, t);
        this.deps.engine.events.emit('image', 'tag', image.id, { name: t });
        top.say(`Successfully tagged ${t}`);
      }
      return { imageId: image.id, executed: this.#executed, cached: this.#cached, external: { ...this.#external } };
    } finally {
      await removeDir(this.#emptyDir);
    }
  }

  private async base(o: Out, stage: Stage): Promise<State> {
    const ref = stage.from.image;
    const byName = this.#stages.find((s) => s.index < stage.index && s.name !== undefined && s.name === ref.toLowerCase());
    if (byName !== undefined) {
      const built = this.#results.get(byName.index);
      if (built !== undefined) return built;
    }
    if (ref.toLowerCase() === 'scratch') return { image: undefined, config: scratchConfig() };
    const image = await this.image(o, ref, this.req.pull);
    return { image, config: structuredClone(image.config) };
  }

  /** An image from the store, pulled when missing (or always with `pull`). */
  private async image(o: Out, ref: string, pull: boolean): Promise<ImageRecord> {
    const found = this.images.resolve(ref);
    if (found !== undefined && !pull) return this.#taken(ref, found);
    if (this.deps.pull === undefined) {
      if (found !== undefined) return this.#taken(ref, found);
      throw new GantryError('IMAGE_NOT_FOUND', `FROM ${ref}: no such image, and this daemon cannot pull`, { hint: `import or load it first (gantry images lists what is here)` });
    }
    o.ran = true;
    await this.deps.pull(ref, o.emit);
    return this.#taken(ref, this.images.get(ref));
  }

  #taken(ref: string, image: ImageRecord): ImageRecord {
    this.#external[ref] = image.id;
    return image;
  }

  /** Runs one stage; `makeScope` gets the base image's Env (what ENV and ARG substitution see first). */
  /** Runs `body` as one reported step (`--progress json`): its time, whether it ran, its output, its error. */
  private async reported<T>(o: Out, inst: Instruction | string, body: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    o.ran = false;
    o.output = [];
    const report = (error?: string): void => {
      o.emit({ step: { step: o.step, total: this.#total, instruction: typeof inst === 'string' ? inst : stepText(inst), cached: !o.ran && error === undefined,
        durationMs: Math.round(performance.now() - t0), output: o.output, ...(error === undefined ? {} : { error }) } });
    };
    try {
      const result = await body();
      report();
      return result;
    } catch (e) {
      report(e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  private async runStage(o: Out, stage: Stage, signal: AbortSignal, makeScope: (baseEnv: readonly string[]) => StageScope): Promise<{ state: State; scope: StageScope }> {
    o.say(`Step ${++o.step}/${this.#total} : ${stepText(stage.from)}`);
    const { state: first, scoped } = await this.reported(o, stage.from, () => this.fromStep(o, stage, signal, makeScope));
    let state = first;
    let cmdSet = false;
    for (const inst of stage.instructions) {
      signal.throwIfAborted();
      o.say(`Step ${++o.step}/${this.#total} : ${stepText(inst)}`);
      ({ state, cmdSet } = await this.reported(o, inst, () => this.step(o, state, inst, scoped, cmdSet, signal)));
    }
    return { state, scope: scoped };
  }

  /** FROM: the base, and its ONBUILD triggers. */
  private async fromStep(o: Out, stage: Stage, signal: AbortSignal, makeScope: (baseEnv: readonly string[]) => StageScope): Promise<{ state: State; scoped: StageScope }> {
    let state = await this.base(o, stage);
    if (!(state.config.config?.Env ?? []).some((e) => e.startsWith('PATH='))) {
      // The classic builder gives every stage a PATH when its base has none (scratch among them)
      const config = structuredClone(state.config);
      config.config = { ...(config.config ?? {}), Env: [...(config.config?.Env ?? []), DEFAULT_PATH_ENV] };
      state = { image: state.image, config };
    }
    const scoped = makeScope(state.config.config?.Env ?? []);
    const triggers = state.config.config?.OnBuild ?? [];
    if (triggers.length > 0) {
      // The base image's ONBUILD triggers run first, as part of FROM; the new image does not inherit them.
      const config = structuredClone(state.config);
      delete config.config?.OnBuild;
      state = { image: state.image, config };
      o.say(`# Executing ${triggers.length} build trigger${triggers.length === 1 ? '' : 's'}`);
      const parsed = parseDockerfile(`FROM scratch\n${triggers.join('\n')}\n`, `ONBUILD of ${stage.from.image}`).instructions.slice(1);
      let cmdSet = false;
      for (const inst of parsed) {
        signal.throwIfAborted();
        ({ state, cmdSet } = await this.step(o, state, inst, scoped, cmdSet, signal));
      }
    }
    if (state.image !== undefined) o.say(` ---> ${short(state.image.id)}`);
    return { state, scoped };
  }

  private async step(o: Out, state: State, inst: Instruction, scoped: StageScope, cmdSet: boolean, signal: AbortSignal): Promise<{ state: State; cmdSet: boolean }> {
    const applied = scoped.apply(inst);
    const instruction = applied.instruction;
    switch (instruction.kind) {
      case 'RUN': {
        // bind mounts' content and whether each secret was given count in the key (never a secret's value)
        const digest = await mountsDigest(instruction.mounts, this.mountSources(o));
        // the predefined proxy args reach the command but not its history, unless the stage declares them (Docker's rule)
        const shown = new Map([...applied.args].filter(([k]) => !PROXY_ARGS.includes(k) || scoped.declared.has(k)));
        return { state: await this.cachedStep(o, state, instruction, applied.args, digest, { network: this.req.network }, () => this.runStep(o, state, instruction, applied.args, shown, signal)), cmdSet };
      }
      case 'COPY':
      case 'ADD': {
        const digest = await this.sourcesDigest(o, instruction);
        return { state: await this.cachedStep(o, state, instruction, applied.args, digest, {}, () => this.copyStep(o, state, instruction, digest)), cmdSet };
      }
      case 'WORKDIR':
        return { state: await this.cachedStep(o, state, instruction, applied.args, undefined, {}, () => this.workdirStep(state, instruction)), cmdSet };
      default:
        return { state: await this.metadataStep(o, state, instruction, applied.args, cmdSet), cmdSet: cmdSet || instruction.kind === 'CMD' };
    }
  }

  /** Reuses the step's cached image when its key matches (unless --no-cache), else runs it and stores the result. */
  private async cachedStep(o: Out, state: State, instruction: Instruction, args: ReadonlyMap<string, string>, sourcesDigest: string | undefined,
    extra: Record<string, string>, run: () => Promise<State>): Promise<State> {
    const key = stepCacheKey({ parent: state.image?.id ?? 'scratch', instruction, args, sourcesDigest, extra: { ...extra, platform: `${state.config.os}/${state.config.architecture}` } });
    if (!this.req.noCache) {
      const hit = this.deps.cache.get(key);
      const image = hit === undefined ? undefined : this.images.resolve(hit.image);
      if (image !== undefined) {
        this.#cached++;
        o.say(' ---> Using cache');
        o.say(` ---> ${short(image.id)}`);
        return { image, config: structuredClone(image.config) };
      }
    }
    this.#executed++;
    o.ran = true;
    const next = await run();
    const image = next.image ?? await this.commit(next, next.config.config ?? {}, undefined, undefined);
    this.deps.cache.put(key, image.id);
    o.say(` ---> ${short(image.id)}`);
    return { image, config: image.config };
  }

  private async metadataStep(o: Out, state: State, applied: Instruction, args: ReadonlyMap<string, string>, cmdSet: boolean): Promise<State> {
    return this.cachedStep(o, state, applied, args, undefined, { cmdSet: String(cmdSet) }, async () => {
      const fields = applyMetadata(applied, state.config.config ?? {}, cmdSet);
      const image = await this.commit(state, fields, metadataCreatedBy(applied, fields), undefined, applied.kind === 'MAINTAINER' ? applied.maintainer : undefined);
      return { image, config: image.config };
    });
  }

  /** A new image: `state` plus an optional layer, with `fields` as its config and one more history entry. */
  private async commit(state: State, fields: ImageConfigFields, createdBy: string | undefined, layer: { descriptor: OciDescriptor; diffId: string } | undefined, author?: string): Promise<ImageRecord> {
    const now = new Date().toISOString();
    const config: OciImageConfig = {
      ...structuredClone(state.config),
      created: now,
      config: fields,
      rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, ...(layer === undefined ? [] : [layer.diffId])] },
      history: [...structuredClone(state.config.history ?? []), ...(createdBy === undefined ? [] : [{ created: now, created_by: createdBy, ...(layer === undefined ? { empty_layer: true } : {}) }])],
    };
    if (author !== undefined) config.author = author;
    return this.images.addImage({ config, layers: [...(state.image?.manifest.layers ?? []).map((l) => ({ ...l })), ...(layer === undefined ? [] : [layer.descriptor])] });
  }

  private layerDirs(state: State): string[] {
    return state.image === undefined ? [] : this.images.layerDirs(state.image);
  }

  private topChain(state: State): string | undefined {
    return state.image?.layers[state.image.layers.length - 1]?.chainId;
  }

  // ------------------------------------------------------------------ RUN

  private async runStep(o: Out, state: State, run: RunInstruction, args: ReadonlyMap<string, string>, shownArgs: ReadonlyMap<string, string>, signal: AbortSignal): Promise<State> {
    const fields = state.config.config ?? {};
    if (state.image === undefined || state.image.layers.length === 0) {
      throw new GantryError('DOCKERFILE_INVALID', `RUN ${stepText(run).slice(4)}: the stage has no files to run a command in (FROM scratch)`, { hint: 'COPY a program into the stage first, or start FROM an image with a shell' });
    }
    if (run.security === 'insecure') {
      throw new GantryError('UNSUPPORTED', `${stepText(run)}: RUN --security=insecure is not supported by this builder`, { hint: 'a build step runs with the isolation of any container; do the privileged part outside the build' });
    }
    const program = runProgram(run);
    const shell = fields.Shell ?? DEFAULT_SHELL;
    // a `#!` heredoc runs as a file of its own (BuildKit's rule), not through the shell
    const argv = program.kind === 'exec' ? [...program.args] : program.kind === 'file' ? [`${SCRIPT_DIR}/${program.name}`] : [...shell, program.script];
    const envKeys = new Set((fields.Env ?? []).map((e) => e.split('=', 1)[0]));
    const spec = defaultSpec(state.image.id);
    spec.entrypoint = [];
    spec.cmd = argv;
    spec.env = [...args].filter(([k]) => !envKeys.has(k)).map(([k, v]) => `${k}=${v}`);
    spec.workingDir = fields.WorkingDir || undefined;
    spec.user = fields.User || undefined;
    spec.healthcheck = 'none';
    spec.labels = { 'gantry.build.step': String(o.step) };
    const network = run.network ?? this.req.network;
    spec.host.networkMode = network === 'default' ? 'bridge' : network;
    const { engine } = this.deps;
    const mounts = await prepareRunMounts(run.mounts, fields.WorkingDir, this.mountSources(o), signal, program.kind === 'file' ? program : undefined);
    spec.host.mounts = mounts.mounts;
    spec.env.push(...mounts.env);
    let c;
    try {
      c = await engine.createContainer(spec);
    } catch (e) {
      await mounts.release();
      throw e;
    }
    o.say(` ---> Running in ${short(c.id)}`);
    const abort = (): void => { void engine.killContainer(c.id).catch(() => undefined); };
    signal.addEventListener('abort', abort, { once: true });
    try {
      await engine.startContainer(c.id);
      const output = new AbortController();
      for await (const entry of engine.logs(c.id, { stdout: true, stderr: true, follow: true }, output.signal)) { o.emit({ stream: entry.text }); addOutput(o, entry.text); }
      const code = await engine.waitContainer(c.id);
      signal.throwIfAborted();
      if (code !== 0) {
        throw new GantryError('BUILD_STEP_FAILED', `The command '${argv.join(' ')}' returned a non-zero code: ${code}`, {
          hint: `step ${o.step} (${stepText(run)}) failed; its output is above`, detail: { step: o.step, exitCode: code },
        });
      }
      const layer = await engine.containerLayer(c.id, mounts.targets);
      const image = await this.commit(state, fields, runCreatedBy(argv, shownArgs), layer);
      return { image, config: image.config };
    } finally {
      signal.removeEventListener('abort', abort);
      await engine.removeContainer(c.id, { force: true, volumes: true }).catch(() => undefined);
      await mounts.release();
      o.say(`Removing intermediate container ${short(c.id)}`);
    }
  }

  /** What RUN --mount reads: the context, the daemon's cache dirs, the secrets, stages and images. */
  private mountSources(o: Out): MountSources {
    return {
      listing: this.#listing, tmpDir: this.deps.tmpDir, limits: this.deps.limits, emptyDir: this.#emptyDir,
      cacheMounts: this.deps.cacheMounts, secrets: this.req.secrets ?? new Map(),
      from: async (ref: string): Promise<MountFrom> => {
        const stage = this.fromImageOf(ref);
        const image = stage?.image ?? (stage === undefined ? await this.image(o, ref, false) : undefined);
        return { layers: image === undefined ? [] : this.images.layerDirs(image), id: image?.id ?? 'scratch' };
      },
    };
  }

  // ------------------------------------------------------------------ COPY / ADD / WORKDIR

  private fromImageOf(from: string): State | undefined {
    const byName = this.#stages.find((s) => s.name === from.toLowerCase());
    const index = byName?.index ?? (/^\d+$/.test(from) ? Number(from) : undefined);
    return index === undefined ? undefined : this.#results.get(index);
  }

  private async sourcesDigest(o: Out, inst: CopyInstruction | AddInstruction): Promise<string> {
    for (const s of inst.sources) {
      if (inst.kind === 'ADD' && /^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
        throw new GantryError('UNSUPPORTED', `ADD ${s}: fetching URLs is not supported by this builder (its steps have no network)`, { hint: 'download the file into the build context and ADD or COPY it from there' });
      }
    }
    if (inst.kind === 'COPY' && inst.from !== undefined) {
      const stage = this.fromImageOf(inst.from);
      const image = stage?.image ?? (stage === undefined ? await this.image(o, inst.from, false) : undefined);
      return `from:${image?.id ?? 'scratch'}:${JSON.stringify(inst.sources)}`;
    }
    const entries: ContextEntry[] = [];
    for (const s of inst.sources) entries.push(...selectSources(this.#listing, s, { instruction: inst.kind }));
    return digestSources(this.#listing, entries);
  }

  /** The context items a source names (a glob: each top-most match). */
  private contextItems(inst: CopyInstruction | AddInstruction, source: string): CopyItem[] {
    const selected = selectSources(this.#listing, source, { instruction: inst.kind });
    if (/[*?[]/.test(source)) {
      const dirs = selected.filter((e) => e.type === 'dir').map((e) => `${e.path}/`);
      return selected.filter((e) => !dirs.some((d) => e.path.startsWith(d))).map((e) => ({ base: this.#listing.root, path: e.path, isDir: e.type === 'dir' }));
    }
    const path = resolveSourcePath(this.#listing, source);
    const entry = selected.find((e) => e.path === path);
    return [{ base: this.#listing.root, path, isDir: path === '' || entry?.type === 'dir' }];
  }

  private async copyStep(o: Out, state: State, inst: CopyInstruction | AddInstruction, digest: string): Promise<State> {
    const fields = state.config.config ?? {};
    const lowers = this.layerDirs(state);
    const dest = inst.dest.startsWith('/') ? inst.dest : posix.join(fields.WorkingDir || '/', inst.dest);
    const glob = inst.sources.some((s) => /[*?[]/.test(s));
    const destIsDir = inst.dest.endsWith('/') || inst.dest === '.' || inst.sources.length + inst.heredocs.length > 1 || glob || await isDirInImage(lowers, dest);
    const cleanup: string[] = [];
    const staging = await stagingDir(this.deps.tmpDir);
    cleanup.push(staging);
    try {
      const items: CopyItem[] = [];
      let sourceCount = 0;
      let sourceIsDir = false;
      const from = inst.kind === 'COPY' ? inst.from : undefined;
      if (from !== undefined) {
        const stage = this.fromImageOf(from);
        const src = stage ?? { image: await this.image(o, from, false), config: scratchConfig() };
        for (const s of inst.sources) {
          const got = await extractFromImage(this.layerDirs(src), s, this.deps.tmpDir, this.deps.limits, this.#emptyDir);
          cleanup.push(got.dir);
          items.push({ base: got.dir, path: got.name, isDir: got.isDir });
          sourceCount++;
          sourceIsDir = got.isDir;
        }
      } else {
        for (const s of inst.sources) {
          for (const item of this.contextItems(inst, s)) {
            sourceCount++;
            sourceIsDir = item.isDir;
            // ADD extracts a local tar archive (plain or gzip) into the destination, with the layer checks.
            if (inst.kind === 'ADD' && !item.isDir && await isArchive(join(item.base, item.path))) {
              const dir = await extractChecked(createReadStream(join(item.base, item.path)), this.deps.tmpDir, this.deps.limits, 'add-');
              cleanup.push(dir);
              items.push({ base: dir, path: '', isDir: true });
            } else items.push(item);
          }
        }
      }
      if (inst.heredocs.length > 0) {
        // `COPY <<EOF /dest`: each here-document is a file named after its delimiter (mode 0644, as BuildKit).
        const dir = await stagingDir(this.deps.tmpDir);
        cleanup.push(dir);
        for (const h of inst.heredocs) {
          if (h.name.includes('/') || h.name === '.' || h.name === '..') throw new GantryError('DOCKERFILE_INVALID', `${inst.kind} <<${h.name}: the delimiter names the file, it cannot be a path`, { hint: 'use a plain word as the delimiter (<<EOF) and put the path in the destination' });
          await writeFile(join(dir, h.name), h.content, { mode: 0o644, flag: 'wx' });
          items.push({ base: dir, path: h.name, isDir: false });
          sourceCount++;
        }
      }
      const owner = inst.chown !== undefined ? await resolveChown(inst.chown, lowers) : from === undefined ? { uid: 0, gid: 0 } : undefined;
      let mode: number | undefined;
      if (inst.chmod !== undefined) {
        if (!/^[0-7]{3,4}$/.test(inst.chmod)) throw new GantryError('DOCKERFILE_INVALID', `${inst.kind} --chmod=${inst.chmod}: not an octal mode`, { hint: 'write the mode in octal, e.g. --chmod=755' });
        mode = parseInt(inst.chmod, 8);
      }
      // With --chown the directories the copy makes get the owner too (Docker's MkdirAllAndChownNew), not those the image has
      const newDirs: string[] = [];
      if (inst.chown !== undefined) {
        const dirOf = destIsDir ? dest : posix.dirname(dest);
        for (let p = posix.normalize(dirOf); p !== '/' && p !== '.'; p = posix.dirname(p)) {
          if (await isDirInImage(lowers, p)) break;
          newDirs.push(p);
        }
      }
      await stageCopies(staging, items, { dest, destIsDir, owner, mode, newDirs });
      const layer = await layerFromDir(this.images, staging, this.topChain(state));
      // the sources as named (an ADDed tar is a file), as the classic builder's `file:`/`dir:`/`multi:`
      const what = sourceCount === 1 ? (sourceIsDir ? 'dir' : 'file') : 'multi';
      const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1] ?? createHash('sha256').update(digest).digest('hex');
      // Docker's own quirk: the chown flag is glued to the hash (`COPY --chown=1:1file:…`)
      const chown = inst.chown === undefined ? '' : `--chown=${inst.chown}`;
      const image = await this.commit(state, fields, `${nopPrefix(fields)}${inst.kind} ${chown}${what}:${hex} in ${inst.dest} `, { descriptor: layer.descriptor, diffId: layer.layer.diffId });
      return { image, config: image.config };
    } finally {
      for (const d of cleanup) await removeDir(d);
    }
  }

  private async workdirStep(state: State, inst: Extract<Instruction, { kind: 'WORKDIR' }>): Promise<State> {
    const fields = applyMetadata(inst, state.config.config ?? {}, false);
    const path = workdirPath(inst.path, state.config.config ?? {});
    const createdBy = metadataCreatedBy(inst, fields);
    if (path === '/' || await isDirInImage(this.layerDirs(state), path)) {
      const image = await this.commit(state, fields, createdBy, undefined);
      return { image, config: image.config };
    }
    const staging = await stagingDir(this.deps.tmpDir);
    try {
      await makeDirs(staging, path);
      const layer = await layerFromDir(this.images, staging, this.topChain(state));
      const image = await this.commit(state, fields, createdBy, { descriptor: layer.descriptor, diffId: layer.layer.diffId });
      return { image, config: image.config };
    } finally {
      await removeDir(staging);
    }
  }
}

