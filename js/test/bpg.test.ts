import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  BPG_HEADER_SIZE,
  BPG_MAGIC,
  BPG_PREFIX_SIZE,
  BpgDecoder,
  BpgError,
  BpgErrorCode,
  BpgGroup,
  BpgPacket,
  BpgPacketInit,
  BpgRequester,
  decodeOne,
  encode,
  encodeInto,
  encodedSize,
} from '../src/bpg';
import * as bpg from '../src/bpg';
import { TimeoutError } from '../src/errors';
import { mulberry32 } from './prng';

// One entry of test-vectors/bpg.json, in the file's own format (docs/bpg.md, "Test vectors").
// Written out rather than derived from BpgPacket on purpose: the vectors are independent of
// the codec under test, so a change to BpgPacket must not silently change what is read here.
interface Vector {
  name: string;
  tag: string;
  endOfGroup: boolean;
  version: number;
  targetId: number;
  groupId: number;
  metadata: string;
  binaryHex: string;
  hex: string;
}

// build/js-test/test -> repo root
const vectors: Vector[] = JSON.parse(
  readFileSync(join(__dirname, '..', '..', '..', 'test-vectors', 'bpg.json'), 'utf8'),
);

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function make(tag: string, endOfGroup: boolean, targetId: number, groupId: number, metadata: string, binary?: Uint8Array): Uint8Array {
  return encode({ tag, endOfGroup, targetId, groupId, metadata, binary: binary ?? new Uint8Array(0) });
}

function putU32(b: Uint8Array, at: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v);
}

interface Collected {
  groups: BpgGroup[];
  errors: BpgError[];
}

/**
 * Pushes `stream` cut at `cuts` through a scratch buffer that is overwritten after each push,
 * proving the decoder copies what it keeps.
 */
function pushAll(d: BpgDecoder, stream: Uint8Array, cuts: number[] = [], now = 0): Collected {
  const c: Collected = { groups: [], errors: [] };
  let prev = 0;
  for (const cut of [...cuts, stream.byteLength]) {
    const scratch = stream.slice(prev, cut);
    const out = d.push(scratch, now);
    scratch.fill(0xee);
    c.groups.push(...out.groups);
    c.errors.push(...out.errors);
    prev = cut;
  }
  return c;
}

function steps(len: number, step: number): number[] {
  const cuts: number[] = [];
  for (let i = step; i < len; i += step) cuts.push(i);
  return cuts;
}

function toPlain(p: BpgPacket): object {
  return { ...p, binary: Array.from(p.binary) };
}

// ---- shared vectors -------------------------------------------------------------------------

test('vector file covers the required cases', () => {
  assert.ok(vectors.length >= 8);
  assert.ok(vectors.some((v) => v.metadata === ''));
  assert.ok(vectors.some((v) => v.binaryHex === ''));
  assert.ok(vectors.some((v) => /[^\x00-\x7f]/.test(v.metadata)));
  assert.ok(vectors.some((v) => v.targetId === 0xffffffff && v.groupId === 0xffffffff));
  assert.ok(vectors.some((v) => v.endOfGroup) && vectors.some((v) => !v.endOfGroup));
  // the rest of what docs/bpg.md ("Test vectors") says the file covers
  const utf8Widths = new Set(vectors.flatMap((v) => [...v.metadata].map((c) => new TextEncoder().encode(c).byteLength)));
  assert.deepEqual([1, 2, 3, 4].map((n) => utf8Widths.has(n)), [true, true, true, true]);
  assert.ok(vectors.some((v) => v.metadata.startsWith('\ufeff')), 'leading BOM');
  assert.ok(vectors.some((v) => v.targetId === 0 && v.groupId === 0), 'ids 0');
  assert.ok(vectors.some((v) => v.binaryHex.toLowerCase().includes(BPG_MAGIC.toString(16))), 'binary containing the magic');
  assert.ok(vectors.some((v) => v.binaryHex.length / 2 >= 300), '300-byte payload');
  assert.ok(
    vectors.some((v, i) => !v.endOfGroup && vectors.slice(i + 1).some((w) => w.endOfGroup && w.groupId === v.groupId && w.targetId === v.targetId)),
    'a group of two packets',
  );
});

