// `npm run bench`: every benchmark of the project, each printing figures next to its baseline measured in
// the same run. Nothing here is asserted; tests never time anything.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const suites = ['engine', 'cli', 'stack', 'network', 'ports', 'network-engine', 'stack-up', 'logs', 'seccomp', 'seccomp-memory', 'images', 'registry', 'docker-cli', 'build', 'kube', 'deploy', 'density', 'netns-neighbours'];

function print({ name, results }) {
  console.log(`\n## ${name}`);
  console.log('| measurement | value | note |');
  console.log('| --- | ---: | --- |');
  for (const r of results) console.log(`| ${r.name} | ${Number(r.value).toFixed(r.unit === 'MiB' || r.unit === 'ratio' ? 3 : 1)} ${r.unit} | ${r.note ?? ''} |`);
}

let failed = false;
for (const s of suites) {
  if (only.length && !only.includes(s)) continue;
  const file = join(here, `${s}.mjs`);
  if (!existsSync(file)) continue;
  try {
    const mod = await import(pathToFileURL(file).href);
    const out = await mod.run({ print: false });
    if (out && Array.isArray(out.results)) print(out);
    else if (out && typeof out === 'object') print({ name: s, results: Object.entries(out).map(([name, value]) => ({ name, value, unit: '' })) });
  } catch (e) {
    failed = true;
    console.error(`bench ${s} failed: ${e instanceof Error ? e.stack : String(e)}`);
  }
}
process.exit(failed ? 1 : 0);
