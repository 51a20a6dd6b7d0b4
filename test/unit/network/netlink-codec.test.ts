import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  IFLA_IFNAME, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED,
  RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_NEWLINK, attrIPv4, attrNest, attrStr, attrU32, ifinfomsg, nlmsg,
  parseAttrs, parseError, parseLink, parseMessages, parseRoute, rtattr, rtmsg,
} from '../../../src/sys/netlink-codec.js';

describe('rtnetlink codec', () => {
  test('a message: header length, type, flags, seq, 4-byte padding', () => {
    const m = nlmsg(RTM_NEWLINK, 0x605, 7, Buffer.concat([ifinfomsg({ index: 3 }), attrStr(IFLA_IFNAME, 'gtbr-abc')]));
    assert.equal(m.readUInt32LE(0), 16 + 16 + 16); // the name attribute is 13 bytes, padded to 16
    assert.equal(m.readUInt16LE(32), 13);
    assert.equal(m.length % 4, 0);
    const [back] = parseMessages(m);
    assert.equal(back?.type, RTM_NEWLINK);
    assert.equal(back?.flags, 0x605);
    assert.equal(back?.seq, 7);
    assert.equal(back?.payload.readInt32LE(4), 3);
  });

  test('attributes are padded and nest', () => {
    const a = attrStr(IFLA_IFNAME, 'eth0');
    assert.equal(a.readUInt16LE(0), 9);
    assert.equal(a.length, 12);
    const nest = attrNest(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, 'veth'));
    const [outer] = parseAttrs(nest);
    assert.equal(outer?.type, IFLA_LINKINFO);
    const [inner] = parseAttrs(outer?.data ?? Buffer.alloc(0));
    assert.equal(inner?.data.toString('utf8'), 'veth\0');
  });

  test('a link as the kernel sends it', () => {
    const payload = Buffer.concat([
      ifinfomsg({ index: 12, flags: 0x1043 }),
      attrStr(IFLA_IFNAME, 'gtv0123abcd'),
      attrU32(IFLA_MTU, 1500),
      attrU32(IFLA_MASTER, 9),
      attrNest(IFLA_LINKINFO, attrStr(IFLA_INFO_KIND, 'veth')),
    ]);
    assert.deepEqual(parseLink(payload), {
      index: 12, name: 'gtv0123abcd', kind: 'veth', master: 9, flags: 0x1043, up: true, mtu: 1500, mac: undefined,
    });
  });

  test('a route', () => {
    const payload = Buffer.concat([
      rtmsg({ family: 2, dstLen: 16, table: 254, protocol: 2, scope: 253, type: 1 }),
      attrIPv4(RTA_DST, '172.18.0.0'), attrU32(RTA_TABLE, 254), attrU32(RTA_OIF, 5), attrIPv4(RTA_GATEWAY, '10.0.0.1'),
    ]);
    assert.deepEqual(parseRoute(payload), {
      family: 2, dstLen: 16, table: 254, protocol: 2, scope: 253, type: 1, dst: '172.18.0.0', gateway: '10.0.0.1', oif: 5,
    });
  });

  test('an error ACK with the kernel\'s extended message', () => {
    const payload = Buffer.alloc(4 + 16);
    payload.writeInt32LE(-17, 0);
    payload.writeUInt32LE(40, 4); // original header (capped)
    const withTlv = Buffer.concat([payload, rtattr(1, Buffer.from('File exists here\0'))]);
    const e = parseError({ type: NLMSG_ERROR, flags: NLM_F_CAPPED | NLM_F_ACK_TLVS, seq: 1, pid: 0, payload: withTlv });
    assert.deepEqual(e, { errno: 17, message: 'File exists here' });
    const ack = Buffer.alloc(20);
    assert.deepEqual(parseError({ type: NLMSG_ERROR, flags: 0, seq: 1, pid: 0, payload: ack }), { errno: 0, message: undefined });
  });

  test('a truncated message is rejected', () => {
    const m = nlmsg(RTM_NEWLINK, 0, 1, ifinfomsg());
    assert.throws(() => parseMessages(m, m.length - 4));
  });
});