test('every vector decodes to its fields and encodes to the exact bytes', () => {
  for (const v of vectors) {
    const wire = fromHex(v.hex);
    const { packet, size } = decodeOne(wire);
    assert.equal(size, wire.byteLength, v.name);
    assert.deepEqual(
      toPlain(packet),
      {
        tag: v.tag,
        endOfGroup: v.endOfGroup,
        version: v.version,
        targetId: v.targetId,
        groupId: v.groupId,
        metadata: v.metadata,
        binary: Array.from(fromHex(v.binaryHex)),
      },
      v.name,
    );
    const init: BpgPacketInit = {
      tag: v.tag,
      endOfGroup: v.endOfGroup,
      targetId: v.targetId,
      groupId: v.groupId,
      metadata: v.metadata,
      binary: fromHex(v.binaryHex),
    };
    assert.equal(encodedSize(init), wire.byteLength, v.name);
    assert.deepEqual(encode(init), wire, v.name);
  }
});

test('vectors encode into and decode from SharedArrayBuffer views', () => {
  for (const v of vectors) {
    const wire = fromHex(v.hex);
    const region = new Uint8Array(new SharedArrayBuffer(wire.byteLength + 16), 8, wire.byteLength + 8);
    const n = encodeInto(region, {
      tag: v.tag,
      endOfGroup: v.endOfGroup,
      targetId: v.targetId,
      groupId: v.groupId,
      metadata: v.metadata,
      binary: fromHex(v.binaryHex),
    });
    assert.equal(n, wire.byteLength);
    assert.deepEqual(new Uint8Array(region.subarray(0, n)), wire, v.name);
    assert.equal(decodeOne(region).packet.metadata, v.metadata, v.name);
    const d = new BpgDecoder();
    const out = d.push(region.subarray(0, n), 0);
    if (v.endOfGroup) assert.equal(out.groups[0]?.packets[0]?.metadata, v.metadata, v.name);
    else assert.equal(d.pendingGroups, 1, v.name);
  }
});

test('a stream of all vectors in one chunk yields their groups', () => {
  const stream = concat(...vectors.map((v) => fromHex(v.hex)));
  const d = new BpgDecoder();
  const c = pushAll(d, stream);
  assert.deepEqual(c.errors, []);
  const expected: string[][] = [];
  const open = new Map<string, string[]>();
  for (const v of vectors) {
    const key = `${v.groupId}:${v.targetId}`;
    const g = open.get(key) ?? [];
    g.push(v.name);
    open.set(key, g);
    if (v.endOfGroup) {
      expected.push(g);
      open.delete(key);
    }
  }
  const byName = new Map(vectors.map((v) => [v.name, v]));
  assert.deepEqual(
    c.groups.map((g) => g.packets.map((p) => p.metadata)),
    expected.map((g) => g.map((n) => byName.get(n)!.metadata)),
  );
  assert.equal(d.pendingGroups, open.size);
  assert.equal(d.bufferedBytes, 0);
});

// ---- encoding -------------------------------------------------------------------------------

test('encodeInto writes only the packet into a larger region', () => {
  const p: BpgPacketInit = { tag: 'IM', endOfGroup: false, targetId: 5, groupId: 6, metadata: '{}', binary: new Uint8Array([1, 2, 3]) };
  const region = new Uint8Array(encodedSize(p) + 8).fill(0xaa);
  assert.equal(encodeInto(region.subarray(4), p), encodedSize(p));
  assert.equal(region[3], 0xaa);
  assert.equal(region[region.length - 1], 0xaa);
  assert.deepEqual(region.subarray(4, region.length - 4), encode(p));
});

