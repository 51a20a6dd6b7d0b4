// gantry up --watch on the real python image (Debian's python3, non-root USER): editing app.py makes the app serve
// the new text (sync+restart); added and deleted files appear and vanish in the container.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, serverImage, TestDaemon, type RunResult } from '../helpers/daemon.js';
import { skipReason } from '../helpers/privileged.js';

const STACK = `name: watchpy
services:
  web:
    image: python
    command: ["python3", "/app/app.py"]
    user: "1000:1000"
    stop_signal: SIGKILL
    restart: always
    develop:
      watch:
        - path: ./app
          action: sync+restart
          target: /app
          initial_sync: true
`;
const app = (text: string): string => `import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ${JSON.stringify(text)}.encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer(('127.0.0.1', 8000), H).serve_forever()
`;

describe('gantry up --watch with the python image', { skip: skipReason('root', 'overlayfs', 'mmdebstrap') }, () => {
  const d = new TestDaemon('watch-py');
  let proj = '';
  let watcher: { proc: import('node:child_process').ChildProcess; done: Promise<RunResult> } | undefined;
  const file = (): string => join(proj, 'compose.yaml');
  const py = (code: string): RunResult => d.gantry(['stack', '-f', file(), 'exec', '-T', 'web', 'python3', '-c', code]);
  const served = (): string => {
    const r = py("import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8000').read().decode(), end='')");
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  };
  const exists = (p: string): boolean => py(`import os,sys;sys.exit(0 if os.path.exists(${JSON.stringify(p)}) else 1)`).status === 0;

  before(async () => {
    await d.start();
    d.ok(['import', serverImage('python').rootfs, 'python']);
    proj = join(d.dir, 'proj');
    mkdirSync(join(proj, 'app'), { recursive: true });
    writeFileSync(file(), STACK);
    writeFileSync(join(proj, 'app', 'app.py'), app('hello v1'));
  });
  after(async () => {
    watcher?.proc.kill('SIGKILL');
    await d.dispose();
  });

  test('edit app.py → the app serves the new text; add and delete files → they appear and vanish', async () => {
    // the image has no /app: initial_sync makes it (owned by the container user) before the app can start for good
    watcher = d.gantryAsync(['up', '-f', file(), '--watch']);
    let out = '';
    watcher.proc.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    watcher.proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    await eventually(() => assert.match(out, /watching 1 rule/), 60_000, `watch to start: ${out}`);
    await eventually(() => assert.equal(served(), 'hello v1'), 30_000, 'the first text');
    writeFileSync(join(proj, 'app', 'app.py'), app('hello v2'));
    await eventually(() => assert.equal(served(), 'hello v2'), 30_000, `the new text: ${out}`);
    writeFileSync(join(proj, 'app', 'extra.txt'), 'x');
    await eventually(() => assert.ok(exists('/app/extra.txt')), 30_000, 'extra.txt to appear');
    rmSync(join(proj, 'app', 'extra.txt'));
    await eventually(() => assert.ok(!exists('/app/extra.txt')), 30_000, 'extra.txt to vanish');
    const w = watcher;
    watcher = undefined;
    w.proc.kill('SIGINT');
    const r = await w.done;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(served(), 'hello v2', 'the stack stays up after Ctrl-C');
  });
});
