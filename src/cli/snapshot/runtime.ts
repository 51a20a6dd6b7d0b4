// What both start-up snapshots of the CLI share (core-entry.ts, stack-entry.ts; built by
// scripts/build-cli-snapshot.mjs, started by bin/gantry): warming the paths every command walks at build time, and
// the main function that runs when node starts from a blob. Modules evaluated at build time must not read the
// environment, the clock or the working directory at their top level (the values would be the build machine's).
//
// Inside a snapshot there is no ES module loader. A command this snapshot does not hold (the other snapshot's, the
// foreground daemon, the Kubernetes commands whose client is ES modules only) runs from the module build instead,
// with the same arguments, streams, exit status and signals. bin/gantry picks the snapshot by the same rule
// (`snapshotFor` in main.ts), so that happens only when the two disagree.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { startupSnapshot } from 'node:v8';
import 'node:fs/promises';
import { DaemonClient } from '../client.js';
import { jsonLines, readAll } from '../http.js';
import { main, snapshotFor, snapshotHolds, type SnapshotKind } from '../main.js';

/** The project's root (dist/src/cli/snapshot → root; in a bundle, this module's URL is found from the blob's path). */
function projectRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

/** Runs the module build of the CLI with the same arguments and streams, and leaves with its status. */
function runFromModules(args: string[]): void {
  const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'gantry.js'), ...args], { stdio: 'inherit' });
  // The terminal's signals reach both processes; one sent to this process alone is passed on.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(sig, () => { child.kill(sig); });
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

/**
 * Warms, at build time, what every command runs: a query string, a JSON answer and a JSON stream from a daemon
 * stand-in on a socket of its own. `more` runs in the same temp dir (a command's own paths), with the stand-in's socket.
 */
export function warm(more: (dir: string, socket: string) => Promise<void> = async () => undefined): void {
  void new URLSearchParams({ all: '1', filters: '{}' }).toString();
  void (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-snapshot-warm-'));
    try {
      const socket = join(dir, 'warm.sock');
      const server = createServer((c) => {
        c.once('data', (req: Buffer) => {
          const json = '[{"Id":"0","Names":["/warm"],"Image":"busybox","Command":"true","State":"running","Status":"Up 1 second","Ports":[],"Labels":{"gantry.service":"web"}}]';
          const head = req.toString('latin1');
          // a stack's up: what a no-op one streams (its plan, then its result)
          const stackEvents = '{"kind":"plan","text":"","operations":[],"warnings":[]}\n{"kind":"result","ok":true,"failures":[]}\n';
          if (head.startsWith('POST /stacks/')) c.end(`HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n${stackEvents.length.toString(16)}\r\n${stackEvents}\r\n0\r\n\r\n`);
          else if (head.includes('Upgrade: tcp')) c.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\u0001\0\0\0\0\0\0\u0003hi\n');
          else if (head.startsWith('GET')) c.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`);
          else c.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n{"stream":"hi\\n"}\r\n0\r\n\r\n');
        });
      });
      await new Promise<void>((r) => server.listen(socket, r));
      const client = new DaemonClient(`unix://${socket}`);
      await client.call('GET', '/containers/json', { query: { all: true } });
      const attached = await client.hijack('/containers/warm/attach', { query: { stream: true, stdout: true } });
      await readAll(attached);
      for await (const m of jsonLines<{ stream?: string }>(await client.stream('POST', '/build', { rawBody: Buffer.from('x'), query: { t: ['a'] } }))) void m;
      client.close();
      await more(dir, socket);
      await new Promise<void>((r) => server.close(() => r()));
      for await (const m of jsonLines<{ stream?: string }>(Readable.from([Buffer.from('{"stream":"Step 1/1\\n"}\n{"aux":{"ID":"sha256:0"}}\n')]))) void m;
      await readAll(Readable.from([Buffer.from('x')]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
}

/** The function node runs when it starts from this snapshot. */
export function setMain(kind: SnapshotKind): void {
  startupSnapshot.setDeserializeMainFunction(() => {
    // bin/gantry keeps NODE_EXTRA_CA_CERTS from this process's start-up (no TLS here); what it starts gets it back
    const extraCerts = process.env['GANTRY_NODE_EXTRA_CA_CERTS'];
    if (extraCerts !== undefined) {
      process.env['NODE_EXTRA_CA_CERTS'] = extraCerts;
      delete process.env['GANTRY_NODE_EXTRA_CA_CERTS'];
    }
    const args = process.argv.slice(1);
    if (!snapshotHolds(kind, snapshotFor(args))) runFromModules(args);
    else void main(args);
  });
}
