#!/usr/bin/env node
// The CLI's start-up snapshots: each entry (dist/src/cli/snapshot/*-entry.js, after tsc) is bundled into one
// CommonJS file with esbuild, then node evaluates it and writes its heap as a blob (`node --build-snapshot`).
// bin/gantry starts node from a blob: the CLI's modules, the node modules they use and (stack) the validator are
// already loaded and compiled, where the module build reads, links and compiles ~20 files per command.
//   dist/cli/gantry.blob        every command but the stack family (smaller: less to deserialize per start)
//   dist/cli/gantry-stack.blob  stack, up, down, watch, deploy
//   dist/cli/gantry-run.blob    the container commands (run, ps, exec, logs, ...): the smallest, for the most used
// Left out of both (run from the modules, see snapshotFor in main.ts): the foreground daemon, and the Kubernetes
// commands whose client is published only as ES modules.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'cli');

/** Modules (as imported, relative to the importer) that stay outside a bundle; the core one leaves out the stack family. */
const OUTSIDE = ['../../daemon/main.js', './stack-kube.js'];
const SNAPSHOTS = [
  { name: 'gantry', entry: 'core-entry.js', outside: [...OUTSIDE, './commands/stack.js', './commands/deploy.js'] },
  { name: 'gantry-stack', entry: 'stack-entry.js', outside: OUTSIDE },
  // every command module but commands/containers.ts stays out (main.ts imports them lazily; snapshotFor never
  // sends their commands here)
  { name: 'gantry-run', entry: 'run-entry.js', outside: [...OUTSIDE, ...['stack', 'deploy', 'build', 'images', 'snapshots', 'registry', 'prune', 'cp', 'inspect', 'system', 'networks', 'volumes'].map((c) => `./commands/${c}.js`)] },
];
const PACKAGES_OUTSIDE = ['koffi', '@kubernetes/client-node', 'kubernetes-models', 'kubernetes-models/*'];
/**
 * V8 flags for the node that builds the blobs and for every start from them (bin/gantry reads them from the second
 * line of dist/cli/node): node refuses a blob made under other V8 flags. Compiled code does not survive a snapshot
 * (only bytecode does), so a command starts in the interpreter and tiers up as node always does; two defaults are
 * wrong for a process that lives ~100 ms:
 *   --min-semi-space-size=16   a young generation of 16 MiB from the start (the default grows it from 1 MiB):
 *                              loading a stack builds its trees in new space, and each of the ~8 scavenges of a
 *                              100-service stack copied what was still live (1-7 ms each);
 *   --interrupt-budget=1081344 16 times the default: Turbofan optimises a function only after 16 times as much of
 *                              its bytecode ran. By default the stack reader's functions were optimised while
 *                              it ran (33 ms of compiling for one of them, ~100 ms in all, on the second core
 *                              that the main thread needs too) and the code came when the reading was done;
 *                              a long-running command (watch, logs -f, a large build context) still gets it;
 *   --no-rehash-snapshot       keep the hash seed drawn when the blob was built (random per build) instead of
 *                              rehashing every string and hash table of the deserialized heap at each start
 *                              (4-7 ms for the stack blob). The cost: every start from one build shares that
 *                              seed, so someone who can read the blob could craft keys that collide in a stack
 *                              file for this machine's CLI (a slow `stack config`, which the user can interrupt;
 *                              the daemon, which loads the stacks it runs, starts from the modules and keeps
 *                              V8's random seed).
 */
const V8_FLAGS = ['--min-semi-space-size=16', '--interrupt-budget=1081344', '--no-rehash-snapshot'];

mkdirSync(outDir, { recursive: true });
for (const snap of SNAPSHOTS) {
  const bundle = join(outDir, `${snap.name}.cjs`);
  const blob = join(outDir, `${snap.name}.blob`);
  await build({
    entryPoints: [join(root, 'dist', 'src', 'cli', 'snapshot', snap.entry)],
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
        b.onResolve({ filter: /.*/ }, (a) => (snap.outside.includes(a.path) ? { path: a.path, external: true } : undefined));
        // import.meta.url has no meaning in CommonJS: each module gets its own URL under the project's root, found
        // at run time from the blob's path (the tree can be moved after the build).
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
  const builder = spawnSync(process.execPath, [...V8_FLAGS, '--snapshot-blob', partial, '--build-snapshot', bundle], { cwd: root, encoding: 'utf8' });
  // Node warns that it has not verified node:module and node:child_process in snapshots; both are only loaded at
  // build time (createRequire and spawn are called at run time), so those two warnings are dropped, nothing else.
  const known = /^\(node:\d+\) Warning: It's not yet fully verified whether built-in module "node:(module|child_process)" works in user snapshot builder scripts\.\n(It may still work.*\n|To request support.*\n|\(Use `node --trace-warnings.*\n)*/gm;
  const rest = builder.stderr.replace(known, '');
  if (rest.trim() !== '') process.stderr.write(rest);
  if (builder.status !== 0) throw new Error(`node --build-snapshot of ${snap.name} failed (status ${builder.status})`);
  renameSync(partial, blob);
}
// The blobs run only on the node that made them, under the same V8 flags: bin/gantry reads which binary (line 1)
// and the flags (line 2) from `node` (without a subshell), and compares that binary's mtime with `node.stamp`'s
// (the binary's mtime at build time): another binary there (an upgrade, even one whose files keep their
// package's older mtimes) runs the modules until the next build.
writeFileSync(join(outDir, 'node'), `${process.execPath}\n${V8_FLAGS.join(' ')}\n`);
const stamp = join(outDir, 'node.stamp');
writeFileSync(stamp, `${process.version}\n`);
const { atime, mtime } = statSync(process.execPath);
utimesSync(stamp, atime, mtime);
