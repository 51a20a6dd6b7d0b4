// The engine contract against the in-memory fake engine: no root, a fake clock, milliseconds per case.
import { engineContract, type ContractHarness } from '../../contract/engine-contract.js';
import { addFakeImage, disposeWorld, fakeWorld, openFakeEngine } from '../../fakes/fake-engine.js';
import { flush } from '../../fakes/fake-clock.js';
import type { EngineCore } from '../../../src/engine/core.js';

async function fakeHarness(): Promise<ContractHarness> {
  const w = fakeWorld();
  let engine: EngineCore = await openFakeEngine(w);
  await addFakeImage(engine);
  const h: ContractHarness = {
    get engine() { return engine; },
    image: 'busybox',
    async eventually(cond, what, maxMs = 5000) {
      for (let t = 0; t <= maxMs; t += 50) {
        if (cond()) return;
        await w.clock.advance(50);
      }
      throw new Error(`not within ${maxMs} ms of fake time: ${what}`);
    },
    async settle<T>(p: Promise<T>): Promise<T> {
      let done = false;
      const out = p.finally(() => { done = true; });
      for (let i = 0; i < 2400 && !done; i++) await w.clock.advance(50);
      return out;
    },
    pass: (ms) => w.clock.advance(ms),
    async restartDaemon() {
      engine.close();
      await flush();
      engine = await openFakeEngine(w);
      return engine;
    },
    async killProcess(id) { w.runtime.exit(id, 137, 9); },
    async dispose() { engine.close(); disposeWorld(w); },
  };
  return h;
}

engineContract('fake (no root, fake clock)', fakeHarness);
