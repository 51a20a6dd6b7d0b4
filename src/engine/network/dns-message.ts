// DNS wire format (RFC 1035), pure: decode any message, encode ours with name compression, truncate to fit.
// Record data is kept raw; A records have helpers. Names are dotted, without the trailing dot.

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const TYPE_OPT = 41;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Buffer;
}

export interface DnsMessage {
  id: number;
  /** true for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export class DnsFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

export function emptyMessage(partial: Partial<DnsMessage> = {}): DnsMessage {
  return {
    id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, rcode: 0,
    questions: [], answers: [], authorities: [], additionals: [], ...partial,
  };
}

// ------------------------------------------------------------------ decode

function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let off = start;
  let next = -1;
  let jumps = 0;
  let total = 0;
  for (;;) {
    if (off >= buf.length) throw new DnsFormatError('name runs past the end of the message');
    const len = buf[off] ?? 0;
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++jumps > 64) throw new DnsFormatError('compression pointer loop');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | (buf[off + 1] ?? 0);
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsFormatError('unsupported label type');
    if (len === 0) {
      if (next < 0) next = off + 1;
      break;
    }
    if (off + 1 + len > buf.length) throw new DnsFormatError('label runs past the end of the message');
    total += len + 1;
    if (total > 255) throw new DnsFormatError('name longer than 255 bytes');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return { name: labels.join('.'), next };
}

function need(buf: Buffer, off: number, n: number, what: string): void {
  if (off + n > buf.length) throw new DnsFormatError(`truncated ${what}`);
}

export function decodeDnsMessage(buf: Buffer): DnsMessage {
  need(buf, 0, 12, 'header');
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)] as const;
  let off = 12;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, next } = readName(buf, off);
    need(buf, next, 4, 'question');
    questions.push({ name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2) });
    off = next + 4;
  }
  const records = (n: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) {
      const { name, next } = readName(buf, off);
      need(buf, next, 10, 'record');
      const rdlen = buf.readUInt16BE(next + 8);
      need(buf, next + 10, rdlen, 'record data');
      out.push({
        name,
        type: buf.readUInt16BE(next),
        class: buf.readUInt16BE(next + 2),
        ttl: buf.readUInt32BE(next + 4),
        data: Buffer.from(buf.subarray(next + 10, next + 10 + rdlen)),
      });
      off = next + 10 + rdlen;
    }
    return out;
  };
  const answers = records(counts[1]);
  const authorities = records(counts[2]);
  const additionals = records(counts[3]);
  return {
    id: buf.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    rcode: flags & 0xf,
    questions, answers, authorities, additionals,
  };
}

// ------------------------------------------------------------------ encode

class Writer {
  private readonly parts: Buffer[] = [];
  length = 0;
  private readonly names = new Map<string, number>();

  bytes(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }

  u16(v: number): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v, 0);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0, 0);
    this.bytes(b);
  }

  name(name: string): void {
    const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = this.names.get(suffix);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.length < 0x3fff) this.names.set(suffix, this.length);
      const label = Buffer.from(labels[i] ?? '', 'latin1');
      if (label.length > 63) throw new DnsFormatError(`label longer than 63 bytes in ${name}`);
      this.bytes(Buffer.from([label.length]));
      this.bytes(label);
    }
    this.bytes(Buffer.from([0]));
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeRecord(w: Writer, r: DnsRecord): void {
  w.name(r.name);
  w.u16(r.type);
  w.u16(r.class);
  w.u32(r.ttl);
  w.u16(r.data.length);
  w.bytes(r.data);
}

function encodeFull(m: DnsMessage): Buffer {
  const w = new Writer();
  w.u16(m.id);
  w.u16((m.qr ? 0x8000 : 0) | ((m.opcode & 0xf) << 11) | (m.aa ? 0x0400 : 0) | (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) | (m.ra ? 0x0080 : 0) | (m.rcode & 0xf));
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authorities.length);
  w.u16(m.additionals.length);
  for (const q of m.questions) {
    w.name(q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) writeRecord(w, r);
  return w.done();
}

/**
 * Encode a message. When it exceeds `maxSize` (512 for plain UDP), records are dropped from the end and TC
 * is set, so the client retries over TCP.
 */
export function encodeDnsMessage(m: DnsMessage, maxSize = 65535): Buffer {
  let out = encodeFull(m);
  if (out.length <= maxSize) return out;
  const answers = [...m.answers];
  let trimmed: DnsMessage = { ...m, tc: true, authorities: [], additionals: [] };
  while (answers.length > 0) {
    answers.pop();
    trimmed = { ...trimmed, answers: [...answers] };
    out = encodeFull(trimmed);
    if (out.length <= maxSize) return out;
  }
  return encodeFull(trimmed);
}

export function aRecord(name: string, address: string, ttl = 600): DnsRecord {
  return { name, type: TYPE_A, class: CLASS_IN, ttl, data: Buffer.from(address.split('.').map(Number)) };
}

/** Dotted quad of an A record, or undefined for other records. */
export function recordAddress(r: DnsRecord): string | undefined {
  return r.type === TYPE_A && r.data.length === 4 ? [...r.data].join('.') : undefined;
}

/** A PTR record pointing at `target`. */
export function ptrRecord(name: string, target: string, ttl = 600): DnsRecord {
  const w = new Writer();
  w.name(target);
  return { name, type: TYPE_PTR, class: CLASS_IN, ttl, data: w.done() };
}

/** A response skeleton for `query`: same id, question and RD; QR and RA set. */
export function responseTo(query: DnsMessage, rcode: number, answers: DnsRecord[] = []): DnsMessage {
  return emptyMessage({
    id: query.id, qr: true, opcode: query.opcode, aa: rcode === RCODE_NOERROR || rcode === RCODE_NXDOMAIN,
    rd: query.rd, ra: true, rcode, questions: query.questions, answers,
  });
}