test('encoder errors carry their codes and write nothing', () => {
  const p: BpgPacketInit = { tag: 'TX', targetId: 1, groupId: 2, metadata: 'abc' };
  const small = new Uint8Array(encodedSize(p) - 1).fill(0x11);
  assert.throws(() => encodeInto(small, p), (e: unknown) => e instanceof BpgError && e.code === 'buffer_too_small' && e.message.includes(String(encodedSize(p))));
  assert.ok(small.every((b) => b === 0x11));
  assert.throws(() => encode({ ...p, tag: 'T\n' }), { code: 'invalid_tag' });
  assert.throws(() => encode({ ...p, tag: 'TXT' }), { code: 'invalid_tag' });
  assert.throws(() => encode({ ...p, tag: 'é!' }), { code: 'invalid_tag' });
  assert.throws(() => encode({ ...p, metadata: 'a\ud800b' }), { code: 'invalid_metadata_utf8' });
  assert.throws(() => encode({ ...p, targetId: -1 }), RangeError);
  assert.throws(() => encode({ ...p, groupId: 2 ** 32 }), RangeError);
  // A stand-in for a 4 GiB payload: the size check comes before any byte is read.
  const huge = { byteLength: 0xffffffff } as unknown as Uint8Array;
  assert.throws(() => encode({ ...p, binary: huge }), { code: 'length_overflow' });
  // An invalid packet writes nothing even into a target with room for it.
  const roomy = new Uint8Array(encodedSize(p) + 16).fill(0x22);
  for (const [bad, code] of [
    [{ ...p, tag: 'T\n' }, 'invalid_tag'],
    [{ ...p, metadata: 'a\ud800b' }, 'invalid_metadata_utf8'],
    [{ ...p, binary: huge }, 'length_overflow'],
  ] as [BpgPacketInit, BpgErrorCode][]) {
    assert.throws(() => encodeInto(roomy, bad), { code }, code);
    assert.ok(roomy.every((b) => b === 0x22), code);
  }
});

test('encodedSize counts UTF-8 bytes', () => {
  for (const s of ['', 'a', 'é', '日本', '🎉', 'a🎉é日']) {
    assert.equal(encodedSize({ tag: 'TX', targetId: 0, groupId: 0, metadata: s }), BPG_HEADER_SIZE + new TextEncoder().encode(s).byteLength, s);
  }
});

// ---- decodeOne ------------------------------------------------------------------------------

test('decodeOne: truncated reports the needed size; trailing bytes are ignored', () => {
  const pkt = make('TX', true, 1, 2, 'meta', new Uint8Array([9, 9]));
  for (let n = 0; n < pkt.byteLength; n++) {
    assert.throws(
      () => decodeOne(pkt.subarray(0, n)),
      (e: unknown) => e instanceof BpgError && e.code === 'truncated' && e.packetSize === (n < BPG_PREFIX_SIZE ? BPG_PREFIX_SIZE : pkt.byteLength),
      String(n),
    );
  }
  assert.equal(decodeOne(concat(pkt, pkt)).size, pkt.byteLength);
  assert.equal(new DataView(pkt.buffer).getUint32(0), BPG_MAGIC);
});

// ---- malformed ------------------------------------------------------------------------------

interface MalformedCase {
  name: string;
  bytes: Uint8Array;
  code: BpgErrorCode;
  messagePart: string;
}

