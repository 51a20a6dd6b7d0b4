// `gantry stack convert --to kubernetes` and `gantry stack deploy --to kubernetes`. Loaded only for these two
// verbs; the Kubernetes libraries (@kubernetes/client-node, kubernetes-models) are imported only below them, so
// no other command pays for them at start-up.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GantryError, usageError } from '../../common/errors.js';
import { readDuration } from '../../common/units.js';
import type { Diagnostic, LoadResult } from '../../stack/index.js';
import * as stack from '../../stack/index.js';
import { convertStack, type ConvertOptions, type ConvertResult } from '../../kube/convert.js';
import { readObjectFile } from '../../kube/files.js';
import { fileNames, renderObject, renderStream } from '../../kube/render.js';
import { validateObjects } from '../../kube/validate.js';
import { resolveEnvironmentObjects } from './stack.js';

export interface KubeLoadArgs {
  readonly files: readonly string[];
  readonly projectName: string | undefined;
  readonly projectDirectory: string | undefined;
  readonly profiles: readonly string[];
  readonly envFiles: readonly string[];
  readonly strict: boolean;
  readonly cwd?: string | undefined;
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
}

export interface ConvertArgs extends KubeLoadArgs {
  readonly to: string | undefined;
  /** A directory, or "-" (the default) for standard output. */
  readonly output: string | undefined;
  readonly namespace: string | undefined;
  readonly storageClass: string | undefined;
  readonly volumeSize: string | undefined;
  readonly ingressHost: string | undefined;
  readonly stdout?: { write(s: string): unknown } | undefined;
  readonly stderr?: { write(s: string): unknown } | undefined;
}

export function checkTarget(to: string | undefined, targets: readonly string[] = ['kubernetes']): 'kubernetes' | 'swarm' {
  if (to === undefined) throw usageError('missing --to', `give --to ${targets.join(' or --to ')}`);
  const t = to === 'k8s' ? 'kubernetes' : to;
  if (!targets.includes(t)) throw usageError(`unknown target "${to}"`, `the targets are ${targets.join(', ')}`);
  return t as 'kubernetes' | 'swarm';
}

export class StackNotConverted extends Error {}

type Writer = { write(s: string): unknown };

function printer(args: KubeLoadArgs & { readonly stderr?: Writer | undefined }): (list: readonly Diagnostic[]) => void {
  const err = args.stderr ?? process.stderr;
  const color = args.stderr === undefined && process.stderr.isTTY && process.env['NO_COLOR'] === undefined;
  return (list) => {
    for (const d of list) err.write(`${stack.formatDiagnostic(d, { color, cwd: args.cwd })}\n\n`);
  };
}

/** Loads the stack; an invalid one has its diagnostics printed and throws StackNotConverted. */
async function loadForConvert(args: KubeLoadArgs & { readonly stderr?: Writer | undefined }): Promise<LoadResult> {
  try {
    return await stack.loadStack({ files: args.files, projectName: args.projectName, projectDirectory: args.projectDirectory, profiles: args.profiles,
      envFiles: args.envFiles, strict: args.strict, env: args.env, cwd: args.cwd, stdin: () => stack.readStdinCapped() });
  } catch (e) {
    const d = stack.diagnosticsOf(e);
    if (d === undefined) throw e;
    printer(args)(d);
    const errors = d.filter(stack.isError).length;
    (args.stderr ?? process.stderr).write(`${errors} error${errors === 1 ? '' : 's'}; nothing was converted\n`);
    throw new StackNotConverted();
  }
}

