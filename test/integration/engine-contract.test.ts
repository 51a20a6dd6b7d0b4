// The engine contract against the Linux engine (shim, cgroups, overlay): root, real kernel, real time. The
// engine runs in this process on a private root, socket dir and prefix, and everything it made is removed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import { Daemon } from '../../src/daemon/engine.js';
import type { EngineCore } from '../../src/engine/core.js';
import { engineContract, type ContractHarness } from '../contract/engine-contract.js';
import { busyboxTarball } from '../helpers/daemon.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';
import { PortDnat } from '../../src/engine/network/port-dnat.js';
import { missingRequirement } from '../helpers/privileged.js';

async function linuxHarness(): Promise<ContractHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-contract-'));
  const paths = { root: join(dir, 'root'), runDir: join(dir, 'run'), socket: join(dir, 'run', 'gantry.sock'), prefix: `gantry-c${randomBytes(3).toString('hex')}` };
  let daemon = await Daemon.open(paths);
  await daemon.engine.images.importTarball(busyboxTarball(), 'busybox');
  const h: ContractHarness = {
    get engine(): EngineCore { return daemon.engine; },
    image: 'busybox',
    async eventually(cond, what, maxMs = 10_000) {
      const deadline = Date.now() + maxMs;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`not within ${maxMs} ms: ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    settle: (p) => p,
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    async restartDaemon() {
      await daemon.close();
      daemon = await Daemon.open(paths);
      return daemon.engine;
    },
    async killProcess(id) {
      const pid = daemon.engine.getContainer(id).state.pid;
      await daemon.close();
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await new Promise((r) => setTimeout(r, 10));
      }
      daemon = await Daemon.open(paths);
    },
    async dispose() {
      for (const c of daemon.engine.containers()) await daemon.engine.removeContainer(c.id, { force: true, volumes: true }).catch(() => undefined);
      await daemon.close();
      PortDnat.drop(linkPrefixFor(paths.prefix)); // the daemon's DNAT table outlives it
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

const missing = missingRequirement('root') ?? missingRequirement('busybox');
if (missing !== undefined && process.env['GANTRY_REQUIRE_PRIVILEGED'] === '1') throw new Error(`required by GANTRY_REQUIRE_PRIVILEGED=1: ${missing}`);
describe('engine contract on Linux', { skip: missing }, () => {
  engineContract('linux (root, real kernel)', linuxHarness);
});
