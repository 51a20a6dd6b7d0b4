#!/usr/bin/env node
// The CLI's start-up snapshot: bundles dist/src/cli/snapshot-entry.js (after tsc) into one CommonJS file with
// esbuild, then has node evaluate it and write the heap as dist/cli/gantry.blob (`node --build-snapshot`).
// bin/gantry starts node from that blob: the CLI's modules, the node modules they use and the stack validator are
// already loaded and compiled, where the module build reads, links and compiles ~20 files per command.
// Left out of the bundle (bin/gantry runs these commands from the modules, see runsOnlyFromModules in main.ts): the
// daemon, and the Kubernetes commands whose client is published only as ES modules.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'cli');
const bundle = join(outDir, 'gantry.cjs');
const blob = join(outDir, 'gantry.blob');

/** Modules (as imported, relative to the importer) that stay outside: they run only from the module build. */
const OUTSIDE = ['../../daemon/main.js', './stack-kube.js'];
const PACKAGES_OUTSIDE = ['koffi', '@kubernetes/client-node', 'kubernetes-models', 'kubernetes-models/*'];

mkdirSync(outDir, { recursive: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'snapshot-entry.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${process.versions.node}`,
  // Smaller source in the blob is less to deserialize at every start; names are kept for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: PACKAGES_OUTSIDE,
  plugins: [{
    name: 'gantry-snapshot',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (a) => (OUTSIDE.includes(a.path) ? { path: a.path, external: true } : undefined));
      // import.meta.url has no meaning in CommonJS: each module gets its own URL under the project's root, found at
      // run time from the blob's path (the tree can be moved after the build).
      b.onLoad({ filter: /[/\\]dist[/\\].*\.js$/ }, (a) => {
        const source = readFileSync(a.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        return { contents: source.replaceAll('import.meta.url', `__gantryModuleUrl(${JSON.stringify(relative(root, a.path))})`), loader: 'js' };
      });
    },
  }],
  banner: {
    js: [
      'var __gantryRoot;',
      'function __gantryModuleUrl(rel) {',
      '  const path = require("node:path");',
      '  if (__gantryRoot === undefined) { const i = process.execArgv.indexOf("--snapshot-blob"); __gantryRoot = path.resolve(process.execArgv[i + 1], "..", "..", ".."); }',
      '  return require("node:url").pathToFileURL(path.join(__gantryRoot, rel)).href;',
      '}',
    ].join('\n'),
  },
});

// Written beside, then renamed: a CLI started meanwhile never reads half a blob.
const partial = `${blob}.partial`;
rmSync(partial, { force: true });
const builder = spawnSync(process.execPath, ['--snapshot-blob', partial, '--build-snapshot', bundle], { cwd: root, encoding: 'utf8' });
// Node warns that it has not verified node:module and node:child_process in snapshots; both are only loaded at
// build time (createRequire and spawn are called at run time), so those two warnings are dropped, nothing else.
const known = /^\(node:\d+\) Warning: It's not yet fully verified whether built-in module "node:(module|child_process)" works in user snapshot builder scripts\.\n(It may still work.*\n|To request support.*\n|\(Use `node --trace-warnings.*\n)*/gm;
const rest = builder.stderr.replace(known, '');
if (rest.trim() !== '') process.stderr.write(rest);
if (builder.status !== 0) throw new Error(`node --build-snapshot failed (status ${builder.status})`);
renameSync(partial, blob);
// The blob runs only on the node that made it: bin/gantry reads which one from here (without a subshell).
writeFileSync(join(outDir, 'node'), `${process.execPath}\n`);