/** Loads and converts; prints every diagnostic (load and conversion) to `err`. Throws StackNotConverted on errors. */
export async function loadAndConvert(args: KubeLoadArgs & { readonly stderr?: Writer | undefined }, opts: Omit<ConvertOptions, 'readFile'>): Promise<{ load: LoadResult; result: ConvertResult }> {
  const err = args.stderr ?? process.stderr;
  const print = printer(args);
  const load = await loadForConvert(args);
  const model = resolveEnvironmentObjects(load.model, args.env ?? process.env);
  const result = convertStack(model, load.source, { ...opts, readFile: (p) => readObjectFile(p) });
  print([...load.diagnostics, ...result.diagnostics]);
  const errors = result.diagnostics.filter(stack.isError).length;
  if (errors > 0) {
    err.write(`${errors} error${errors === 1 ? '' : 's'}; nothing was converted\n`);
    throw new StackNotConverted();
  }
  const problems = await validateObjects(result.objects);
  if (problems.length > 0) {
    // A converted object the schemas refuse is a bug of the converter, not of the stack.
    throw new GantryError('INTERNAL', `the converted objects are invalid: ${problems.slice(0, 5).map((p) => `${p.object} ${p.path}: ${p.message}`).join('; ')}`,
      { hint: 'this is a bug in gantry: please report it with the stack file' });
  }
  return { load: { ...load, model }, result };
}

export async function convertCommand(args: ConvertArgs): Promise<number> {
  if (checkTarget(args.to, ['kubernetes', 'swarm']) === 'swarm') return swarmCommand(args);
  const out = args.stdout ?? process.stdout;
  let result: ConvertResult;
  try {
    ({ result } = await loadAndConvert(args, { namespace: args.namespace, storageClass: args.storageClass, volumeSize: args.volumeSize, ingressHost: args.ingressHost }));
  } catch (e) {
    if (e instanceof StackNotConverted) return 1;
    throw e;
  }
  const dest = args.output ?? '-';
  if (dest === '-') {
    out.write(renderStream(result.objects));
    return 0;
  }
  const dir = resolve(args.cwd ?? process.cwd(), dest);
  mkdirSync(dir, { recursive: true });
  // Files of an earlier conversion that no longer has their object go, so the directory is exactly the stack.
  for (const f of readdirSync(dir)) if (/^\d+-[a-z]+-[a-z0-9.-]+\.yaml$/.test(f)) rmSync(join(dir, f));
  const names = fileNames(result.objects);
  result.objects.forEach((o, i) => writeFileSync(join(dir, names[i]!), renderObject(o)));
  (args.stderr ?? process.stderr).write(`wrote ${result.objects.length} objects to ${dir}\n`);
  return 0;
}

/** `--to swarm`: a stack file for `docker stack deploy -c` (stdout, or DIR/stack.yaml plus inline secrets' files). */
async function swarmCommand(args: ConvertArgs): Promise<number> {
  const err = args.stderr ?? process.stderr;
  const out = args.stdout ?? process.stdout;
  for (const [flag, v] of [['--namespace', args.namespace], ['--storage-class', args.storageClass], ['--volume-size', args.volumeSize], ['--ingress-host', args.ingressHost]] as const) {
    if (v !== undefined) throw usageError(`${flag} is for --to kubernetes`, 'leave it out with --to swarm');
  }
  const print = printer(args);
  let load: LoadResult;
  try {
    load = await loadForConvert(args);
  } catch (e) {
    if (e instanceof StackNotConverted) return 1;
    throw e;
  }
  const { convertToSwarm } = await import('../../swarm/convert.js');
  const { toYaml } = await import('../../stack/yaml-out.js');
  const r = convertToSwarm(resolveEnvironmentObjects(load.model, args.env ?? process.env), load.source);
  print([...load.diagnostics, ...r.diagnostics]);
  const dest = args.output ?? '-';
  const text = toYaml(r.stack);
  if (dest === '-') {
    if (r.files.size > 0) {
      err.write(`${[...r.files.keys()].join(', ')} must be written beside the stack file: convert with -o DIR; nothing was converted\n`);
      return 1;
    }
    out.write(text);
    return 0;
  }
  const dir = resolve(args.cwd ?? process.cwd(), dest);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stack.yaml'), text);
  for (const [name, content] of r.files) {
    mkdirSync(join(dir, name, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, name), content, { mode: 0o600 });
  }
  err.write(`wrote ${join(dir, 'stack.yaml')}${r.files.size > 0 ? ` and ${r.files.size} file(s)` : ''}: deploy it with docker stack deploy -c ${join(dir, 'stack.yaml')} ${load.model.name}\n`);
  return 0;
}

