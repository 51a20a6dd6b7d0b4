// `gantry inspect NAME...`: containers first, then images (docker's order), as a JSON array.
import { GantryError, usageError } from '../../common/errors.js';
import { parseArgs, str } from '../args.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { printJson } from '../output.js';

/** Tiny `--format '{{.State.Status}}'` support: dotted paths only. */
export function formatPath(value: unknown, format: string): string {
  return format.replace(/\{\{\s*((?:\.\w+)+)\s*\}\}/g, (_m, path: string) => {
    let cur: unknown = value;
    for (const key of path.split('.').filter(Boolean)) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[key] : undefined;
    return typeof cur === 'object' ? JSON.stringify(cur) : String(cur ?? '<no value>');
  });
}

export async function run(_cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  const p = parseArgs(args, [{ name: 'format', short: 'f', kind: 'string' }, { name: 'type', kind: 'string' }]);
  if (p.positionals.length === 0) throw usageError('inspect needs at least one name or id', 'gantry inspect CONTAINER|IMAGE...');
  const client = await connectDaemon(g.host);
  const type = str(p, 'type');
  const out: unknown[] = [];
  let status = 0;
  for (const ref of p.positionals) {
    const attempts = type === 'image' ? ['image'] : type === 'container' ? ['container'] : ['container', 'image'];
    let found: unknown;
    for (const kind of attempts) {
      try {
        found = await client.call('GET', kind === 'container' ? `/containers/${encodeURIComponent(ref)}/json` : `/images/${encodeURIComponent(ref)}/json`);
        break;
      } catch (e) {
        if (!(e instanceof GantryError) || !['NOT_FOUND', 'CONTAINER_NOT_FOUND', 'IMAGE_NOT_FOUND'].includes(e.code)) throw e;
      }
    }
    if (found === undefined) {
      process.stderr.write(`Error: no such object: ${ref}\n`);
      status = 1;
    } else {
      out.push(found);
    }
  }
  const format = str(p, 'format');
  if (format !== undefined) for (const o of out) process.stdout.write(`${formatPath(o, format)}\n`);
  else printJson(out);
  return status;
}
