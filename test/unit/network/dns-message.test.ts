import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLASS_IN, DnsFormatError, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, aRecord, decodeDnsMessage, emptyMessage, encodeDnsMessage,
  recordAddress, responseTo,
} from '../../../src/engine/network/dns-message.js';

describe('DNS message codec', () => {
  test('a query round-trips', () => {
    const q = emptyMessage({ id: 0xbeef, rd: true, questions: [{ name: 'web.example', type: TYPE_A, class: CLASS_IN }] });
    const wire = encodeDnsMessage(q);
    // header 12 + name (1+3+1+7+1) + type/class 4
    assert.equal(wire.length, 12 + 13 + 4);
    assert.deepEqual(decodeDnsMessage(wire), q);
  });

  test('decodes a query as dig sends it (bytes written by hand)', () => {
    const wire = Buffer.from([
      0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 0,
      3, 0x64, 0x62, 0x31, 0, // "db1"
      0, 28, 0, 1,
    ]);
    const m = decodeDnsMessage(wire);
    assert.equal(m.id, 0x1234);
    assert.equal(m.rd, true);
    assert.equal(m.qr, false);
    assert.deepEqual(m.questions, [{ name: 'db1', type: TYPE_AAAA, class: CLASS_IN }]);
  });

  test('answers use compression pointers to the question name', () => {
    const q = emptyMessage({ id: 1, questions: [{ name: 'api', type: TYPE_A, class: CLASS_IN }] });
    const r = responseTo(q, 0, [aRecord('api', '10.0.0.2', 600), aRecord('api', '10.0.0.3', 600)]);
    const wire = encodeDnsMessage(r);
    assert.equal(wire.length, 12 + 9 + 2 * 16); // each answer: pointer 2 + 10 fixed + 4 data
    const back = decodeDnsMessage(wire);
    assert.equal(back.qr, true);
    assert.equal(back.ra, true);
    assert.deepEqual(back.answers.map(recordAddress), ['10.0.0.2', '10.0.0.3']);
    assert.deepEqual(back.answers.map((a) => [a.name, a.ttl]), [['api', 600], ['api', 600]]);
  });

  test('too large for 512 bytes: answers dropped and TC set', () => {
    const q = emptyMessage({ id: 2, questions: [{ name: 'many', type: TYPE_A, class: CLASS_IN }] });
    const answers = Array.from({ length: 100 }, (_, i) => aRecord('many', `10.0.${i >> 8}.${i & 255}`));
    const wire = encodeDnsMessage(responseTo(q, 0, answers), 512);
    assert.ok(wire.length <= 512);
    const back = decodeDnsMessage(wire);
    assert.equal(back.tc, true);
    assert.ok(back.answers.length > 20 && back.answers.length < 100);
  });

  test('rcode and flags survive', () => {
    const q = emptyMessage({ id: 3, rd: true, questions: [{ name: 'nope', type: TYPE_A, class: CLASS_IN }] });
    const back = decodeDnsMessage(encodeDnsMessage(responseTo(q, RCODE_NXDOMAIN)));
    assert.equal(back.rcode, RCODE_NXDOMAIN);
    assert.equal(back.rd, true);
    assert.equal(back.aa, true);
  });

  test('malformed input is a DnsFormatError, never a crash', () => {
    assert.throws(() => decodeDnsMessage(Buffer.alloc(5)), DnsFormatError);
    const loop = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    assert.throws(() => decodeDnsMessage(loop), DnsFormatError);
    const past = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 0x61]);
    assert.throws(() => decodeDnsMessage(past), DnsFormatError);
  });
});
