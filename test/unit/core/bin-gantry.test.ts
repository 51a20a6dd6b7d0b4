// bin/gantry, the shell script users run: which node it starts and with what.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_NODE_FLAGS } from '../../../src/common/daemon-node-flags.js';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const binGantry = join(projectRoot, 'bin', 'gantry');

test('`gantry daemon` runs node with the flags every other start of the daemon uses', () => {
  const script = readFileSync(binGantry, 'utf8');
  const flags = /^\s*daemon\) blob=; daemon_flags=(\S*); break ;;$/m.exec(script);
  assert.ok(flags, 'bin/gantry sets daemon_flags for `daemon`');
  assert.equal(flags[1], DAEMON_NODE_FLAGS.join(' '), 'bin/gantry and src/common/daemon-node-flags.ts name the same flags');
});

test('a user\'s NODE_OPTIONS with V8 flags does not stop the CLI (the start-up snapshot is skipped)', () => {
  const env = { ...process.env, GANTRY_AUTOSTART: '0', GANTRY_HOST: 'unix:///nonexistent/gantry.sock' };
  for (const words of [['ps', '--help'], ['stack', '--help'], ['--help']]) {
    const r = spawnSync(binGantry, words, { env: { ...env, NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=512' }, encoding: 'utf8' });
    assert.equal(r.status, 0, `gantry ${words.join(' ')} with NODE_OPTIONS exited ${r.status}: ${r.stderr}`);
    assert.match(r.stdout, /gantry/i);
  }
});
