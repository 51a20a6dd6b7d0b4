// The pure and local pieces of the build executor: metadata steps on a config and their history lines, the
// cache's files, the CLI's context tar writer and the daemon's checked extraction of it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { GantryError } from '../../../src/common/errors.js';
import { parseDockerfile, walkContext, type Instruction } from '../../../src/engine/build/index.js';
import { applyMetadata, goDuration, goQuoteRune, metadataCreatedBy, runCreatedBy } from '../../../src/engine/build/config-step.js';
import { BuildCache } from '../../../src/engine/build/cache.js';
import { contextTar } from '../../../src/engine/build/tar-writer.js';
import { extractContext } from '../../../src/engine/build/context-tar.js';
import { OrderedOutput, type BuildMessage } from '../../../src/engine/build/executor.js';
import { DEFAULT_LAYER_LIMITS } from '../../../src/engine/images/limits.js';
import type { ImageConfigFields } from '../../../src/engine/images/oci.js';
import { craftTar, HOSTILE } from '../../helpers/craft-tar.js';

const scratch = mkdtempSync(join(tmpdir(), 'gantry-build-parts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function instructions(text: string): Instruction[] {
  return [...parseDockerfile(`FROM scratch\n${text}`, 'Dockerfile').instructions.slice(1)];
}

function applyAll(text: string, base: ImageConfigFields = {}): ImageConfigFields {
  let c = base;
  let cmdSet = false;
  for (const i of instructions(text)) {
    c = applyMetadata(i, c, cmdSet);
    if (i.kind === 'CMD') cmdSet = true;
  }
  return c;
}

describe('metadata steps', () => {
  test('ENV replaces in place, CMD shell form goes through SHELL, ENTRYPOINT resets an inherited CMD but not one set before it', () => {
    const c = applyAll('ENV A=1 B=2\nENV A=3\nSHELL ["/bin/bash", "-c"]\nCMD echo hi', { Env: ['PATH=/bin'], Cmd: ['old'] });
    assert.deepEqual(c.Env, ['PATH=/bin', 'A=3', 'B=2']);
    assert.deepEqual(c.Cmd, ['/bin/bash', '-c', 'echo hi']);
    assert.deepEqual(applyAll('ENTRYPOINT ["run"]', { Cmd: ['inherited'] }).Cmd, undefined);
    assert.deepEqual(applyAll('CMD ["x"]\nENTRYPOINT ["run"]').Cmd, ['x']);
  });

  test('EXPOSE ranges and protocols, VOLUME, relative WORKDIR, USER, STOPSIGNAL, LABEL, ONBUILD, HEALTHCHECK', () => {
    const c = applyAll('EXPOSE 80 53/udp 8000-8001\nVOLUME ["/data"]\nWORKDIR /srv\nWORKDIR app\nUSER nobody\nSTOPSIGNAL SIGQUIT\nLABEL a=b\nONBUILD RUN true\nHEALTHCHECK --interval=5s CMD true');
    assert.deepEqual(Object.keys(c.ExposedPorts ?? {}), ['53/udp', '80/tcp', '8000/tcp', '8001/tcp'], 'sorted, as Go writes a map');
    assert.deepEqual(Object.keys(c.Volumes ?? {}), ['/data']);
    assert.equal(c.WorkingDir, '/srv/app');
    assert.deepEqual([c.User, c.StopSignal, c.Labels?.['a'], c.OnBuild], ['nobody', 'SIGQUIT', 'b', ['RUN true']]);
    assert.deepEqual(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
    assert.throws(() => applyAll('EXPOSE 70000'), (e: unknown) => e instanceof GantryError && /invalid port "70000"/.test(e.message));
  });

  test('history lines in the classic builder\'s forms', () => {
    const [cmd, env, workdir] = instructions('CMD ["sh", "app.sh"]\nENV GREETING=hello\nWORKDIR /app');
    const c = applyAll('CMD ["sh", "app.sh"]\nWORKDIR /app');
    assert.equal(metadataCreatedBy(cmd!, c), '/bin/sh -c #(nop)  CMD ["sh" "app.sh"]');
    assert.equal(metadataCreatedBy(env!, c), '/bin/sh -c #(nop)  ENV GREETING=hello');
    assert.equal(metadataCreatedBy(workdir!, c), '/bin/sh -c #(nop) WORKDIR /app');
    assert.equal(runCreatedBy(['/bin/sh', '-c', 'apk add x'], new Map()), '/bin/sh -c apk add x');
    assert.equal(runCreatedBy(['/bin/sh', '-c', 'make'], new Map([['A', '1'], ['B', '2']])), '|2 A=1 B=2 /bin/sh -c make');
  });

  test('history lines as Docker 20.10\'s classic builder writes them (bench/build-compare.mjs found each)', () => {
    const [expose, volume, shell, health, none] = instructions('EXPOSE 80 53/udp 8080/tcp\nVOLUME /data /logs\nSHELL ["/bin/sh", "-ec"]\nHEALTHCHECK --interval=5s --timeout=1m30s --retries=4 CMD true\nHEALTHCHECK NONE');
    const c = applyAll('SHELL ["/bin/sh", "-ec"]');
    assert.equal(metadataCreatedBy(expose!, {}), '/bin/sh -c #(nop)  EXPOSE 53/udp 80 8080/tcp');
    assert.equal(metadataCreatedBy(volume!, {}), '/bin/sh -c #(nop)  VOLUME [/data /logs]');
    assert.equal(metadataCreatedBy(shell!, c), '/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]', 'the #(nop) prefix is the SHELL in effect');
    assert.equal(metadataCreatedBy(health!, applyAll('HEALTHCHECK --interval=5s --timeout=1m30s --retries=4 CMD true')),
      '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "1m30s" "0s" \'\\x04\'}');
    assert.equal(metadataCreatedBy(none!, applyAll('HEALTHCHECK NONE')), '/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" \'\\x00\'}');
    assert.deepEqual([0, 5e8, 1.5e9, 9e10, 3.6e12, 1500].map(goDuration), ['0s', '500ms', '1.5s', '1m30s', '1h0m0s', '1.5µs']);
    assert.deepEqual([0, 3, 10, 48, 65, 39].map(goQuoteRune), ["'\\x00'", "'\\x03'", "'\\n'", "'0'", "'A'", "'\\''"]);
  });
});

describe('the build cache', () => {
  const key = `sha256:${'a'.repeat(64)}`;
  test('put then get, another instance (a restarted daemon) sees it, prune empties it; no temp file stays', () => {
    const root = mkdtempSync(join(scratch, 'cache-'));
    const cache = new BuildCache(root);
    assert.equal(cache.get(key), undefined);
    cache.put(key, 'sha256:img');
    assert.equal(new BuildCache(root).get(key)?.image, 'sha256:img');
    assert.deepEqual(readdirSync(join(root, 'build-cache')), [`${'a'.repeat(64)}.json`]);
    assert.deepEqual(cache.prune(), [key]);
    assert.equal(cache.get(key), undefined);
  });
  test('a damaged entry is a miss; a key that is not a digest is refused', () => {
    const root = mkdtempSync(join(scratch, 'cache-'));
    const cache = new BuildCache(root);
    writeFileSync(join(root, 'build-cache', `${'a'.repeat(64)}.json`), '{"image": 3');
    assert.equal(cache.get(key), undefined);
    assert.throws(() => cache.put('../../etc/passwd', 'x'));
  });
});

describe('the context tar', () => {
  const collect = async (r: Readable): Promise<Buffer> => { const parts: Buffer[] = []; for await (const c of r) parts.push(c as Buffer); return Buffer.concat(parts); };

  test('the CLI\'s writer and the daemon\'s extraction round-trip files, dirs, long names and links (sent as links), plain and gzip', async () => {
    const ctx = mkdtempSync(join(scratch, 'ctx-'));
    mkdirSync(join(ctx, 'src'));
    writeFileSync(join(ctx, 'src', 'main.c'), 'int main(){}\n');
    const long = `${'d'.repeat(80)}/${'f'.repeat(90)}.txt`;
    mkdirSync(join(ctx, 'd'.repeat(80)));
    writeFileSync(join(ctx, long), 'long\n');
    symlinkSync('/etc/passwd', join(ctx, 'out'));
    const listing = await walkContext(ctx);
    const tar = await collect(contextTar(ctx, listing.entries, [{ name: '.dockerfile.x', content: Buffer.from('FROM scratch\n') }]));
    for (const gzip of [false, true]) {
      const body = gzip ? await collect(Readable.from([tar]).pipe(createGzip())) : tar;
      const dir = await extractContext(Readable.from([body]), scratch, DEFAULT_LAYER_LIMITS);
      try {
        assert.equal(readFileSync(join(dir, 'src', 'main.c'), 'utf8'), 'int main(){}\n');
        assert.equal(readFileSync(join(dir, long), 'utf8'), 'long\n');
        assert.equal(readFileSync(join(dir, '.dockerfile.x'), 'utf8'), 'FROM scratch\n');
        assert.ok(lstatSync(join(dir, 'out')).isSymbolicLink());
        assert.equal(readlinkSync(join(dir, 'out')), '/etc/passwd');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  for (const c of HOSTILE.slice(0, 6)) {
    test(`a hostile context is refused and leaves no dir: ${c.what}`, async () => {
      const root = mkdtempSync(join(scratch, 'hostile-'));
      await assert.rejects(extractContext(Readable.from([craftTar(c.entries)]), root, DEFAULT_LAYER_LIMITS), (e: unknown) => e instanceof GantryError && e.message.includes(JSON.stringify(c.entry)));
      assert.deepEqual(readdirSync(root), []);
      assert.equal(existsSync(join(root, '..', 'escape')), false);
    });
  }
});

describe('stages built at once', () => {
  test('their messages are shown in plan order: the first live, the others once those before them are done', () => {
    const seen: string[] = [];
    const out = new OrderedOutput((m: BuildMessage) => { if ('stream' in m) seen.push(m.stream); }, 3);
    const [a, b, c] = [out.sink(0), out.sink(1), out.sink(2)];
    b({ stream: 'b1' });
    a({ stream: 'a1' });
    c({ stream: 'c1' });
    out.finished(2);
    assert.deepEqual(seen, ['a1']);
    b({ stream: 'b2' });
    out.finished(0);
    assert.deepEqual(seen, ['a1', 'b1', 'b2']);
    b({ stream: 'b3' });
    out.finished(1);
    assert.deepEqual(seen, ['a1', 'b1', 'b2', 'b3', 'c1']);
  });
});