function malformedCases(): MalformedCase[] {
  const good = make('TX', true, 1, 2, 'meta', new Uint8Array([1, 2, 3]));
  const cases: MalformedCase[] = [];
  const patched = (fn: (b: Uint8Array) => void) => {
    const b = good.slice();
    fn(b);
    return b;
  };
  cases.push({ name: 'B1 bad magic', bytes: patched((b) => (b[3] = 2)), code: 'bad_magic', messagePart: '0x42504702' });
  for (let dl = 0; dl < 4; dl++) {
    cases.push({ name: `B2 data length ${dl}`, bytes: patched((b) => putU32(b, 18, dl)), code: 'data_length_too_small', messagePart: `data length ${dl} is below the minimum 4` });
  }
  cases.push({ name: 'B5 string length too large', bytes: patched((b) => putU32(b, 22, 8)), code: 'string_length_too_large', messagePart: 'string length 8 exceeds data length 11 - 4 = 7' });
  cases.push({ name: 'B5 string length huge', bytes: patched((b) => putU32(b, 22, 0xffffffff)), code: 'string_length_too_large', messagePart: '4294967295' });
  cases.push({ name: 'B6 tag NUL', bytes: patched((b) => (b[5] = 0)), code: 'invalid_tag', messagePart: '0x00' });
  cases.push({ name: 'B6 tag non-ASCII', bytes: patched((b) => (b[4] = 0x80)), code: 'invalid_tag', messagePart: 'tag byte 0 is 0x80' });
  const badUtf8: [string, number[]][] = [
    ['overlong', [0xc0, 0xaf]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['above max', [0xf4, 0x90, 0x80, 0x80]],
    ['lead F5', [0xf5, 0x80, 0x80, 0x80]],
    ['cut short', [0x61, 0x62, 0xe6, 0x97]],
    ['lone continuation', [0x80]],
  ];
  for (const [name, meta] of badUtf8) {
    const b = make('TX', true, 1, 2, 'x'.repeat(meta.length));
    b.set(meta, BPG_HEADER_SIZE);
    cases.push({ name: `B7 ${name}`, bytes: b, code: 'invalid_metadata_utf8', messagePart: 'not well-formed UTF-8' });
  }
  return cases;
}

test('decodeOne reports each malformed case (B1, B2, B5-B7) with its own code', () => {
  for (const c of malformedCases()) {
    assert.throws(
      () => decodeOne(c.bytes),
      (e: unknown) => e instanceof BpgError && e.code === c.code && e.message.includes(c.messagePart),
      c.name,
    );
  }
});

test('the stream decoder reports each malformed case (B1, B2, B5-B7) and recovers', () => {
  const next = make('AK', true, 77, 78, 'after', new Uint8Array([4]));
  for (const c of malformedCases()) {
    for (const bytewise of [false, true]) {
      const stream = concat(c.bytes, next);
      const d = new BpgDecoder();
      const got = pushAll(d, stream, bytewise ? steps(stream.byteLength, 1) : []);
      assert.ok(got.errors.length >= 1, c.name);
      assert.equal(got.errors[0]!.code, c.code, `${c.name}: ${got.errors[0]!.message}`);
      assert.equal(got.errors[0]!.offset, 0, c.name);
      assert.equal(got.groups.length, 1, c.name);
      assert.equal(got.groups[0]!.packets[0]!.metadata, 'after', c.name);
      assert.equal(got.groups[0]!.targetId, 77);
    }
  }
});

// ---- resync ---------------------------------------------------------------------------------

test('resync skips garbage to the next magic and counts dropped bytes', () => {
  const a = make('TX', true, 1, 1, 'a');
  const b = make('TX', true, 1, 2, 'b');
  const garbage = new Uint8Array([0x78, 0x42, 0x50, 0x47, 0x02, 0x42, 0x42, 0x50, 0x00, 0x42, 0x50, 0x47]);
  const stream = concat(garbage, a, garbage, garbage, b);
  for (const step of [1, 3, 7, stream.byteLength]) {
    const d = new BpgDecoder();
    const c = pushAll(d, stream, steps(stream.byteLength, step));
    assert.deepEqual(c.groups.map((g) => g.packets[0]!.metadata), ['a', 'b']);
    assert.equal(c.errors.length, 2);
    assert.equal(c.errors[0]!.code, 'bad_magic');
    assert.equal(c.errors[0]!.offset, 0);
    assert.match(c.errors[0]!.message, /dropped 12 bytes/);
    assert.equal(c.errors[1]!.offset, garbage.byteLength + a.byteLength);
    assert.match(c.errors[1]!.message, /dropped 24 bytes/);
    assert.equal(d.stats.bytesDropped, 36);
    assert.equal(d.bufferedBytes, 0);
  }
});

test('a single garbage byte right before a magic is dropped alone', () => {
  const d = new BpgDecoder();
  const c = pushAll(d, concat(new Uint8Array([0x78]), make('TX', true, 1, 1, 'a')));
  assert.deepEqual(c.groups.map((g) => g.packets[0]!.metadata), ['a']);
  assert.match(c.errors[0]!.message, /dropped 1 bytes/);
});

test('trailing garbage is counted before any magic appears', () => {
  const d = new BpgDecoder();
  d.push(new Uint8Array(1000).fill(0x41), 0);
  assert.equal(d.stats.bytesDropped, 1000);
  assert.ok(d.bufferedBytes <= 3);
});

// ---- oversize -------------------------------------------------------------------------------

test('B4: an oversize packet is rejected after its header and skipped without buffering', () => {
  const d = new BpgDecoder({ maxPacketSize: 1024 });
  const stream = concat(make('IM', true, 1, 1, '{}', new Uint8Array(100_000).fill(7)), make('TX', true, 1, 2, 'ok'));
  const c: Collected = { groups: [], errors: [] };
  let maxBuffered = 0;
  for (let i = 0; i < stream.byteLength; i += 4000) {
    const out = d.push(stream.subarray(i, i + 4000), 0);
    c.groups.push(...out.groups);
    c.errors.push(...out.errors);
    maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
  }
  assert.equal(c.errors.length, 1);
  assert.equal(c.errors[0]!.code, 'packet_too_large');
  assert.match(c.errors[0]!.message, /packet size 100028 exceeds the maximum 1024/);
  assert.equal(maxBuffered, 0);
  assert.deepEqual(c.groups.map((g) => g.packets[0]!.metadata), ['ok']);
  assert.equal(d.stats.packetsRejectedOversize, 1);
});

test('B4: a huge declared length fails at once with the default maximum', () => {
  const hdr = make('IM', true, 1, 1, '');
  putU32(hdr, 18, 0xfffffff0);
  const d = new BpgDecoder();
  const out = d.push(hdr.subarray(0, BPG_PREFIX_SIZE), 0);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0]!.code, 'packet_too_large');
  assert.equal(d.bufferedBytes, 0);
  assert.throws(() => decodeOne(hdr), { code: 'packet_too_large' });
});

