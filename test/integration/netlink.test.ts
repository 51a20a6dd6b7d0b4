// rtnetlink over koffi against the real kernel, inside a network namespace this test creates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { skipReason } from '../helpers/privileged.js';
import { Rtnl, withRtnl } from '../../src/sys/netlink.js';
import { withNetns } from '../../src/sys/netns.js';
import { SyscallError, ifNameToIndex, sysGettid } from '../../src/sys/ffi.js';

const skip = skipReason('root');
const prefix = `gn${randomBytes(2).toString('hex')}`;
const threadNetns = (): string => readlinkSync(`/proc/self/task/${sysGettid()}/ns/net`);

async function startNetns(): Promise<ChildProcess & { pid: number }> {
  const child = spawn('unshare', ['--net', 'sleep', '300'], { stdio: 'ignore' });
  const self = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 200; i++) {
    try {
      if (child.pid !== undefined && readlinkSync(`/proc/${child.pid}/ns/net`) !== self) return child as ChildProcess & { pid: number };
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  throw new Error('unshare --net did not start');
}

const inNs = (pid: number, ...cmd: string[]): string => execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...cmd], { encoding: 'utf8' });
const hostLinks = (): string => execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });

describe('netlink and netns (root)', { skip }, () => {
  let ns: ChildProcess & { pid: number };

  before(async () => {
    ns = await startNetns();
  });

  after(() => {
    try {
      withRtnl((nl) => {
        for (const l of nl.listLinks()) if (l.name.startsWith(prefix)) nl.deleteLinkByName(l.name);
      });
    } finally {
      ns.kill('SIGKILL');
    }
    assert.ok(!hostLinks().includes(prefix), 'no link with the test prefix is left');
  });

  test('withNetns moves the thread in and always back, even when fn throws', () => {
    const mine = threadNetns();
    const theirs = readlinkSync(`/proc/${ns.pid}/ns/net`);
    assert.equal(withNetns(ns.pid, threadNetns), theirs);
    assert.equal(threadNetns(), mine);
    assert.throws(() => withNetns(ns.pid, () => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(threadNetns(), mine);
    assert.throws(() => withNetns(ns.pid, () => Promise.resolve(1)), /synchronous/);
    assert.equal(threadNetns(), mine);
    assert.throws(() => withNetns('/nonexistent/netns', () => 1), (e: unknown) => e instanceof SyscallError && /open `\/nonexistent\/netns`: ENOENT/.test(e.message));
    assert.equal(threadNetns(), mine);
  });

  test('a socket opened in the netns keeps working there after the thread left', () => {
    const nl = Rtnl.open(ns.pid);
    try {
      assert.deepEqual(nl.listLinks().map((l) => l.name), ['lo']);
      assert.ok(withRtnl((host) => host.listLinks()).length > 1, 'the host has more than lo');
    } finally {
      nl.close();
    }
  });

  test('veth with the peer placed by pid, renamed, MTU, address, route', () => {
    const host = `${prefix}a`;
    withRtnl((nl) => {
      nl.createVeth(host, `${prefix}p`, { peerNetns: { pid: ns.pid } });
      const idx = nl.linkIndex(host);
      assert.equal(ifNameToIndex(host), idx);
      assert.equal(nl.getLink(`${prefix}p`), undefined, 'the peer is not on the host');
      nl.setMtu(idx, 1400);
      nl.setUp(idx, true);
      const l = nl.getLink(host);
      assert.equal(l?.kind, 'veth');
      assert.equal(l?.mtu, 1400);
      assert.equal(l?.up, true);
    });
    withRtnl((nl) => {
      const p = nl.linkIndex(`${prefix}p`);
      nl.rename(p, 'eth0');
      nl.addAddress4(p, '10.213.0.2', 24);
      nl.setUp(p, true);
      nl.setUp(nl.linkIndex('lo'), true);
      nl.addDefaultRoute4('10.213.0.1', p);
      const routes = nl.listRoutes4();
      assert.ok(routes.some((r) => r.dstLen === 0 && r.gateway === '10.213.0.1' && r.oif === p));
      assert.ok(routes.some((r) => r.dst === '10.213.0.0' && r.dstLen === 24));
      assert.ok(nl.listAddresses4().some((a) => a.local === '10.213.0.2' && a.prefixLen === 24 && a.index === p));
    }, ns.pid);
    const addr = inNs(ns.pid, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0');
    assert.match(addr, /inet 10\.213\.0\.2\/24/);
    assert.match(inNs(ns.pid, 'ip', 'route'), /default via 10\.213\.0\.1 dev eth0/);
    assert.equal(withRtnl((nl) => nl.deleteLinkByName(host)), true);
    assert.equal(withRtnl((nl) => nl.getLink('eth0'), ns.pid), undefined, 'deleting one end removes the pair');
  });

  test('indexOf answers in the namespace of its socket, as getLink does, and undefined for a name no link has', () => {
    const host = `${prefix}i`;
    withRtnl((nl) => nl.createVeth(host, `${prefix}j`, { peerNetns: { pid: ns.pid } }));
    try {
      withRtnl((nl) => {
        assert.equal(nl.indexOf(host), nl.getLink(host)?.index);
        assert.equal(nl.indexOf(`${prefix}j`), undefined, 'the peer is not on the host');
        assert.equal(nl.indexOf('x'.repeat(16)), undefined, 'longer than any device name');
      });
      const inner = Rtnl.open(ns.pid); // the thread is back on the host; the socket stays in the namespace
      try {
        assert.equal(inner.indexOf('lo'), 1);
        assert.equal(inner.indexOf(`${prefix}j`), inner.getLink(`${prefix}j`)?.index);
        assert.equal(inner.indexOf(host), undefined, 'the host end is not in the namespace');
      } finally {
        inner.close();
      }
    } finally {
      withRtnl((nl) => nl.deleteLinkByName(host));
    }
  });

  test('a veth with one queue at each end', () => {
    const host = `${prefix}q`;
    withRtnl((nl) => nl.createVeth(host, `${prefix}r`, { peerNetns: { pid: ns.pid }, queues: 1 }));
    assert.match(execFileSync('ip', ['-d', 'link', 'show', host], { encoding: 'utf8' }), /numtxqueues 1 numrxqueues 1/);
    assert.match(inNs(ns.pid, 'ip', '-d', 'link', 'show', `${prefix}r`), /numtxqueues 1 numrxqueues 1/);
    assert.equal(withRtnl((nl) => nl.deleteLinkByName(host)), true);
  });

  test('bridge with a master and kernel errors that name the call and errno', () => {
    const br = `${prefix}br`;
    const v = `${prefix}v`;
    withRtnl((nl) => {
      nl.createBridge(br);
      assert.throws(() => nl.createBridge(br), (e: unknown) => e instanceof SyscallError && e.errnoName === 'EEXIST' && e.message.includes(`RTM_NEWLINK \`bridge ${br}\``));
      nl.createVeth(v, `${prefix}w`);
      nl.setMaster(nl.linkIndex(v), nl.linkIndex(br));
      const links = nl.listLinks().filter((l) => l.name.startsWith(prefix));
      assert.equal(links.find((l) => l.name === br)?.kind, 'bridge');
      assert.equal(links.find((l) => l.name === v)?.master, nl.linkIndex(br));
      assert.match(execFileSync('ip', ['-o', 'link', 'show', v], { encoding: 'utf8' }), new RegExp(`master ${br}`));
      assert.throws(() => nl.rename(nl.linkIndex(v), 'x'.repeat(20)), (e: unknown) => e instanceof SyscallError && e.errnoName === 'ERANGE' && /rename to x+`: ERANGE/.test(e.message));
      assert.throws(() => nl.linkIndex(`${prefix}none`), (e: unknown) => e instanceof SyscallError && e.errnoName === 'ENODEV');
      assert.equal(nl.deleteLinkByName(v), true);
      assert.equal(nl.deleteLinkByName(`${prefix}w`), false, 'the peer went with it');
      assert.equal(nl.deleteLinkByName(br), true);
    });
  });

  test('listRoutes4 sees what `ip route` sees', () => {
    const ours = withRtnl((nl) => nl.listRoutes4()).filter((r) => r.dstLen > 0).map((r) => `${r.dst}/${r.dstLen}`).sort();
    const theirs = execFileSync('ip', ['-4', 'route', 'show', 'table', 'main'], { encoding: 'utf8' })
      .split('\n').map((l) => l.split(' ')[0] ?? '').filter((d) => d !== '' && d !== 'default')
      .map((d) => (d.includes('/') ? d : `${d}/32`)).sort();
    assert.deepEqual(ours, theirs);
  });
});
