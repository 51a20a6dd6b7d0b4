// From file names to one merged, positioned tree: read, parse, interpolate, canonicalise, merge the files,
// resolve `include` and `extends`. Reads files; nothing else.

import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseEnvFile } from './env-file.js';
import type { FilePolicy } from './file-policy.js';
import { allowPath, insideProject, readCapped, reportTooLarge } from './file-policy.js';
import { resolveHostPath } from './host-path.js';
import type { Lookup } from './interpolate.js';
import { interpolateTree } from './interpolate-tree.js';
import { canonicaliseService, mergeNode } from './merge.js';
import type { PEntry, PMap, PNode, Pos } from './pnode.js';
import { getEntry, pmap } from './pnode.js';
import { parseYaml } from './parse.js';
import type { Reporter } from './report.js';
import { STDIN_FILE } from './discover.js';

export interface ComposeContext {
  readonly reporter: Reporter;
  readonly stdinText: string | undefined;
  readonly warnedUnset: Set<string>;
  readonly shell: Readonly<Record<string, string | undefined>>;
  /** Every file read, in order (absolute paths, "-" for stdin). */
  readonly loadedFiles: string[];
  readonly policy: FilePolicy;
}

const RESOURCES = ['services', 'networks', 'volumes', 'secrets', 'configs'] as const;

/**
 * Reads a stack or env file, size-capped. `refPos` is where a stack names the file (undefined for the files
 * the user named). A file whose real path is outside the project directory is marked untrusted, so
 * diagnostics show none of its text.
 */
export function readText(file: string, ctx: ComposeContext, refPos: Pos | undefined, what: string): string | undefined {
  if (file === STDIN_FILE) {
    const text = ctx.stdinText ?? '';
    if (Buffer.byteLength(text, 'utf8') > ctx.policy.maxFileBytes) {
      reportTooLarge(ctx.policy, ctx.reporter, '<stdin>', what, undefined, undefined); // read only up to the cap
      return undefined;
    }
    return text;
  }
  if (!insideProject(ctx.policy, file)) ctx.reporter.markUntrusted(file);
  return readCapped(ctx.policy, ctx.reporter, file, what, refPos);
}

/** Builds the variable lookup: the shell environment first, then the env files in order (later win). */
export function envLookup(files: readonly string[], ctx: ComposeContext, parent: Lookup | undefined, refPos?: Pos): Lookup {
  const vars = new Map<string, string>();
  for (const f of files) {
    const text = readText(f, ctx, refPos, 'env file');
    if (text === undefined) continue;
    for (const [k, v] of parseEnvFile(text, f, ctx.shell, ctx.reporter)) vars.set(k, v);
  }
  return (name) => ctx.shell[name] ?? vars.get(name) ?? parent?.(name);
}

/**
 * Trees read from a text without "!": no node has a tag (`!reset`, `!override`), so merging one onto nothing
 * (which only drops tags and reset members) would give the tree itself; composeFiles skips that walk.
 */
const UNTAGGED = new WeakSet<PMap>();

function untagged(tree: PMap, text: string): PMap {
  if (!text.includes('!')) UNTAGGED.add(tree);
  return tree;
}

function loadOne(file: string, base: string, lookup: Lookup, ctx: ComposeContext, refPos: Pos | undefined): PMap | undefined {
  const text = readText(file, ctx, refPos, 'stack file');
  if (text === undefined) return undefined;
  ctx.loadedFiles.push(file);
  const parsed = parseYaml(text, file === STDIN_FILE ? '<stdin>' : file, base, ctx.reporter);
  if (parsed.root === undefined) return undefined;
  if (parsed.root.kind !== 'map') {
    ctx.reporter.error('SPEC_NOT_A_MAPPING', 'a stack file must be a mapping (with `services:` at the top level)', parsed.root.pos, []);
    return undefined;
  }
  const tree = interpolateTree(parsed.root, lookup, ctx.reporter, ctx.warnedUnset) as PMap;
  const services = tree.entries.get('services');
  if (services?.value.kind !== 'map') return untagged(tree, text);
  const canon = new Map<string, PEntry>();
  services.value.entries.forEach((e, k) => {
    canon.set(k, { ...e, value: canonicaliseService(e.value) });
  });
  const entries = new Map(tree.entries);
  entries.set('services', { ...services, value: { ...services.value, entries: canon } });
  return untagged({ ...tree, entries }, text);
}