// ---- versions -------------------------------------------------------------------------------

test('B3: version above 1 is skipped and counted', () => {
  const v2 = make('TX', true, 1, 1, 'future', new Uint8Array([1, 2, 3]));
  v2[8] = 2;
  const v1 = make('TX', true, 1, 2, 'now');
  assert.throws(() => decodeOne(v2), (e: unknown) => e instanceof BpgError && e.code === 'unsupported_version' && e.packetSize === v2.byteLength);
  for (const step of [1, 5, 1000]) {
    const stream = concat(v2, v1, v2);
    const d = new BpgDecoder();
    const c = pushAll(d, stream, steps(stream.byteLength, step));
    assert.deepEqual(c.errors, []);
    assert.deepEqual(c.groups.map((g) => g.packets[0]!.metadata), ['now']);
    assert.equal(d.stats.packetsSkippedVersion, 2);
    assert.equal(d.bufferedBytes, 0);
  }
});

test('B3: version 0 is read as 1', () => {
  const v0 = make('TX', true, 1, 1, 'old');
  v0[8] = 0;
  assert.equal(decodeOne(v0).packet.version, 1);
  const out = new BpgDecoder().push(v0, 0);
  assert.equal(out.groups[0]!.packets[0]!.version, 1);
});

// ---- groups ---------------------------------------------------------------------------------

