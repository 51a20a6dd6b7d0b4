// The bridge bypass as bytes: the tc messages (src/sys/tc.ts) and the program (bypass-program.ts), no kernel.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attrStr, attrU32, nlmsg, parseAttrs, parseMessages, rtattr } from '../../../src/sys/netlink-codec.js';
import {
  ETH_P_ALL_BE, RTM_NEWTFILTER, TCA_BPF_FD, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT, TCA_BPF_ID, TCA_BPF_NAME, TCA_INGRESS_BLOCK,
  TCA_KIND, TCA_OPTIONS, TCM_IFINDEX_MAGIC_BLOCK, TC_H_INGRESS, TC_H_INGRESS_HANDLE, bpfFilterInBlock, ingressWithBlock, parseFilter, tcmsg,
} from '../../../src/sys/tc.js';
import { bypassProgram } from '../../../src/engine/network/bypass-program.js';
import { bypassBlockIndex, bypassCapacity, MAX_BYPASS_ENTRIES } from '../../../src/engine/network/bridge-bypass.js';

const text = (b: Buffer | undefined): string => (b ?? Buffer.alloc(0)).toString('utf8').replace(/\0+$/, '');

describe('tc messages of the bridge bypass', () => {
  test('an ingress qdisc on a link (not clsact: no egress block per link), its filters a shared block', () => {
    const body = ingressWithBlock(7, 0xabcdef01);
    assert.equal(body.readUInt8(0), 0, 'AF_UNSPEC');
    assert.equal(body.readInt32LE(4), 7, 'tcm_ifindex');
    assert.equal(body.readUInt32LE(8), TC_H_INGRESS_HANDLE);
    assert.equal(body.readUInt32LE(12), TC_H_INGRESS);
    const attrs = parseAttrs(body, 20);
    assert.equal(text(attrs.find((a) => a.type === TCA_KIND)?.data), 'ingress');
    assert.equal(attrs.find((a) => a.type === TCA_INGRESS_BLOCK)?.data.readUInt32LE(0), 0xabcdef01);
  });

  test('a cls_bpf filter addressed to a block: magic ifindex, block in tcm_parent, prio and ETH_P_ALL in tcm_info, direct action', () => {
    const body = bpfFilterInBlock({ block: 99, prio: 1, handle: 1, progFd: 12, name: 'gantry_bypass_x' });
    assert.equal(body.readUInt32LE(4), TCM_IFINDEX_MAGIC_BLOCK);
    assert.equal(body.readUInt32LE(8), 1);
    assert.equal(body.readUInt32LE(12), 99);
    assert.equal(body.readUInt32LE(16), (1 << 16) | ETH_P_ALL_BE);
    const attrs = parseAttrs(body, 20);
    assert.equal(text(attrs.find((a) => a.type === TCA_KIND)?.data), 'bpf');
    const opts = parseAttrs(attrs.find((a) => a.type === TCA_OPTIONS)!.data);
    assert.equal(opts.find((a) => a.type === TCA_BPF_FD)?.data.readUInt32LE(0), 12);
    assert.equal(text(opts.find((a) => a.type === TCA_BPF_NAME)?.data), 'gantry_bypass_x');
    assert.equal(opts.find((a) => a.type === TCA_BPF_FLAGS)?.data.readUInt32LE(0), TCA_BPF_FLAG_ACT_DIRECT);
  });

  test('a filter as the kernel dumps it parses back (block, prio, handle, program id and name)', () => {
    const payload = Buffer.concat([
      tcmsg({ ifindex: TCM_IFINDEX_MAGIC_BLOCK, handle: 1, parent: 99, info: (1 << 16) | ETH_P_ALL_BE }),
      attrStr(TCA_KIND, 'bpf'),
      rtattr(TCA_OPTIONS, Buffer.concat([attrStr(TCA_BPF_NAME, 'gantry_bypass_x'), attrU32(TCA_BPF_ID, 162)])),
    ]);
    const [m] = parseMessages(nlmsg(RTM_NEWTFILTER, 2, 1, payload));
    assert.deepEqual(parseFilter(m!.payload), { block: 99, prio: 1, handle: 1, kind: 'bpf', bpfId: 162, bpfName: 'gantry_bypass_x' });
  });
});

describe('the bypass program and its sizes', () => {
  test('the map fd is in the 64-bit load; both "pass" branches land on the pass block; the end returns', () => {
    const prog = bypassProgram(33);
    const ld = prog.findIndex((x) => x.code === 0x18);
    assert.deepEqual([prog[ld]!.src, prog[ld]!.imm, prog[ld + 1]!.code], [1, 33, 0]);
    const pass = prog.length - 2;
    assert.deepEqual([prog[pass]!.code, prog[pass]!.imm, prog[pass + 1]!.code], [0xb7, -1, 0x95], 'pass: TC_ACT_UNSPEC');
    const jumps = prog.map((x, n) => ({ x, n })).filter(({ x }) => x.code === 0x2d || x.code === 0x15);
    assert.equal(jumps.length, 2);
    for (const { x, n } of jumps) assert.equal(n + 1 + x.off, pass);
    assert.ok(prog.some((x) => x.code === 0x85 && x.imm === 23), 'bpf_redirect is called');
  });

  test('block index: stable per bridge, never 0, different for two bridges; capacity follows the subnet up to the cap', () => {
    assert.equal(bypassBlockIndex('gt1234br-abcdef'), bypassBlockIndex('gt1234br-abcdef'));
    assert.notEqual(bypassBlockIndex('gt1234br-abcdef'), bypassBlockIndex('gt5678br-abcdef'));
    assert.ok(bypassBlockIndex('x') > 0);
    assert.equal(bypassCapacity(24), 256);
    assert.equal(bypassCapacity(30), 4);
    assert.equal(bypassCapacity(16), MAX_BYPASS_ENTRIES);
  });
});
