import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DnsTable, readHostResolvers, startDnsServer, type DnsServer } from '../../../src/engine/network/dns.js';
import {
  CLASS_IN, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_REFUSED, RCODE_SERVFAIL, TYPE_A, TYPE_AAAA, TYPE_PTR, aRecord,
  decodeDnsMessage, emptyMessage, encodeDnsMessage, recordAddress, responseTo, type DnsMessage,
} from '../../../src/engine/network/dns-message.js';

let nextId = 100;

/** Ask 127.0.0.1:port over UDP. */
function ask(port: number, name: string, type = TYPE_A, timeoutMs = 3000): Promise<DnsMessage> {
  const id = nextId++;
  const q = encodeDnsMessage(emptyMessage({ id, rd: true, questions: [{ name, type, class: CLASS_IN }] }));
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no answer for ${name}`));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(decodeDnsMessage(m));
    });
    s.send(q, port, '127.0.0.1');
  });
}

function askTcp(port: number, name: string): Promise<DnsMessage> {
  const q = encodeDnsMessage(emptyMessage({ id: nextId++, questions: [{ name, type: TYPE_A, class: CLASS_IN }] }));
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(decodeDnsMessage(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
    const head = Buffer.alloc(2);
    head.writeUInt16BE(q.length, 0);
    sock.write(Buffer.concat([head, q]));
  });
}

const addrs = (m: DnsMessage): (string | undefined)[] => m.answers.map(recordAddress);

describe('DNS table', () => {
  test('case-insensitive, trailing dot, rotation, removal', () => {
    const t = new DnsTable();
    t.add('Web', '10.0.0.2');
    t.add('web.', '10.0.0.3');
    t.add('web', '10.0.0.4');
    assert.deepEqual(t.lookup('WEB'), ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
    assert.deepEqual(t.lookup('web.'), ['10.0.0.3', '10.0.0.4', '10.0.0.2']);
    assert.deepEqual(t.lookup('web'), ['10.0.0.4', '10.0.0.2', '10.0.0.3']);
    t.removeAddress('10.0.0.3');
    assert.deepEqual(new Set(t.lookup('web')), new Set(['10.0.0.2', '10.0.0.4']));
    t.remove('web', '10.0.0.2');
    t.remove('web', '10.0.0.4');
    assert.equal(t.lookup('web'), undefined);
    assert.equal(t.has('web'), false);
  });
});

describe('DNS server', () => {
  let server: DnsServer;
  let upstream: Socket;
  let upstreamPort = 0;
  let silent: Socket;
  let silentPort = 0;
  const upstreamSeen: string[] = [];
  const table = new DnsTable();

  before(async () => {
    // A fake upstream on loopback: answers every A query with 127.0.0.42.
    upstream = createSocket('udp4');
    upstream.on('message', (m, r) => {
      const q = decodeDnsMessage(m);
      const name = q.questions[0]?.name ?? '';
      upstreamSeen.push(name);
      if (name === 'nx.example') {
        upstream.send(encodeDnsMessage(responseTo(q, RCODE_NXDOMAIN)), r.port, r.address);
        return;
      }
      upstream.send(encodeDnsMessage(responseTo(q, 0, [aRecord(name, '127.0.0.42', 30)])), r.port, r.address);
    });
    await new Promise<void>((res) => upstream.bind(0, '127.0.0.1', res));
    upstreamPort = upstream.address().port;
    silent = createSocket('udp4'); // an upstream that never answers
    await new Promise<void>((res) => silent.bind(0, '127.0.0.1', res));
    silentPort = silent.address().port;

    table.set('db', ['10.0.0.2']);
    table.set('web', ['10.0.0.3', '10.0.0.4', '10.0.0.5']);
    table.add('my-alias', '10.0.0.9');
    server = await startDnsServer({
      host: '127.0.0.1', port: 0, table, timeoutMs: 300,
      upstreams: [{ host: '127.0.0.1', port: silentPort }, { host: '127.0.0.1', port: upstreamPort }],
    });
  });

  after(async () => {
    await server.close();
    upstream.close();
    silent.close();
  });

  test('answers a known name with its address, any case, with or without the final dot', async () => {
    for (const n of ['db', 'DB', 'db.']) {
      const r = await ask(server.port, n);
      assert.equal(r.rcode, RCODE_NOERROR);
      assert.equal(r.qr, true);
      assert.deepEqual(addrs(r), ['10.0.0.2'], n);
      assert.equal(r.answers[0]?.name.toLowerCase(), 'db');
    }
    assert.deepEqual(addrs(await ask(server.port, 'my-alias')), ['10.0.0.9']);
  });

  test('several containers under one name: all addresses, order rotated per query', async () => {
    const firsts = new Set<string | undefined>();
    for (let i = 0; i < 3; i++) {
      const r = await ask(server.port, 'web');
      assert.deepEqual(new Set(addrs(r)), new Set(['10.0.0.3', '10.0.0.4', '10.0.0.5']));
      firsts.add(addrs(r)[0]);
    }
    assert.equal(firsts.size, 3);
  });

  test('AAAA for a known name: NOERROR with no answers; PTR for a known address', async () => {
    const r = await ask(server.port, 'db', TYPE_AAAA);
    assert.equal(r.rcode, RCODE_NOERROR);
    assert.equal(r.answers.length, 0);
    const p = await ask(server.port, '2.0.0.10.in-addr.arpa', TYPE_PTR);
    assert.equal(p.rcode, RCODE_NOERROR);
    assert.equal(p.answers.length, 1);
  });

  test('table updates are seen by the next query', async () => {
    table.add('late', '10.0.0.77');
    assert.deepEqual(addrs(await ask(server.port, 'late')), ['10.0.0.77']);
    table.remove('late');
    assert.equal((await ask(server.port, 'late')).rcode, RCODE_NXDOMAIN);
  });

  test('unknown bare name: NXDOMAIN without asking upstream', async () => {
    const before = upstreamSeen.length;
    const r = await ask(server.port, 'nosuchcontainer');
    assert.equal(r.rcode, RCODE_NXDOMAIN);
    assert.equal(upstreamSeen.length, before);
  });

  test('other names are forwarded; a silent upstream is skipped after the timeout', async () => {
    const t0 = Date.now();
    const r = await ask(server.port, 'Host.Example');
    assert.equal(r.rcode, RCODE_NOERROR);
    assert.deepEqual(addrs(r), ['127.0.0.42']);
    assert.ok(Date.now() - t0 >= 250, 'waited for the silent upstream first');
    assert.ok(upstreamSeen.includes('Host.Example'));
    assert.equal((await ask(server.port, 'nx.example')).rcode, RCODE_NXDOMAIN);
  });

  test('all upstreams silent: SERVFAIL after the timeout', async () => {
    server.setUpstreams([{ host: '127.0.0.1', port: silentPort }]);
    try {
      const r = await ask(server.port, 'slow.example');
      assert.equal(r.rcode, RCODE_SERVFAIL);
    } finally {
      server.setUpstreams([{ host: '127.0.0.1', port: upstreamPort }]);
    }
  });

  test('TCP queries are answered too', async () => {
    assert.deepEqual(addrs(await askTcp(server.port, 'db')), ['10.0.0.2']);
  });

  test('garbage does not kill the server', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.send(Buffer.from('hello'), server.port, '127.0.0.1', () => res()));
    s.close();
    assert.deepEqual(addrs(await ask(server.port, 'db')), ['10.0.0.2']);
  });
});

describe('DNS server access', () => {
  test('clients outside allowFrom are REFUSED', async () => {
    const table = new DnsTable();
    table.set('db', ['10.0.0.2']);
    const s = await startDnsServer({ host: '127.0.0.1', port: 0, table, allowFrom: '10.0.0.0/24', tcp: false });
    try {
      assert.equal((await ask(s.port, 'db')).rcode, RCODE_REFUSED);
    } finally {
      await s.close();
    }
    const s2 = await startDnsServer({ host: '127.0.0.1', port: 0, table, allowFrom: '127.0.0.0/8', tcp: false });
    try {
      assert.deepEqual(addrs(await ask(s2.port, 'db')), ['10.0.0.2']);
    } finally {
      await s2.close();
    }
  });

  test('a taken port is PORT_IN_USE', async () => {
    const s = await startDnsServer({ host: '127.0.0.1', port: 0, table: new DnsTable() });
    try {
      await assert.rejects(startDnsServer({ host: '127.0.0.1', port: s.port, table: new DnsTable() }), { code: 'PORT_IN_USE' });
    } finally {
      await s.close();
    }
  });

  test('host resolvers come from resolv.conf, minus excluded addresses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-dns-'));
    try {
      const f = join(dir, 'resolv.conf');
      writeFileSync(f, '# c\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nsearch x\n');
      assert.deepEqual(readHostResolvers(f, ['10.0.0.1']), [{ host: '127.0.0.53', port: 53 }, { host: 'fe80::1', port: 53 }]);
      assert.deepEqual(readHostResolvers(join(dir, 'missing')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
