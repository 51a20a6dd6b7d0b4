// Images from containers and archives: commit, history, diff, export, save, load (Docker's commands and output).
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { usageError } from '../../common/errors.js';
import { formatAgo, formatBytes } from '../../common/units.js';
import { bool, list, parseArgs, str } from '../args.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { table } from '../output.js';

interface HistoryEntry { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }
interface Change { Path: string; Kind: 0 | 1 | 2 }

const KIND = ['C', 'A', 'D'] as const;

function shortId(id: string): string {
  return id.startsWith('sha256:') ? id.slice(7, 19) : id;
}

/** Writes a stream to `-o FILE` (atomically: a temp name, renamed when complete) or to stdout (never a terminal). */
export async function writeOutput(stream: Readable, file: string | undefined, what: string): Promise<void> {
  if (file === undefined || file === '-') {
    if (process.stdout.isTTY) throw usageError(`cowardly refusing to write ${what} to a terminal`, 'use the -o flag or redirect');
    await pipeline(stream, process.stdout, { end: false });
    return;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await pipeline(stream, createWriteStream(tmp));
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  switch (cmd) {
    case 'commit': {
      const p = parseArgs(args, [
        { name: 'change', short: 'c', kind: 'list' }, { name: 'message', short: 'm', kind: 'string' },
        { name: 'author', short: 'a', kind: 'string' }, { name: 'pause', short: 'p', kind: 'bool' },
      ]);
      const [container, ref] = p.positionals;
      if (!container || p.positionals.length > 2) throw usageError('commit needs a container', 'gantry commit [-c INSTRUCTION]... [-m MESSAGE] [-a AUTHOR] [--pause=false] CONTAINER [REPOSITORY[:TAG]]');
      const { applyChanges } = await import('../../engine/images/instructions.js');
      applyChanges({}, list(p, 'change'));
      const client = await connectDaemon(g.host);
      const slash = ref?.lastIndexOf('/') ?? -1;
      const colon = ref?.lastIndexOf(':') ?? -1;
      const [repo, tag] = ref === undefined ? [undefined, undefined] : colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined];
      const out = await client.call<{ Id: string }>('POST', '/commit', {
        query: {
          container, repo, tag, comment: str(p, 'message'), author: str(p, 'author'), changes: list(p, 'change'),
          pause: p.flags.has('pause') ? bool(p, 'pause') : true,
        },
      });
      process.stdout.write(`${out.Id}\n`);
      return 0;
    }
    case 'history': {
      const p = parseArgs(args, [{ name: 'no-trunc', kind: 'bool' }, { name: 'quiet', short: 'q', kind: 'bool' }, { name: 'human', short: 'H', kind: 'bool' }]);
      const [image] = p.positionals;
      if (!image || p.positionals.length !== 1) throw usageError('history needs one image', 'gantry history [--no-trunc] [-q] IMAGE');
      const client = await connectDaemon(g.host);
      const entries = await client.call<HistoryEntry[]>('GET', `/images/${encodeURIComponent(image)}/history`);
      const noTrunc = bool(p, 'no-trunc');
      const id = (e: HistoryEntry): string => (e.Id === '<missing>' || noTrunc ? e.Id : shortId(e.Id));
      if (bool(p, 'quiet')) { process.stdout.write(entries.map((e) => `${id(e)}\n`).join('')); return 0; }
      const human = !p.flags.has('human') || bool(p, 'human');
      const rows = entries.map((e) => {
        const by = e.CreatedBy.replace(/\s+/g, ' ');
        return [
          id(e),
          human ? `${formatAgo(Date.now() - e.Created * 1000)} ago` : new Date(e.Created * 1000).toISOString(),
          noTrunc || by.length <= 45 ? by : `${by.slice(0, 44)}…`,
          human ? formatBytes(e.Size) : String(e.Size),
          e.Comment,
        ];
      });
      process.stdout.write(table(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows));
      return 0;
    }
    case 'diff': {
      const p = parseArgs(args, []);
      const [container] = p.positionals;
      if (!container || p.positionals.length !== 1) throw usageError('diff needs one container', 'gantry diff CONTAINER');
      const client = await connectDaemon(g.host);
      const changes = await client.call<Change[] | null>('GET', `/containers/${encodeURIComponent(container)}/changes`);
      process.stdout.write((changes ?? []).map((c) => `${KIND[c.Kind]} ${c.Path}\n`).join(''));
      return 0;
    }
    case 'export': {
      const p = parseArgs(args, [{ name: 'output', short: 'o', kind: 'string' }]);
      const [container] = p.positionals;
      if (!container || p.positionals.length !== 1) throw usageError('export needs one container', 'gantry export [-o FILE] CONTAINER');
      const file = str(p, 'output');
      if (file === undefined && process.stdout.isTTY) throw usageError('cowardly refusing to write the archive to a terminal', 'use the -o flag or redirect');
      const client = await connectDaemon(g.host);
      await writeOutput(await client.stream('GET', `/containers/${encodeURIComponent(container)}/export`), file, 'the archive');
      return 0;
    }
    case 'save': {
      const p = parseArgs(args, [{ name: 'output', short: 'o', kind: 'string' }]);
      if (p.positionals.length === 0) throw usageError('save needs at least one image', 'gantry save [-o FILE] IMAGE...');
      const file = str(p, 'output');
      if (file === undefined && process.stdout.isTTY) throw usageError('cowardly refusing to write the archive to a terminal', 'use the -o flag or redirect');
      const client = await connectDaemon(g.host);
      await writeOutput(await client.stream('GET', '/images/get', { query: { names: p.positionals } }), file, 'the archive');
      return 0;
    }
    case 'load': {
      const p = parseArgs(args, [{ name: 'input', short: 'i', kind: 'string' }, { name: 'quiet', short: 'q', kind: 'bool' }]);
      if (p.positionals.length > 0) throw usageError('load takes no arguments', 'gantry load [-i FILE] [-q]  (or an archive on standard input)');
      const file = str(p, 'input');
      if (file === undefined && process.stdin.isTTY) throw usageError('requested load from stdin, but stdin is a terminal', 'give -i FILE or pipe an archive in');
      if (file !== undefined && !existsSync(file)) throw usageError(`no such file: ${file}`, 'give the path of an archive written by `gantry save` or `docker save`');
      const client = await connectDaemon(g.host);
      const res = await client.stream('POST', '/images/load', {
        query: { quiet: bool(p, 'quiet') }, bodyStream: file === undefined ? process.stdin : createReadStream(file), headers: { 'Content-Type': 'application/x-tar' },
      });
      let text = '';
      for await (const chunk of res) text += (chunk as Buffer).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        const m = JSON.parse(line) as { stream?: string };
        if (m.stream !== undefined) process.stdout.write(m.stream);
      }
      return 0;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