/**
 * Loads and merges `files` (all relative paths inside resolve against `base`), then applies `include` and
 * `extends`. `chain` holds the files of the include chain, for cycle detection.
 */
export function composeFiles(files: readonly string[], base: string, lookup: Lookup, ctx: ComposeContext, chain: readonly string[] = [], refPos?: Pos): PMap | undefined {
  let merged: PNode | undefined;
  for (const f of files) {
    const tree = loadOne(f, base, lookup, ctx, refPos);
    if (tree === undefined) continue;
    if (merged === undefined) merged = UNTAGGED.has(tree) ? tree : mergeNode(undefined, tree, []);
    else merged = mergeNode(merged, tree, []);
  }
  if (merged === undefined || merged.kind !== 'map') return undefined;
  let root: PMap = merged;
  root = applyIncludes(root, lookup, ctx, [...chain, ...files]);
  return resolveAllExtends(root, lookup, ctx);
}

function scalarText(n: PNode | undefined): string | undefined {
  return n?.kind === 'scalar' && n.value !== null ? String(n.value) : undefined;
}

function stringList(n: PNode | undefined): { text: string; pos: Pos }[] {
  if (n === undefined) return [];
  if (n.kind === 'scalar') return n.value === null ? [] : [{ text: String(n.value), pos: n.pos }];
  if (n.kind === 'seq') return n.items.flatMap((i) => (i.kind === 'scalar' && i.value !== null ? [{ text: String(i.value), pos: i.pos }] : []));
  return [];
}

function applyIncludes(root: PMap, lookup: Lookup, ctx: ComposeContext, chain: readonly string[]): PMap {
  const include = root.entries.get('include');
  if (include === undefined || include.value.kind !== 'seq') return root; // a wrong shape is left to the schema
  const entries = new Map(root.entries);
  entries.delete('include');
  const out: PMap = { ...root, entries };
  for (const item of include.value.items) {
    const paths = item.kind === 'map' ? stringList(getEntry(item, 'path')?.value) : stringList(item);
    if (paths.length === 0) continue;
    const first = paths[0] as { text: string; pos: Pos };
    const files = paths.map((p) => resolveHostPath(p.pos.base, p.text));
    const cyc = files.find((f) => chain.includes(f));
    if (cyc !== undefined) {
      ctx.reporter.error('SPEC_INCLUDE_CYCLE', `including ${cyc} again forms a cycle: ${[...chain, cyc].join(' -> ')}`, first.pos, ['include'], 'remove one of the `include` entries');
      continue;
    }
    const pdNode = item.kind === 'map' ? getEntry(item, 'project_directory')?.value : undefined;
    const pd = scalarText(pdNode);
    const incBase = pd === undefined ? dirname(files[0] as string) : resolveHostPath(first.pos.base, pd);
    const envList = item.kind === 'map' ? stringList(getEntry(item, 'env_file')?.value) : [];
    const envFiles = envList.map((e) => resolveHostPath(e.pos.base, e.text));
    // Strict mode: nothing outside the project is read (checked before reading).
    let allowed = true;
    paths.forEach((p, i) => { allowed = allowPath(ctx.policy, ctx.reporter, files[i] as string, 'include', p.pos, ['include']) && allowed; });
    if (pd !== undefined && pdNode !== undefined) allowed = allowPath(ctx.policy, ctx.reporter, incBase, 'include project_directory', pdNode.pos, ['include']) && allowed;
    envList.forEach((e, i) => { allowed = allowPath(ctx.policy, ctx.reporter, envFiles[i] as string, 'include env_file', e.pos, ['include']) && allowed; });
    if (!allowed) continue;
    const defaultEnv = resolve(incBase, '.env');
    const incLookup = envLookup(envFiles.length > 0 ? envFiles : existsSync(defaultEnv) ? [defaultEnv] : [], ctx, lookup, first.pos);
    const sub = composeFiles(files, incBase, incLookup, ctx, chain, first.pos);
    if (sub === undefined) continue;
    for (const kind of RESOURCES) {
      const incoming = sub.entries.get(kind);
      if (incoming?.value.kind !== 'map') continue;
      const existing = entries.get(kind);
      const target: PMap = existing?.value.kind === 'map' ? existing.value : pmap(incoming.value.pos);
      const merged = new Map(target.entries);
      for (const [name, e] of incoming.value.entries) {
        if (name.startsWith('x-')) continue;
        const own = target.entries.get(name);
        if (own !== undefined) {
          ctx.reporter.error('SPEC_INCLUDE_CONFLICT', `${kind.slice(0, -1)} "${name}" is defined here and also by the included file ${e.keyPos.file}`, own.keyPos, [kind, name], 'rename one of them; an included file cannot be overridden by the file that includes it');
          continue;
        }
        merged.set(name, e);
      }
      entries.set(kind, { key: kind, keyPos: existing?.keyPos ?? incoming.keyPos, value: { ...target, entries: merged } });
    }
  }
  return out;
}