test('groups complete at end-of-group, in arrival order, keyed by group and target', () => {
  const stream = concat(
    make('TX', false, 1, 10, 'a0'),
    make('TX', false, 2, 10, 'c0'),
    make('TX', false, 1, 11, 'b0'),
    make('TX', false, 1, 10, 'a1'),
    make('TX', true, 1, 11, 'b1'),
    make('TX', true, 1, 10, 'a2'),
    make('AK', true, 1, 12, 'single'),
    make('TX', true, 2, 10, 'c1'),
  );
  const d = new BpgDecoder();
  const c = pushAll(d, stream, [5, 40, 41, 100]);
  assert.deepEqual(
    c.groups.map((g) => [g.groupId, g.targetId, g.packets.map((p) => p.metadata).join(',')]),
    [
      [11, 1, 'b0,b1'],
      [10, 1, 'a0,a1,a2'],
      [12, 1, 'single'],
      [10, 2, 'c0,c1'],
    ],
  );
  assert.equal(d.pendingGroups, 0);
  assert.equal(d.stats.groupsCompleted, 4);
});

test('incomplete groups expire after the idle timeout and are reported', () => {
  const d = new BpgDecoder({ groupTimeoutMs: 1000 });
  d.push(make('TX', false, 1, 1, 'first'), 100);
  d.push(make('TX', false, 1, 2, 'second'), 200);
  d.push(make('TX', false, 1, 2, 'second-more'), 600);
  assert.deepEqual(d.expire(1099), []);
  assert.deepEqual(d.expire(1100), [{ groupId: 1, targetId: 1, packetCount: 1, lastActivityMs: 100 }]);
  d.push(make('TX', false, 1, 3, 'third'), 700);
  assert.deepEqual(
    d.expire(5000).map((e) => [e.groupId, e.packetCount]),
    [
      [2, 2],
      [3, 1],
    ],
  );
  assert.equal(d.pendingGroups, 0);
  assert.equal(d.stats.groupsExpired, 3);
  const out = d.push(make('TX', true, 1, 2, 'late'), 6000);
  assert.equal(out.groups[0]!.packets.length, 1);
});

// ---- property: random split points ----------------------------------------------------------

test('random split points reassemble identically', () => {
  const rnd = mulberry32(0xb96);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const alphabet = ['a', '{', '"', 'é', '日', '🎉'];
  const tags = ['TX', 'IM', 'AK', 'ER'];
  for (let iter = 0; iter < 400; iter++) {
    const packets: BpgPacket[] = [];
    const expected: number[][] = [];
    const open = new Map<string, number[]>();
    const count = int(2, 12);
    for (let i = 0; i < count; i++) {
      let metadata = '';
      for (let k = int(0, 20); k > 0; k--) metadata += alphabet[int(0, 5)]!;
      const binary = new Uint8Array(int(0, 1) ? int(0, 40) : int(0, 3000));
      for (let k = 0; k < binary.length; k++) binary[k] = int(0, 255);
      const p: BpgPacket = {
        tag: tags[int(0, 3)]!,
        targetId: int(0, 2),
        groupId: int(0, 3),
        endOfGroup: i + 1 === count || int(0, 2) === 0,
        version: 1,
        metadata,
        binary,
      };
      const key = `${p.groupId}:${p.targetId}`;
      const g = open.get(key) ?? [];
      g.push(i);
      open.set(key, g);
      if (p.endOfGroup) {
        expected.push(g);
        open.delete(key);
      }
      packets.push(p);
    }
    const stream = concat(...packets.map((p) => encode(p)));
    const cuts: number[] = [];
    for (let k = int(0, 30); k > 0; k--) cuts.push(int(0, stream.byteLength));
    cuts.sort((x, y) => x - y); // duplicates give empty chunks, which must be harmless
    const d = new BpgDecoder();
    const c = pushAll(d, stream, cuts);
    assert.deepEqual(c.errors, [], `iteration ${iter}`);
    assert.deepEqual(
      c.groups.map((g) => g.packets.map(toPlain)),
      expected.map((g) => g.map((i) => toPlain(packets[i]!))),
      `iteration ${iter}`,
    );
    assert.equal(d.pendingGroups, open.size);
    assert.equal(d.bufferedBytes, 0);
    assert.equal(d.stats.packetsDecoded, count);
  }
});

