// `gantry volume create|ls|rm|inspect`.
import { usageError } from '../../common/errors.js';
import { bool, list, parseArgs } from '../args.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson, table } from '../output.js';

export async function run(_cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const [verb, ...rest] = args;
  const client = await connectDaemon(g.host);
  switch (verb) {
    case 'create': {
      const p = parseArgs(rest, [{ name: 'label', short: 'l', kind: 'list' }, { name: 'name', kind: 'string' }]);
      const labels = Object.fromEntries(list(p, 'label').map((l) => { const i = l.indexOf('='); return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)]; }));
      const v = await client.call<{ Name: string }>('POST', '/volumes/create', { body: { Name: p.positionals[0] ?? p.flags.get('name'), Labels: labels } });
      process.stdout.write(`${v.Name}\n`);
      return 0;
    }
    case 'ls': case 'list': {
      const p = parseArgs(rest, [{ name: 'quiet', short: 'q', kind: 'bool' }]);
      const { Volumes } = await client.call<{ Volumes: Array<{ Name: string; Driver: string }> }>('GET', '/volumes');
      if (bool(p, 'quiet')) process.stdout.write(Volumes.map((v) => `${v.Name}\n`).join(''));
      else process.stdout.write(table(['DRIVER', 'VOLUME NAME'], Volumes.map((v) => [v.Driver, v.Name])));
      return 0;
    }
    case 'rm': case 'remove': {
      const p = parseArgs(rest, [{ name: 'force', short: 'f', kind: 'bool' }]);
      if (p.positionals.length === 0) throw usageError('volume rm needs at least one name', 'gantry volume rm VOLUME...');
      let status = 0;
      for (const name of p.positionals) {
        try {
          await client.call('DELETE', `/volumes/${encodeURIComponent(name)}`, { query: { force: bool(p, 'force') } });
          process.stdout.write(`${name}\n`);
        } catch (e) {
          process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
          status = 1;
        }
      }
      return status;
    }
    case 'inspect': {
      const names = parseArgs(rest, []).positionals;
      if (names.length === 0) throw usageError('volume inspect needs at least one name', 'gantry volume inspect VOLUME...');
      printJson(await Promise.all(names.map((n) => client.call('GET', `/volumes/${encodeURIComponent(n)}`))));
      return 0;
    }
    default:
      throw usageError(`unknown volume command "${verb ?? ''}"`, 'gantry volume create|ls|rm|inspect');
  }
}