interface ExtendsTarget {
  readonly service: string;
  readonly file: string | undefined;
  /** Position of the `service` value, and of the `file` value when there is one. */
  readonly pos: Pos;
  readonly filePos: Pos | undefined;
}

function extendsOf(svc: PNode): ExtendsTarget | undefined {
  const e = getEntry(svc, 'extends');
  if (e === undefined) return undefined;
  if (e.value.kind === 'scalar') {
    const s = scalarText(e.value);
    return s === undefined ? undefined : { service: s, file: undefined, pos: e.value.pos, filePos: undefined };
  }
  const service = getEntry(e.value, 'service');
  const s = scalarText(service?.value);
  if (s === undefined || service === undefined) return undefined;
  const file = getEntry(e.value, 'file');
  const f = scalarText(file?.value);
  if (f === undefined || file === undefined) return { service: s, file: undefined, pos: service.value.pos, filePos: undefined };
  return { service: s, file: resolveHostPath(file.value.pos.base, f), pos: service.value.pos, filePos: file.value.pos };
}

function resolveAllExtends(root: PMap, lookup: Lookup, ctx: ComposeContext): PMap {
  const services = root.entries.get('services');
  if (services?.value.kind !== 'map') return root;
  const resolved = resolveServices(services.value, lookup, ctx, new Map());
  const entries = new Map(root.entries);
  entries.set('services', { ...services, value: resolved });
  return { ...root, entries };
}

/**
 * Other files named by `extends: {file}`, loaded once each with their extends resolved: their `services`
 * mapping, LOADING while that is under way (a cycle through files stops there), UNREADABLE when the file could
 * not be read or parsed (reported once, by the reader), or NO_SERVICES when it has no `services:` mapping.
 */
const LOADING = 'loading';
const UNREADABLE = 'unreadable';
const NO_SERVICES = 'no-services';
type FileCache = Map<string, PMap | typeof LOADING | typeof UNREADABLE | typeof NO_SERVICES>;

