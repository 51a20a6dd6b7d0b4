// Image commands: images, import, tag, rmi.
import { createReadStream, existsSync } from 'node:fs';
import type { ImageInfo } from 'dockerode';
import { usageError } from '../../common/errors.js';
import { formatAgo, formatBytes } from '../../common/units.js';
import { bool, list, parseArgs, str } from '../args.js';
import { connectDaemon } from '../client.js';
import type { GlobalOptions } from '../main.js';
import { table } from '../output.js';
import { formatPath } from './inspect.js';

function splitRef(ref: string): { repo: string; tag: string | undefined } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: undefined };
}

export async function run(cmd: string, args: string[], g: GlobalOptions): Promise<number> {
  switch (cmd) {
    case 'images': {
      const p = parseArgs(args, [{ name: 'quiet', short: 'q', kind: 'bool' }, { name: 'format', kind: 'string' }, { name: 'all', short: 'a', kind: 'bool' },
        { name: 'digests', kind: 'bool' }, { name: 'no-trunc', kind: 'bool' }]);
      if (p.positionals.length > 1) throw usageError('images takes at most one REPOSITORY[:TAG]', 'gantry images [OPTIONS] [REPOSITORY[:TAG]]');
      const [reference] = p.positionals;
      const client = await connectDaemon(g.host);
      // As docker: `images REPO[:TAG]` is the reference filter (only matching tags are listed).
      const images = await client.call<ImageInfo[]>('GET', '/images/json', { query: { all: bool(p, 'all') || undefined,
        filters: reference === undefined ? undefined : JSON.stringify({ reference: [reference] }) } });
      if (bool(p, 'quiet')) { process.stdout.write(images.map((i) => `${i.Id.replace('sha256:', '').slice(0, 12)}\n`).join('')); return 0; }
      const format = str(p, 'format');
      if (format === 'json') { for (const i of images) process.stdout.write(`${JSON.stringify(i)}\n`); return 0; }
      if (format !== undefined && format !== 'table' && !format.includes('{{')) throw usageError(`unsupported --format "${format}"`, 'use json, table or a template like {{.Repository}}:{{.Tag}}');
      const digests = bool(p, 'digests');
      const entries = images.flatMap((i) => (i.RepoTags?.length ? i.RepoTags : ['<none>:<none>']).map((rt) => {
        const { repo, tag } = splitRef(rt);
        // Like docker: the digest this repository knows the image by (repo@sha256:…), else <none>.
        const digest = (i.RepoDigests ?? []).find((d) => d.slice(0, d.indexOf('@')) === repo)?.split('@')[1] ?? '<none>';
        // The fields of Docker's `images --format` template.
        return {
          Repository: repo, Tag: tag ?? '<none>', Digest: digest, ID: bool(p, 'no-trunc') ? i.Id : i.Id.replace('sha256:', '').slice(0, 12),
          CreatedSince: `${formatAgo(Date.now() - i.Created * 1000)} ago`, CreatedAt: new Date(i.Created * 1000).toISOString(), Size: formatBytes(i.Size),
        };
      }));
      if (format !== undefined && format.includes('{{')) { for (const e of entries) process.stdout.write(`${formatPath(e, format)}\n`); return 0; }
      const rows = entries.map((e) => [e.Repository, e.Tag, ...(digests ? [e.Digest] : []), e.ID, e.CreatedSince, e.Size]);
      process.stdout.write(table(['REPOSITORY', 'TAG', ...(digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'], rows));
      return 0;
    }
    case 'import': {
      const p = parseArgs(args, [{ name: 'change', short: 'c', kind: 'list' }, { name: 'message', short: 'm', kind: 'string' }]);
      const [file, ref] = p.positionals;
      if (!file || p.positionals.length > 2) throw usageError('import needs a tarball (or - for standard input)', 'gantry import [-c INSTRUCTION]... [-m MESSAGE] ROOTFS.tar[.gz]|- [NAME[:TAG]]');
      // Checked here as the daemon checks them, so a mistake costs no upload.
      const [{ applyChanges }, { parseReference }] = await Promise.all([import('../../engine/images/instructions.js'), import('../../engine/images/reference.js')]);
      if (ref !== undefined) parseReference(ref);
      applyChanges({}, list(p, 'change'));
      if (file !== '-' && !existsSync(file)) throw usageError(`no such file: ${file}`, 'give the path of a root filesystem tarball, or - to read it from standard input');
      const client = await connectDaemon(g.host);
      const { repo, tag } = ref === undefined ? { repo: undefined, tag: undefined } : splitRef(ref);
      const out = await client.call<{ status: string }>('POST', '/images/create', {
        query: { fromSrc: '-', repo, tag, message: str(p, 'message'), changes: list(p, 'change') },
        bodyStream: file === '-' ? process.stdin : createReadStream(file), headers: { 'Content-Type': 'application/x-tar' },
      });
      process.stdout.write(`${out.status}\n`);
      return 0;
    }
    case 'tag': {
      const [src, dst] = args;
      if (!src || !dst || args.length !== 2) throw usageError('tag needs a source and a target', 'gantry tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]');
      const client = await connectDaemon(g.host);
      const { repo, tag } = splitRef(dst);
      await client.call('POST', `/images/${encodeURIComponent(src)}/tag`, { query: { repo, tag } });
      return 0;
    }
    case 'rmi': {
      const p = parseArgs(args, [{ name: 'force', short: 'f', kind: 'bool' }]);
      if (p.positionals.length === 0) throw usageError('rmi needs at least one image', 'gantry rmi [-f] IMAGE...');
      const client = await connectDaemon(g.host);
      let status = 0;
      for (const ref of p.positionals) {
        try {
          const res = await client.call<Array<{ Untagged?: string; Deleted?: string }>>('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: bool(p, 'force') } });
          for (const r of res) process.stdout.write(r.Untagged ? `Untagged: ${r.Untagged}\n` : `Deleted: ${r.Deleted}\n`);
        } catch (e) {
          process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
          status = 1;
        }
      }
      return status;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