test('byte-at-a-time input of a long stream stays linear', () => {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) parts.push(make('TX', true, i, i, `{"i":${i}}`, new Uint8Array(64).fill(1)));
  const stream = concat(...parts);
  const d = new BpgDecoder();
  let groups = 0;
  const start = Date.now();
  for (let i = 0; i < stream.byteLength; i++) groups += d.push(stream.subarray(i, i + 1), 0).groups.length;
  assert.equal(groups, 2000);
  assert.ok(Date.now() - start < 5000, 'byte-at-a-time decoding took too long');
});

// ---- requester ------------------------------------------------------------------------------

/** A peer that answers each complete request group with an ack group split into odd chunks. */
function echoPeer(deliver: (bytes: Uint8Array) => void, options: { reverse?: boolean; drop?: boolean } = {}) {
  const decoder = new BpgDecoder();
  const queue: Uint8Array[] = [];
  const sent: Uint8Array[] = [];
  return {
    sent,
    transport: {
      send(bytes: Uint8Array) {
        sent.push(bytes.slice());
        for (const g of decoder.push(bytes, 0).groups) {
          if (options.drop) continue;
          const reply = concat(
            encode({ tag: 'AK', endOfGroup: false, targetId: g.targetId, groupId: g.groupId, metadata: `{"n":${g.packets.length}}` }),
            encode({ tag: 'TX', endOfGroup: true, targetId: g.targetId, groupId: g.groupId, metadata: g.packets.map((p) => p.metadata).join('|') }),
          );
          queue.push(reply);
        }
      },
    },
    flush() {
      const replies = options.reverse ? queue.reverse() : queue;
      const all = concat(...replies);
      queue.length = 0;
      for (let i = 0; i < all.byteLength; i += 7) deliver(all.subarray(i, i + 7));
    },
  };
}

test('requester matches responses by group id and target id', async () => {
  let requester: BpgRequester | undefined;
  const peer = echoPeer((b) => requester!.receive(b), { reverse: true });
  requester = new BpgRequester(peer.transport);
  const r1 = requester.request([{ tag: 'TX', targetId: 5, metadata: 'one' }], { timeoutMs: 1000 });
  const r2 = requester.request(
    [
      { tag: 'TX', targetId: 5, metadata: 'two-a' },
      { tag: 'IM', targetId: 5, metadata: 'two-b', binary: new Uint8Array([1]) },
    ],
    { timeoutMs: 1000 },
  );
  const r3 = requester.request([{ tag: 'TX', targetId: 6, metadata: 'three' }], { timeoutMs: 1000 });
  assert.equal(requester.pendingRequests, 3);
  peer.flush();
  const [g1, g2, g3] = await Promise.all([r1, r2, r3]);
  assert.equal(g1.packets[1]!.metadata, 'one');
  assert.equal(g2.packets[1]!.metadata, 'two-a|two-b');
  assert.equal(g2.packets[0]!.metadata, '{"n":2}');
  assert.equal(g3.packets[1]!.metadata, 'three');
  assert.equal(g3.targetId, 6);
  assert.equal(new Set([g1.groupId, g2.groupId, g3.groupId]).size, 3);
  // The requester set the end-of-group bit on the last packet only.
  const sent2 = peer.sent[1]!;
  const first = decodeOne(sent2);
  assert.equal(first.packet.endOfGroup, false);
  assert.equal(decodeOne(sent2.subarray(first.size)).packet.endOfGroup, true);
  assert.equal(requester.pendingRequests, 0);
});

test('requester times out with TimeoutError and reports a late response as unmatched', async () => {
  const unmatched: BpgGroup[] = [];
  let requester: BpgRequester | undefined;
  const peer = echoPeer((b) => requester!.receive(b));
  requester = new BpgRequester(peer.transport, { onUnmatched: (g) => unmatched.push(g) });
  const p = requester.request([{ tag: 'TX', targetId: 1, metadata: 'slow' }], { timeoutMs: 20 });
  await assert.rejects(p, (e: unknown) => e instanceof TimeoutError && /group \d+, target 1/.test((e as Error).message));
  assert.equal(requester.pendingRequests, 0);
  peer.flush();
  assert.equal(unmatched.length, 1);
  assert.equal(unmatched[0]!.packets[1]!.metadata, 'slow');
});