function resolveServices(services: PMap, lookup: Lookup, ctx: ComposeContext, cache: FileCache): PMap {
  const done = new Map<string, PNode>();
  const active: string[] = [];
  const resolveOne = (name: string): PNode | undefined => {
    const known = done.get(name);
    if (known !== undefined) return known;
    const entry = services.entries.get(name);
    if (entry === undefined) return undefined;
    const ext = extendsOf(entry.value);
    if (ext === undefined || entry.value.kind !== 'map') {
      done.set(name, entry.value);
      return entry.value;
    }
    let parent: PNode | undefined;
    if (ext.file === undefined) {
      if (active.includes(ext.service) || ext.service === name) {
        ctx.reporter.error('SPEC_EXTENDS_CYCLE', `extends forms a cycle: ${[...active, name, ext.service].join(' -> ')}`, ext.pos, ['services', name, 'extends'], 'a service cannot extend itself, directly or through others');
        parent = undefined;
      } else if (!services.entries.has(ext.service)) {
        ctx.reporter.error('SPEC_EXTENDS_UNKNOWN', `service "${name}" extends "${ext.service}", which is not defined`, ext.pos, ['services', name, 'extends'], hintServices(services));
      } else {
        active.push(name);
        parent = resolveOne(ext.service);
        active.pop();
      }
    } else {
      parent = serviceFromFile(ext, name, lookup, ctx, cache);
    }
    const entries = new Map(entry.value.entries);
    entries.delete('extends');
    const local: PMap = { ...entry.value, entries };
    const merged = parent === undefined ? local : (mergeNode(stripExtends(parent), local, ['services', name]) ?? local);
    done.set(name, merged);
    return merged;
  };
  const out = new Map<string, PEntry>();
  services.entries.forEach((e, name) => {
    const v = name.startsWith('x-') ? e.value : resolveOne(name);
    out.set(name, { ...e, value: v ?? e.value });
  });
  return { ...services, entries: out };
}

function stripExtends(n: PNode): PNode {
  if (n.kind !== 'map' || !n.entries.has('extends')) return n;
  const entries = new Map(n.entries);
  entries.delete('extends');
  return { ...n, entries };
}

function serviceFromFile(ext: ExtendsTarget, from: string, lookup: Lookup, ctx: ComposeContext, cache: FileCache): PNode | undefined {
  const file = ext.file as string;
  const path = ['services', from, 'extends'];
  let services = cache.get(file);
  if (services === undefined) {
    if (!allowPath(ctx.policy, ctx.reporter, file, 'extends.file', ext.filePos, [...path, 'file'])) {
      cache.set(file, UNREADABLE);
      return undefined;
    }
    cache.set(file, LOADING);
    const tree = loadOne(file, dirname(file), lookup, ctx, ext.filePos);
    const s = tree?.entries.get('services')?.value;
    services = tree === undefined ? UNREADABLE : s?.kind === 'map' ? resolveServices(s, lookup, ctx, cache) : NO_SERVICES;
    cache.set(file, services);
  } else if (services === LOADING) {
    ctx.reporter.error('SPEC_EXTENDS_CYCLE', `extends forms a cycle through ${file}`, ext.pos, path, 'a service cannot extend itself, directly or through others');
    return undefined;
  }
  if (services === UNREADABLE) return undefined;
  if (services === NO_SERVICES) {
    // Compose: "cannot extend service ... no services section". Without this the service would silently
    // lose everything it meant to inherit.
    ctx.reporter.error('SPEC_EXTENDS_UNKNOWN', `service "${from}" extends "${ext.service}" from ${file}, which has no \`services:\` section`, ext.filePos ?? ext.pos, [...path, 'file'],
      `define "${ext.service}" under \`services:\` in that file, or point \`extends.file\` at the file that does`);
    return undefined;
  }
  const target = services.entries.get(ext.service);
  if (target === undefined) {
    // The names an outside file defines are its text: not listed.
    ctx.reporter.error('SPEC_EXTENDS_UNKNOWN', `service "${from}" extends "${ext.service}", which ${file} does not define`, ext.pos, path, insideProject(ctx.policy, file) ? hintServices(services) : undefined);
    return undefined;
  }
  return target.value;
}

function hintServices(services: PMap): string {
  const names = [...services.entries.keys()].filter((k) => !k.startsWith('x-')).sort();
  return names.length === 0 ? 'no services are defined' : `defined services are: ${names.join(', ')}`;
}
