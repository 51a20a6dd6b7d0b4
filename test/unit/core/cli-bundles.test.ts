// The CLI's start-up snapshots run without an ES module loader: a dynamic import() of a Node built-in left in a
// bundle fails there (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING) at the moment a user reaches it (the daemon's
// autostart, login's prompt). Built-ins are required instead; this reads the built bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cliDist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'cli');

test('no snapshot bundle imports a Node built-in dynamically', () => {
  const bundles = existsSync(cliDist) ? readdirSync(cliDist).filter((f) => f.endsWith('.cjs')) : [];
  assert.ok(bundles.length >= 3, `the CLI bundles are built (${cliDist})`);
  for (const f of bundles) {
    const imported = [...readFileSync(join(cliDist, f), 'utf8').matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
    const found = imported.filter((m) => m.startsWith('node:') || builtinModules.includes(m));
    assert.deepEqual(found, [], `${f} imports Node built-ins dynamically, which fails in a start-up snapshot: require them (createRequire) instead`);
  }
});
