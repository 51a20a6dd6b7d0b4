#!/usr/bin/env node
// One build command: C programs in native/ (system cc), generated code (scripts/gen/*.mjs), then TypeScript.
// It never depends on npm running install scripts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
const newest = (dir) => Math.max(...readdirSync(dir).map((f) => statSync(join(dir, f)).mtimeMs));

// 1. native/<program>/*.c -> native/build/<program>
const nativeDir = join(root, 'native');
const outDir = join(nativeDir, 'build');
mkdirSync(outDir, { recursive: true });

/**
 * The shim runs once per container: built against musl when musl-gcc is there (setup.sh installs it), its private
 * memory is ~12 kB smaller than with a static glibc (72 kB RSS against 84; the binary 116 kB against 824). musl's
 * include path has no kernel headers: a dir of links to the host's (linux/, asm/, asm-generic/) is added.
 *
 * And static-pie (`pie` below, when musl's self-relocating start file rcrt1.o is there: musl-gcc's specs know no
 * -static-pie, so the start files are named by hand). The kernel maps a position-independent binary that has no
 * interpreter in the mmap area, right beside the vDSO and the shim's own mappings (native/shim/mem.c), where one set
 * of page-table pages serves them all; a binary linked at 0x400000 needs a set of its own (12 kB more per shim). Its
 * code and data are randomized too. `-z norelro`: musl's static start never makes RELRO read-only, and with it the
 * linker pads the relocated pointers out to a page of their own, which left the shim's data 40 bytes short of a
 * third dirty page (1.3 kB without).
 */
function muslCompiler() {
  if (process.env.CC !== undefined) return undefined;
  const musl = ['/usr/bin/musl-gcc', '/usr/local/bin/musl-gcc'].find((p) => existsSync(p));
  const asm = ['/usr/include/x86_64-linux-gnu/asm', '/usr/include/aarch64-linux-gnu/asm', '/usr/include/asm'].find((p) => existsSync(p));
  if (musl === undefined || asm === undefined || !existsSync('/usr/include/linux') || !existsSync('/usr/include/asm-generic')) return undefined;
  const inc = join(outDir, '.musl-include');
  mkdirSync(inc, { recursive: true });
  for (const [name, target] of [['linux', '/usr/include/linux'], ['asm-generic', '/usr/include/asm-generic'], ['asm', asm]]) {
    if (!existsSync(join(inc, name))) symlinkSync(target, join(inc, name));
  }
  return { cc: musl, flags: ['-isystem', inc], pie: staticPie(musl) };
}

/** Compiler and linker arguments of a static-pie link with musl-gcc, before and after the sources; undefined
 * when musl's start files are not where its specs file is (musl-gcc is a script naming it). */
function staticPie(musl) {
  const specs = /-specs\s+"?([^"\s]+)"?/.exec(readFileSync(musl, 'utf8'))?.[1];
  if (specs === undefined) return undefined;
  const lib = dirname(specs);
  const crt = ['rcrt1.o', 'crti.o', 'crtn.o'].map((f) => join(lib, f));
  const gcc = ['crtbeginS.o', 'crtendS.o'].map((f) => execFileSync(musl, [`-print-file-name=${f}`], { encoding: 'utf8' }).trim());
  if (![...crt, ...gcc].every((f) => existsSync(f))) return undefined;
  return {
    before: ['-fPIE', '-nostartfiles', '-Wl,-pie,--no-dynamic-linker,-z,text,-z,norelro', crt[0], crt[1], gcc[0]],
    after: [gcc[1], crt[2]],
  };
}
const musl = muslCompiler();
for (const program of readdirSync(nativeDir)) {
  const srcDir = join(nativeDir, program);
  if (program === 'build' || !statSync(srcDir).isDirectory()) continue;
  const sources = readdirSync(srcDir).filter((f) => f.endsWith('.c')).map((f) => join(srcDir, f));
  if (sources.length === 0) continue;
  const out = join(outDir, `gantry-${program}`);
  if (existsSync(out) && statSync(out).mtimeMs >= newest(srcDir)) continue;
  const withMusl = program === 'shim' && musl !== undefined;
  const cc = withMusl ? musl.cc : process.env.CC ?? 'cc';
  const pie = withMusl && musl.pie !== undefined ? musl.pie : { before: [], after: [] };
  // Static: the binary is tiny, starts fast, and its RSS stays low (no ld.so, no shared libc mappings).
  run(cc, ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-Werror', '-static', ...(withMusl ? musl.flags : []), ...pie.before, '-o', out, ...sources, ...pie.after]);
}

// 2. generated sources (e.g. ajv standalone validators), each script idempotent
const genDir = join(root, 'scripts', 'gen');
if (existsSync(genDir)) {
  for (const script of readdirSync(genDir).filter((f) => f.endsWith('.mjs')).sort()) run(process.execPath, [join(genDir, script)]);
}

// 3. TypeScript
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);

// 4. the CLI's start-up snapshot (dist/cli/gantry.blob), which bin/gantry starts from
run(process.execPath, [join(root, 'scripts', 'build-cli-snapshot.mjs')]);
