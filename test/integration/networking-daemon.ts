// A private daemon per networking test (TestDaemon) that, failure or not, removes its containers, its user
// networks, itself, and then asserts that no link of its prefix is left behind.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../helpers/privileged.js';
import { TestDaemon } from '../helpers/daemon.js';
import { listLinks, removeStaleLinks } from '../../src/engine/network/bridge.js';
import { linkPrefixFor } from '../../src/engine/network/manager.js';

const PREDEFINED = new Set(['bridge', 'host', 'none']);

export interface Ctx {
  d: TestDaemon;
  /** Every network the test created is removed at the end (after the containers). */
  network(name: string, ...flags: string[]): string;
  inspect(ref: string): InspectInfo;
}

export interface InspectInfo {
  State: { Pid: number; Status: string };
  NetworkSettings: {
    IPAddress: string;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks: Record<string, { IPAddress: string; Gateway: string; MacAddress: string; Aliases: string[] | null }>;
  };
}

/** A daemon for one test; afterwards containers, networks, the daemon and every link of its prefix are gone. */
export async function withDaemon(t: TestContext, body: (c: Ctx) => Promise<void>, o: { daemonEnv?: Record<string, string> } = {}): Promise<void> {
  if (!requires(t, 'root', 'busybox')) return;
  const d = new TestDaemon('net', [], o.daemonEnv ?? {});
  const linkPrefix = linkPrefixFor(d.prefix);
  let leftovers: string[] = [];
  try {
    await d.start();
    d.importBusybox();
    await body({
      d,
      network: (name, ...flags) => d.ok(['network', 'create', ...flags, name]).trim(),
      inspect: (ref) => (JSON.parse(d.ok(['inspect', '--type', 'container', ref])) as InspectInfo[])[0]!,
    });
  } finally {
    try {
      const ids = d.gantry(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) d.gantry(['rm', '-f', ...ids]);
      const nets = d.gantry(['network', 'ls', '--format', 'json']).stdout.split('\n').filter(Boolean)
        .map((l) => (JSON.parse(l) as { Name: string }).Name).filter((n) => !PREDEFINED.has(n));
      if (nets.length > 0) d.gantry(['network', 'rm', ...nets]);
    } finally {
      await d.dispose();
      leftovers = listLinks(linkPrefix).map((l) => l.name);
      removeStaleLinks(linkPrefix, new Set());
    }
  }
  assert.deepEqual(leftovers, [], 'links of the daemon left behind after the test');
}