test('requester: synchronous replies, send failures, close, bad arguments', async () => {
  let requester: BpgRequester | undefined;
  const loopback = {
    send(bytes: Uint8Array) {
      const { packet } = decodeOne(bytes);
      requester!.receive(encode({ tag: 'AK', targetId: packet.targetId, groupId: packet.groupId }));
    },
  };
  requester = new BpgRequester(loopback, { firstGroupId: 0xffffffff });
  const g = await requester.request([{ tag: 'TX', targetId: 3 }], { timeoutMs: 1000 });
  assert.equal(g.groupId, 0xffffffff);
  assert.equal((await requester.request([{ tag: 'TX', targetId: 3 }], { timeoutMs: 1000 })).groupId, 0);

  const failing = new BpgRequester({
    send() {
      throw new Error('channel full');
    },
  });
  await assert.rejects(failing.request([{ tag: 'TX', targetId: 1 }], { timeoutMs: 1000 }), /channel full/);
  assert.equal(failing.pendingRequests, 0);

  const silent = new BpgRequester({ send() {} });
  const pending = silent.request([{ tag: 'TX', targetId: 1 }], { timeoutMs: 10_000 });
  silent.close();
  await assert.rejects(pending, { code: 'closed' });

  await assert.rejects(silent.request([], { timeoutMs: 10 }), RangeError);
  await assert.rejects(
    silent.request(
      [
        { tag: 'TX', targetId: 1 },
        { tag: 'TX', targetId: 2 },
      ],
      { timeoutMs: 10 },
    ),
    RangeError,
  );
  await assert.rejects(silent.request([{ tag: 'BAD', targetId: 1 }], { timeoutMs: 10 }), { code: 'invalid_tag' });
  assert.equal(silent.pendingRequests, 0);
});

test('BPG_OFFSETS name where encode() put each prefix field; peekTag reads the tag of a header only', () => {
  const bytes = bpg.encode({ tag: 'IM', endOfGroup: true, targetId: 0x01020304, groupId: 0xa0b0c0d0, metadata: 'xy', binary: new Uint8Array(5) });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(dv.getUint32(bpg.BPG_OFFSETS.magic), bpg.BPG_MAGIC);
  assert.equal(String.fromCharCode(bytes[bpg.BPG_OFFSETS.tag]!, bytes[bpg.BPG_OFFSETS.tag + 1]!), 'IM');
  assert.equal(dv.getUint32(bpg.BPG_OFFSETS.targetId), 0x01020304);
  assert.equal(dv.getUint32(bpg.BPG_OFFSETS.groupId), 0xa0b0c0d0);
  assert.equal(dv.getUint32(bpg.BPG_OFFSETS.dataLength), 4 + 2 + 5, "the string length field, metadata, binary");
  assert.equal(dv.getUint32(bpg.BPG_OFFSETS.stringLength), 2);
  assert.equal(bpg.BPG_OFFSETS.stringLength + 4, bpg.BPG_HEADER_SIZE);
  assert.equal(bpg.peekTag(bytes), bpg.tagNumber('IM'));
  assert.equal(bpg.tagNumber('IM'), 0x494d);
  assert.equal(bpg.peekTag(bytes.subarray(0, bpg.BPG_HEADER_SIZE - 1)), -1, 'shorter than a header');
  const notBpg = bytes.slice();
  notBpg[3] = notBpg[3]! ^ 1;
  assert.equal(bpg.peekTag(notBpg), -1, 'wrong magic');
  assert.throws(() => bpg.tagNumber('IMG'), /a tag is two characters, not "IMG"/);
});
