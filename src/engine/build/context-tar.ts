// The build context as the client sends it (POST /build's body): a tar, plain or gzip. It is untrusted: it is
// extracted with the layer checks and caps (images/entry-policy.ts through the whiteout transform: no `..`,
// nothing written through a link, device nodes refused; images/limits.ts: bytes, entries, ratio) into a fresh
// temp dir of the daemon, by GNU tar, which never follows the archive's links. Files belong to root (as
// Docker's classic builder copies them unless --chown says otherwise).
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { GantryError } from '../../common/errors.js';
import { LayerBudget, type LayerLimits } from '../images/limits.js';
import { WhiteoutTransform } from '../images/whiteouts.js';

/** Gunzips when the body starts with gzip's magic, passes it through otherwise; counts the bytes read. */
class Sniff extends Transform {
  #inner: Transform | undefined;
  #compressed = 0;
  get compressedBytes(): number { return this.#compressed; }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#compressed += chunk.length;
    if (this.#inner === undefined) {
      const gzip = chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;
      this.#inner = gzip ? createGunzip({ chunkSize: 256 * 1024 }) : new PassThrough();
      this.#inner.on('data', (c: Buffer) => this.push(c));
      this.#inner.on('error', (e) => this.destroy(e));
    }
    if (this.#inner.write(chunk)) done(); else this.#inner.once('drain', () => done());
  }
  override _flush(done: TransformCallback): void {
    if (this.#inner === undefined) return done();
    this.#inner.once('end', () => done());
    this.#inner.end();
    this.#inner.resume();
  }
}

/** Extracts the context tar into a new dir under `tmpRoot`; the caller removes it (also on failure here: removed). */
export function extractContext(body: Readable, tmpRoot: string, limits: LayerLimits): Promise<string> {
  // The context's root is a 0755 dir unless the tar says otherwise (docker's tars have no `./`): `COPY . /dst`
  // gives /dst that mode, as Docker does. tmpRoot itself is 0700.
  return extractChecked(body, tmpRoot, limits, 'build-context-', 0o755);
}

/** Extracts an untrusted tar (plain or gzip) with the layer checks into a new dir `tmpRoot/PREFIX…`. */
export async function extractChecked(body: Readable, tmpRoot: string, limits: LayerLimits, prefix: string, rootMode?: number): Promise<string> {
  const dir = await mkdtemp(join(tmpRoot, prefix));
  try {
    if (rootMode !== undefined) await chmod(dir, rootMode);
    const tar = spawn('tar', ['--extract', '--file=-', '--directory', dir, '--numeric-owner', '--no-same-owner', '--same-permissions', '--warning=no-timestamp'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.setEncoding('utf8');
    tar.stderr.on('data', (s: string) => { if (stderr.length < 4096) stderr += s; });
    const exited = new Promise<number>((res) => { tar.on('error', () => res(127)); tar.on('close', (c) => res(c ?? 128)); });
    const sniff = new Sniff();
    let streamError: unknown;
    await pipeline(body, sniff, new LayerBudget(limits, () => sniff.compressedBytes), new WhiteoutTransform({ maxEntries: limits.maxEntries }), tar.stdin)
      .catch((e: unknown) => { streamError = e; });
    const code = await exited;
    // The layer checks name the archive a layer; here it is the build context.
    if (streamError instanceof GantryError && streamError.code === 'INVALID_IMAGE_ARCHIVE') {
      throw new GantryError('BUILD_CONTEXT_INVALID', streamError.message.replace(/^the layer/, 'the build context'), { hint: 'send the context as a tar archive (plain or gzip); gantry build and docker build do that for you' });
    }
    if (streamError instanceof GantryError) throw streamError;
    if (code !== 0 || streamError !== undefined) {
      throw new GantryError('BUILD_CONTEXT_INVALID', `the build context could not be extracted: ${stderr.trim().split('\n').slice(-2).join('; ') || String(streamError)}`, {
        hint: 'send the context as a tar archive (plain or gzip); gantry build and docker build do that for you',
      });
    }
    return dir;
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