export interface DeployArgs extends KubeLoadArgs {
  readonly to: string | undefined;
  readonly namespace: string | undefined;
  readonly storageClass: string | undefined;
  readonly volumeSize: string | undefined;
  readonly ingressHost: string | undefined;
  readonly context: string | undefined;
  readonly kubeconfig: string | undefined;
  readonly dryRun: string | undefined;
  readonly prune: boolean;
  readonly timeout: string | undefined;
}

export async function deployCommand(args: DeployArgs & { readonly stdout?: { write(s: string): unknown } | undefined; readonly stderr?: { write(s: string): unknown } | undefined;
  readonly pollMs?: number | undefined }): Promise<number> {
  checkTarget(args.to);
  const err = args.stderr ?? process.stderr;
  if (args.dryRun !== undefined && args.dryRun !== 'server' && args.dryRun !== 'client') throw usageError(`invalid --dry-run "${args.dryRun}"`, 'use --dry-run=server or --dry-run=client');
  let timeoutMs = 300_000;
  if (args.timeout !== undefined) {
    const r = readDuration(args.timeout);
    if (!('ns' in r)) throw usageError(`invalid --timeout "${args.timeout}": ${r.problem}`, 'give a duration like 5m or 90s');
    timeoutMs = r.ns / 1e6;
  }
  const { connectCluster } = await import('../../kube/client.js');
  const deploy = await import('../../kube/deploy.js');
  const cluster = await connectCluster({ kubeconfig: args.kubeconfig, context: args.context });
  const namespace = args.namespace ?? cluster.namespace;
  let converted;
  try {
    converted = await loadAndConvert(args, { namespace, storageClass: args.storageClass, volumeSize: args.volumeSize, ingressHost: args.ingressHost });
  } catch (e) {
    if (e instanceof StackNotConverted) return 1;
    throw e;
  }
  const { load, result } = converted;
  const local = deploy.localImages(load.model);
  if (local.length > 0) {
    throw new GantryError('KUBE_IMAGE_NOT_PUSHED', `${local.map((l) => `service "${l.service}" builds its image "${l.image}" locally`).join('; ')}: the cluster cannot pull ${local.length === 1 ? 'it' : 'them'}`,
      { hint: 'name a registry in `image:` (e.g. registry.example.com/team/app:1), run `gantry stack push`, then deploy' });
  }
  for (const [service, s] of Object.entries(load.model.services)) {
    if (s.build !== undefined) err.write(`note: service "${service}" builds ${s.image ?? ''}: the cluster pulls it from its registry, so push it first (\`gantry stack push\`)\n`);
  }
  // The Namespace object only when the namespace was asked for: the context's own (often "default") is not ours.
  const objects = result.objects.filter((o) => o.kind !== 'Namespace' || args.namespace !== undefined);
  err.write(`deploying ${load.model.name} to ${cluster.server} (context ${cluster.context}, namespace ${namespace})${args.dryRun === undefined ? '' : `, ${args.dryRun} dry run`}\n`);
  const report = await deploy.deployObjects(cluster.api, deploy.applyPhases(load.model, objects), {
    project: load.model.name, namespace, dryRun: args.dryRun as 'server' | 'client' | undefined, prune: args.prune, timeoutMs, pollMs: args.pollMs ?? 1000,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)), now: () => Date.now(), progress: (line) => err.write(`${line}\n`),
  });
  err.write(`${report.applied.length} objects ${args.dryRun === undefined ? 'applied' : 'checked'}${args.prune ? `, ${report.pruned.length} pruned` : ''}\n`);
  return 0;
}
