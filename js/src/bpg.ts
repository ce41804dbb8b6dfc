// BPG: the framed packet codec carried over the channel (docs/bpg.md).
//
// Byte-compatible with native/src/bpg.cpp; both are checked against test-vectors/bpg.json.
// No Node imports: this module also runs in browsers and Web Workers.

import { ChannelError, TimeoutError } from './errors';

export const BPG_MAGIC = 0x42504701; // "BPG" 0x01
export const BPG_PREFIX_SIZE = 22; // magic .. data length
export const BPG_HEADER_SIZE = 26; // prefix + string length
export const BPG_VERSION = 1;
/** Byte offsets of the prefix fields (big-endian; docs/bpg.md), for in-place readers and patchers. */
export const BPG_OFFSETS = { magic: 0, tag: 4, prop: 6, targetId: 10, groupId: 14, dataLength: 18, stringLength: 22 } as const;
export const BPG_DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024;
export const BPG_DEFAULT_GROUP_TIMEOUT_MS = 30_000;

const END_OF_GROUP_BIT = 1;
const MAX_U32 = 0xffffffff;

/** Same names as smc::bpg::ErrorCode, so logs from both sides match. */
export type BpgErrorCode =
  | 'truncated' // decodeOne: the input ends before the packet does
  | 'bad_magic' // the bytes do not start with BPG_MAGIC (stream: bytes were dropped)
  | 'data_length_too_small' // data length < 4
  | 'string_length_too_large' // string length > data length - 4
  | 'invalid_tag' // a tag byte outside printable ASCII 0x20..0x7E
  | 'invalid_metadata_utf8' // metadata is not well-formed UTF-8 (or, encoding, a lone surrogate)
  | 'unsupported_version' // decodeOne: version > 1 (the stream decoder skips these silently)
  | 'packet_too_large' // total packet size above the configured maximum
  | 'buffer_too_small' // encodeInto: the target cannot hold the packet
  | 'length_overflow'; // encode: 4 + metadata + binary does not fit in 32 bits

export class BpgError extends ChannelError {
  declare readonly code: BpgErrorCode;
  /** Stream offset of the offending bytes (errors reported by BpgDecoder). */
  readonly offset: number | undefined;
  /**
   * decodeOne: for `truncated`, the bytes to wait for when known; for `unsupported_version`,
   * the bytes to skip.
   */
  readonly packetSize: number | undefined;
  constructor(code: BpgErrorCode, message: string, extra?: { offset?: number; packetSize?: number }) {
    super(code, message);
    this.offset = extra?.offset;
    this.packetSize = extra?.packetSize;
  }
}

/** What the encoders read. `endOfGroup` defaults to true, metadata/binary to empty. */
export interface BpgPacketInit {
  tag: string;
  endOfGroup?: boolean;
  targetId: number;
  groupId: number;
  metadata?: string;
  binary?: Uint8Array;
}

/** A decoded packet. `version` is 1 (0 on the wire is reported as 1). */
export interface BpgPacket {
  tag: string;
  endOfGroup: boolean;
  version: number;
  targetId: number;
  groupId: number;
  metadata: string;
  binary: Uint8Array;
}

// ---- helpers -----------------------------------------------------------------------------

const textEncoder = new TextEncoder();
// fatal: reject what the C++ decoder rejects instead of substituting U+FFFD.
// ignoreBOM: a leading U+FEFF is metadata content, and C++ keeps it.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    // Chromium's TextDecoder rejects views over a SharedArrayBuffer.
    return textDecoder.decode(isShared(bytes) ? bytes.slice() : bytes);
  } catch {
    return undefined;
  }
}

/** UTF-8 byte length of a well-formed string, without encoding it. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // a pair: 2 UTF-16 units become 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hex32(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

function hex8(v: number): string {
  return '0x' + v.toString(16).padStart(2, '0');
}

function isTagByte(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** The `invalid_tag` message for tag bytes b0, b1, or undefined when both are valid. */
function tagProblem(b0: number, b1: number): string | undefined {
  const i = !isTagByte(b0) ? 0 : !isTagByte(b1) ? 1 : -1;
  if (i < 0) return undefined;
  return `tag byte ${i} is ${hex8(i === 0 ? b0 : b1)}; allowed are printable ASCII 0x20..0x7e`;
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U32) {
    throw new RangeError(`${name} ${v} is not an unsigned 32-bit integer`);
  }
}

interface Prefix {
  magic: number;
  tag0: number;
  tag1: number;
  prop: number;
  targetId: number;
  groupId: number;
  dataLength: number;
}

function parsePrefix(dv: DataView, at: number): Prefix {
  return {
    magic: dv.getUint32(at + BPG_OFFSETS.magic),
    tag0: dv.getUint8(at + BPG_OFFSETS.tag),
    tag1: dv.getUint8(at + BPG_OFFSETS.tag + 1),
    prop: dv.getUint32(at + BPG_OFFSETS.prop),
    targetId: dv.getUint32(at + BPG_OFFSETS.targetId),
    groupId: dv.getUint32(at + BPG_OFFSETS.groupId),
    dataLength: dv.getUint32(at + BPG_OFFSETS.dataLength),
  };
}

/**
 * The two tag bytes as one number (tag 'IM' -> 0x494d) when `bytes` starts with a BPG
 * header, else -1. Reads 6 bytes, decodes nothing: for routing a flood of messages cheaply
 * (decodeOne validates the whole packet).
 */
export function peekTag(bytes: Uint8Array): number {
  if (bytes.length < BPG_HEADER_SIZE) return -1;
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return magic === BPG_MAGIC ? (bytes[BPG_OFFSETS.tag]! << 8) | bytes[BPG_OFFSETS.tag + 1]! : -1;
}

/** The number peekTag() returns for a two-character tag such as 'IM'. */
export function tagNumber(tag: string): number {
  if (tag.length !== 2) throw new RangeError(`tagNumber(tag): a tag is two characters, not ${JSON.stringify(tag)}`);
  return (tag.charCodeAt(0) << 8) | tag.charCodeAt(1);
}

function versionOf(prop: number): number {
  const v = (prop >>> 8) & 0xff;
  return v === 0 ? 1 : v; // version-0 encoders predate the field
}

/** The packet a validated prefix describes, with its metadata and binary. */
function packetOf(pre: Prefix, metadata: string, binary: Uint8Array): BpgPacket {
  return {
    tag: String.fromCharCode(pre.tag0, pre.tag1),
    endOfGroup: (pre.prop & END_OF_GROUP_BIT) !== 0,
    version: versionOf(pre.prop),
    targetId: pre.targetId,
    groupId: pre.groupId,
    metadata,
    binary,
  };
}

const messages = {
  badMagic: (m: number) => `magic ${hex32(m)} is not ${hex32(BPG_MAGIC)} ("BPG\\x01")`,
  dataLength: (dl: number) => `data length ${dl} is below the minimum 4 (the string length field)`,
  stringLength: (sl: number, dl: number) =>
    `string length ${sl} exceeds data length ${dl} - 4 = ${dl - 4}`,
  oversize: (total: number, max: number) => `packet size ${total} exceeds the maximum ${max}`,
  version: (v: number) => `version ${v} is above the supported version ${BPG_VERSION}`,
  utf8: (n: number) => `metadata of ${n} bytes is not well-formed UTF-8`,
};

// ---- encoding ----------------------------------------------------------------------------

/** Bytes encodeInto() writes: 26 + UTF-8 metadata + binary. Does not validate. */
export function encodedSize(packet: BpgPacketInit): number {
  return BPG_HEADER_SIZE + utf8Length(packet.metadata ?? '') + (packet.binary?.byteLength ?? 0);
}

/**
 * Writes the packet at the start of `target` (which may be a view into a SharedArrayBuffer
 * region reserved in a ring) and returns the bytes written. Throws BpgError for an invalid
 * packet or a too-small target, RangeError for ids that are not u32; nothing is written then.
 */
export function encodeInto(target: Uint8Array, packet: BpgPacketInit): number {
  const metaLength = validate(packet);
  const size = BPG_HEADER_SIZE + metaLength + (packet.binary?.byteLength ?? 0);
  if (target.byteLength < size) {
    throw new BpgError(
      'buffer_too_small',
      `target of ${target.byteLength} bytes is too small for a ${size}-byte packet`,
    );
  }
  return writePacket(target, packet, metaLength);
}

/** Encodes into a new Uint8Array of exactly encodedSize() bytes. Throws like encodeInto(). */
export function encode(packet: BpgPacketInit): Uint8Array {
  // Validated before allocating, so an overflowing packet reports length_overflow instead of
  // failing to allocate.
  const metaLength = validate(packet);
  const out = new Uint8Array(BPG_HEADER_SIZE + metaLength + (packet.binary?.byteLength ?? 0));
  writePacket(out, packet, metaLength);
  return out;
}

/** Everything encodeInto and encode check before writing; returns the metadata's UTF-8 length. */
function validate(packet: BpgPacketInit): number {
  const tag = packet.tag;
  if (tag.length !== 2) {
    throw new BpgError('invalid_tag', `tag "${tag}" has ${tag.length} characters; exactly 2 are allowed`);
  }
  const tagError = tagProblem(tag.charCodeAt(0), tag.charCodeAt(1));
  if (tagError !== undefined) throw new BpgError('invalid_tag', tagError);
  checkU32('targetId', packet.targetId);
  checkU32('groupId', packet.groupId);
  const metadata = packet.metadata ?? '';
  // TextEncoder would silently turn a lone surrogate into U+FFFD; C++ rejects bad UTF-8 too.
  if (!metadata.isWellFormed()) {
    throw new BpgError('invalid_metadata_utf8', 'metadata contains a lone UTF-16 surrogate');
  }
  const metaLength = utf8Length(metadata);
  const binaryLength = packet.binary?.byteLength ?? 0;
  if (4 + metaLength + binaryLength > MAX_U32) {
    throw new BpgError(
      'length_overflow',
      `4 + metadata ${metaLength} + binary ${binaryLength} bytes exceeds the 32-bit data length limit ${MAX_U32}`,
    );
  }
  return metaLength;
}

/** Writes a validated packet at the start of `target`, which has room; returns its size. */
function writePacket(target: Uint8Array, packet: BpgPacketInit, metaLength: number): number {
  const tag = packet.tag;
  const metadata = packet.metadata ?? '';
  const binary = packet.binary;
  const dataLength = 4 + metaLength + (binary?.byteLength ?? 0);
  const dv = view(target);
  dv.setUint32(0, BPG_MAGIC);
  dv.setUint8(4, tag.charCodeAt(0));
  dv.setUint8(5, tag.charCodeAt(1));
  dv.setUint32(6, (BPG_VERSION << 8) | ((packet.endOfGroup ?? true) ? END_OF_GROUP_BIT : 0));
  dv.setUint32(10, packet.targetId);
  dv.setUint32(14, packet.groupId);
  dv.setUint32(18, dataLength);
  dv.setUint32(22, metaLength);
  if (metaLength > 0) {
    textEncoder.encodeInto(metadata, target.subarray(BPG_HEADER_SIZE, BPG_HEADER_SIZE + metaLength));
  }
  if (binary !== undefined) target.set(binary, BPG_HEADER_SIZE + metaLength);
  return BPG_PREFIX_SIZE + dataLength;
}

// ---- one-shot decoding -------------------------------------------------------------------

export interface BpgDecodeOneOptions {
  maxPacketSize?: number;
}

/**
 * Decodes the packet at the start of `bytes`; trailing bytes are left alone (see `size`).
 * `binary` is a view into `bytes` (no copy). Throws BpgError on malformed or incomplete input.
 */
export function decodeOne(
  bytes: Uint8Array,
  options: BpgDecodeOneOptions = {},
): { packet: BpgPacket; size: number } {
  const max = options.maxPacketSize ?? BPG_DEFAULT_MAX_PACKET_SIZE;
  if (bytes.byteLength < BPG_PREFIX_SIZE) {
    // A wrong magic is reported as soon as it is visible rather than as "truncated".
    const magic = [0x42, 0x50, 0x47, 0x01];
    const n = Math.min(bytes.byteLength, 4);
    for (let i = 0; i < n; i++) {
      if (bytes[i] !== magic[i]) {
        let got = 0;
        for (let k = 0; k < 4; k++) got = got * 256 + (k < n ? bytes[k]! : 0);
        throw new BpgError('bad_magic', messages.badMagic(got));
      }
    }
    throw new BpgError(
      'truncated',
      `${bytes.byteLength} bytes are fewer than the ${BPG_PREFIX_SIZE}-byte prefix`,
      { packetSize: BPG_PREFIX_SIZE },
    );
  }
  const dv = view(bytes);
  const pre = parsePrefix(dv, 0);
  if (pre.magic !== BPG_MAGIC) throw new BpgError('bad_magic', messages.badMagic(pre.magic));
  if (pre.dataLength < 4) {
    throw new BpgError('data_length_too_small', messages.dataLength(pre.dataLength));
  }
  const total = BPG_PREFIX_SIZE + pre.dataLength;
  const version = versionOf(pre.prop);
  if (version > BPG_VERSION) {
    throw new BpgError('unsupported_version', messages.version(version), { packetSize: total });
  }
  if (total > max) throw new BpgError('packet_too_large', messages.oversize(total, max));
  if (bytes.byteLength < BPG_HEADER_SIZE) {
    throw new BpgError(
      'truncated',
      `${bytes.byteLength} bytes are fewer than the ${BPG_HEADER_SIZE}-byte header`,
      { packetSize: total },
    );
  }
  const stringLength = dv.getUint32(BPG_PREFIX_SIZE);
  if (stringLength > pre.dataLength - 4) {
    throw new BpgError('string_length_too_large', messages.stringLength(stringLength, pre.dataLength));
  }
  const tagError = tagProblem(pre.tag0, pre.tag1);
  if (tagError !== undefined) throw new BpgError('invalid_tag', tagError);
  if (bytes.byteLength < total) {
    throw new BpgError(
      'truncated',
      `${bytes.byteLength} bytes are fewer than the packet size ${total}`,
      { packetSize: total },
    );
  }
  const metaEnd = BPG_HEADER_SIZE + stringLength;
  const metadata = decodeUtf8(bytes.subarray(BPG_HEADER_SIZE, metaEnd));
  if (metadata === undefined) {
    throw new BpgError('invalid_metadata_utf8', messages.utf8(stringLength));
  }
  return { packet: packetOf(pre, metadata, bytes.subarray(metaEnd, total)), size: total };
}

// ---- streaming decoding: byte queue ------------------------------------------------------

interface Segment {
  data: Uint8Array; // backing storage; only [start, end) holds queued bytes
  start: number;
  end: number;
}

const COALESCE_BELOW = 4096;

/** Pending bytes: owned segments followed by the chunk being pushed (borrowed until retain). */
class ByteQueue {
  private segs: Segment[] = [];
  private first = 0; // segs before this index are consumed (compacted lazily)
  private borrowed: Uint8Array = new Uint8Array(0);
  size = 0;

  borrow(chunk: Uint8Array): void {
    this.borrowed = chunk;
    this.size += chunk.byteLength;
  }

  /** Copies the unconsumed part of the borrowed chunk, since the caller may reuse it. */
  retain(): void {
    const b = this.borrowed;
    if (b.byteLength === 0) return;
    this.borrowed = new Uint8Array(0);
    const last = this.segs.length > this.first ? this.segs[this.segs.length - 1] : undefined;
    if (last && last.data.byteLength - last.end >= b.byteLength) {
      last.data.set(b, last.end);
      last.end += b.byteLength;
      return;
    }
    // Small chunks share a buffer with spare room, so byte-at-a-time input stays O(n).
    const data = new Uint8Array(Math.max(b.byteLength, b.byteLength < COALESCE_BELOW ? COALESCE_BELOW : 0));
    data.set(b);
    this.segs.push({ data, start: 0, end: b.byteLength });
  }

  private forEachRun(fn: (bytes: Uint8Array, start: number, end: number) => boolean): void {
    for (let i = this.first; i < this.segs.length; i++) {
      const s = this.segs[i]!;
      if (!fn(s.data, s.start, s.end)) return;
    }
    if (this.borrowed.byteLength > 0) fn(this.borrowed, 0, this.borrowed.byteLength);
  }

  /** Copies bytes [offset, offset + dst.length) of the queue into dst. */
  copyOut(offset: number, dst: Uint8Array): void {
    let done = 0;
    let skip = offset;
    this.forEachRun((bytes, start, end) => {
      const len = end - start;
      if (skip >= len) {
        skip -= len;
        return true;
      }
      const n = Math.min(len - skip, dst.byteLength - done);
      dst.set(bytes.subarray(start + skip, start + skip + n), done);
      done += n;
      skip = 0;
      return done < dst.byteLength;
    });
  }

  /** Bytes [offset, offset + len): a view when contiguous, else a copy. */
  bytes(offset: number, len: number): Uint8Array {
    let found: Uint8Array | undefined;
    let skip = offset;
    this.forEachRun((bytes, start, end) => {
      const runLen = end - start;
      if (skip >= runLen) {
        skip -= runLen;
        return true;
      }
      if (runLen - skip >= len) found = bytes.subarray(start + skip, start + skip + len);
      return false;
    });
    if (found) return found;
    const out = new Uint8Array(len);
    this.copyOut(offset, out);
    return out;
  }

  /** The first contiguous run. */
  front(): Uint8Array {
    if (this.first < this.segs.length) {
      const s = this.segs[this.first]!;
      return s.data.subarray(s.start, s.end);
    }
    return this.borrowed;
  }

  consume(n: number): void {
    this.size -= n;
    while (n > 0 && this.first < this.segs.length) {
      const s = this.segs[this.first]!;
      const avail = s.end - s.start;
      if (n < avail) {
        s.start += n;
        return;
      }
      n -= avail;
      this.first++;
    }
    if (this.first > 64 && this.first * 2 > this.segs.length) {
      this.segs = this.segs.slice(this.first);
      this.first = 0;
    }
    if (n > 0) this.borrowed = this.borrowed.subarray(n);
  }
}

// ---- streaming decoding ------------------------------------------------------------------

export interface BpgDecoderOptions {
  /** Total bytes including the header (default 64 MiB). */
  maxPacketSize?: number;
  /** Idle time after which expire() drops an incomplete group (default 30 s). */
  groupTimeoutMs?: number;
}

/** Packets sharing one (groupId, targetId), in arrival order; the last has endOfGroup. */
export interface BpgGroup {
  groupId: number;
  targetId: number;
  packets: BpgPacket[];
}

export interface BpgExpiredGroup {
  groupId: number;
  targetId: number;
  packetCount: number;
  lastActivityMs: number;
}

export interface BpgDecodeOutput {
  /** Completed groups, in completion order. */
  groups: BpgGroup[];
  /** Problems found in this push, in stream order; each has `offset` set. */
  errors: BpgError[];
}

export interface BpgDecoderStats {
  bytesIn: number;
  packetsDecoded: number;
  groupsCompleted: number;
  groupsExpired: number;
  bytesDropped: number; // skipped while looking for a magic
  packetsSkippedVersion: number; // version > 1
  packetsRejectedOversize: number;
  packetsMalformed: number;
}

interface PendingGroup {
  groupId: number;
  targetId: number;
  packets: BpgPacket[];
  lastActivityMs: number;
}

/**
 * Streaming decoder with the same semantics as smc::bpg::Decoder. Each push() returns what it
 * completed; chunks are only borrowed during push() (bytes still needed are copied), so they
 * may be transient views into a ring. Work is O(bytes pushed).
 */
export class BpgDecoder {
  private readonly maxPacketSize: number;
  private readonly groupTimeoutMs: number;
  private readonly queue = new ByteQueue();
  private readonly header = new Uint8Array(BPG_HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly pending = new Map<string, PendingGroup>(); // insertion order = arrival order
  private offset = 0; // stream offset of the queue's first byte
  private skip = 0; // bytes of a rejected packet still to discard
  private resyncing = false;
  private resyncStart = 0;
  private resyncDropped = 0;
  private readonly counters: BpgDecoderStats = {
    bytesIn: 0,
    packetsDecoded: 0,
    groupsCompleted: 0,
    groupsExpired: 0,
    bytesDropped: 0,
    packetsSkippedVersion: 0,
    packetsRejectedOversize: 0,
    packetsMalformed: 0,
  };

  constructor(options: BpgDecoderOptions = {}) {
    this.maxPacketSize = options.maxPacketSize ?? BPG_DEFAULT_MAX_PACKET_SIZE;
    this.groupTimeoutMs = options.groupTimeoutMs ?? BPG_DEFAULT_GROUP_TIMEOUT_MS;
  }

  get stats(): Readonly<BpgDecoderStats> {
    return { ...this.counters };
  }
  get bufferedBytes(): number {
    return this.queue.size;
  }
  get pendingGroups(): number {
    return this.pending.size;
  }

  /** `nowMs` stamps the groups receiving packets, for expire(). */
  push(chunk: Uint8Array, nowMs: number = Date.now()): BpgDecodeOutput {
    const out: BpgDecodeOutput = { groups: [], errors: [] };
    const q = this.queue;
    this.counters.bytesIn += chunk.byteLength;
    q.borrow(chunk);
    for (;;) {
      if (this.skip > 0) {
        // Consumed straight from the borrowed chunk, so a rejected packet is never buffered.
        const n = Math.min(this.skip, q.size);
        this.consume(n);
        this.skip -= n;
        if (this.skip > 0) break;
      }
      if (this.resyncing && !this.resync(out)) break;
      if (q.size < 4) break;

      const have = Math.min(q.size, BPG_HEADER_SIZE);
      q.copyOut(0, this.header.subarray(0, have));
      const hv = this.headerView;
      if (hv.getUint32(0) !== BPG_MAGIC) {
        this.resyncing = true;
        this.resyncStart = this.offset;
        this.resyncDropped = 0;
        continue;
      }
      if (have < BPG_PREFIX_SIZE) break;
      const pre = parsePrefix(hv, 0);
      if (pre.dataLength < 4) {
        this.failHeader(out, 'data_length_too_small', messages.dataLength(pre.dataLength));
        continue;
      }
      const total = BPG_PREFIX_SIZE + pre.dataLength;
      const version = versionOf(pre.prop);
      if (version > BPG_VERSION) {
        this.counters.packetsSkippedVersion++;
        this.skip = total;
        continue;
      }
      if (total > this.maxPacketSize) {
        this.counters.packetsRejectedOversize++;
        out.errors.push(
          new BpgError('packet_too_large', messages.oversize(total, this.maxPacketSize), {
            offset: this.offset,
          }),
        );
        this.skip = total;
        continue;
      }
      if (have < BPG_HEADER_SIZE) break;
      const stringLength = hv.getUint32(BPG_PREFIX_SIZE);
      if (stringLength > pre.dataLength - 4) {
        this.failHeader(out, 'string_length_too_large', messages.stringLength(stringLength, pre.dataLength));
        continue;
      }
      const tagError = tagProblem(pre.tag0, pre.tag1);
      if (tagError !== undefined) {
        // The framing is intact, so only this packet is lost.
        this.counters.packetsMalformed++;
        out.errors.push(new BpgError('invalid_tag', tagError, { offset: this.offset }));
        this.skip = total;
        continue;
      }
      if (q.size < total) break;

      const metadata = decodeUtf8(q.bytes(BPG_HEADER_SIZE, stringLength));
      const binary = new Uint8Array(total - BPG_HEADER_SIZE - stringLength);
      q.copyOut(BPG_HEADER_SIZE + stringLength, binary);
      const packetOffset = this.offset;
      this.consume(total);
      if (metadata === undefined) {
        this.counters.packetsMalformed++;
        out.errors.push(
          new BpgError('invalid_metadata_utf8', messages.utf8(stringLength), { offset: packetOffset }),
        );
        continue;
      }
      this.deliver(packetOf(pre, metadata, binary), nowMs, out);
    }
    q.retain();
    return out;
  }

  /** Drops and returns incomplete groups idle for at least groupTimeoutMs, oldest first. */
  expire(nowMs: number = Date.now()): BpgExpiredGroup[] {
    const expired: BpgExpiredGroup[] = [];
    for (const [key, g] of this.pending) {
      if (nowMs - g.lastActivityMs >= this.groupTimeoutMs) {
        expired.push({
          groupId: g.groupId,
          targetId: g.targetId,
          packetCount: g.packets.length,
          lastActivityMs: g.lastActivityMs,
        });
        this.pending.delete(key);
      }
    }
    this.counters.groupsExpired += expired.length;
    return expired;
  }

  private consume(n: number): void {
    this.queue.consume(n);
    this.offset += n;
  }

  private failHeader(out: BpgDecodeOutput, code: BpgErrorCode, message: string): void {
    this.counters.packetsMalformed++;
    out.errors.push(new BpgError(code, message, { offset: this.offset }));
    // No length in a malformed header can be trusted, so the next packet is found by its magic.
    this.resyncing = true;
    this.resyncStart = this.offset;
    this.resyncDropped = 1;
    this.counters.bytesDropped++;
    this.consume(1);
  }

  private resync(out: BpgDecodeOutput): boolean {
    const q = this.queue;
    while (q.size >= 4) {
      q.copyOut(0, this.header.subarray(0, 4));
      if (this.headerView.getUint32(0) === BPG_MAGIC) {
        out.errors.push(
          new BpgError(
            'bad_magic',
            `dropped ${this.resyncDropped} bytes before the next magic ${hex32(BPG_MAGIC)}`,
            { offset: this.resyncStart },
          ),
        );
        this.resyncing = false;
        return true;
      }
      // Jump to the next candidate first byte within the contiguous run.
      const f = q.front();
      const hit = f.indexOf(BPG_MAGIC >>> 24, 1);
      const n = hit < 0 ? f.byteLength : hit;
      this.consume(n);
      this.counters.bytesDropped += n;
      this.resyncDropped += n;
    }
    return false;
  }

  private deliver(packet: BpgPacket, nowMs: number, out: BpgDecodeOutput): void {
    this.counters.packetsDecoded++;
    const key = `${packet.groupId}:${packet.targetId}`;
    let g = this.pending.get(key);
    if (!g) {
      if (packet.endOfGroup) {
        this.counters.groupsCompleted++;
        out.groups.push({ groupId: packet.groupId, targetId: packet.targetId, packets: [packet] });
        return;
      }
      g = { groupId: packet.groupId, targetId: packet.targetId, packets: [], lastActivityMs: nowMs };
      this.pending.set(key, g);
    }
    g.lastActivityMs = nowMs;
    g.packets.push(packet);
    if (packet.endOfGroup) {
      this.counters.groupsCompleted++;
      this.pending.delete(key);
      out.groups.push({ groupId: g.groupId, targetId: g.targetId, packets: g.packets });
    }
  }
}

// ---- request / response ------------------------------------------------------------------

/** The only thing the requester needs from the channel. */
export interface BpgTransport {
  send(bytes: Uint8Array): void;
}

/** A request packet: the requester assigns groupId and the end-of-group bits. */
export type BpgRequestPacket = Omit<BpgPacketInit, 'groupId' | 'endOfGroup'>;

export interface BpgRequesterOptions {
  decoder?: BpgDecoderOptions;
  /** Clock for the decoder's group expiry (default Date.now). */
  now?: () => number;
  /** First group id to allocate (default 1); ids then increase and wrap at 2^32. */
  firstGroupId?: number;
  /** A complete group that answers no pending request (e.g. it arrived after a timeout). */
  onUnmatched?: (group: BpgGroup) => void;
  /** Malformed incoming bytes. */
  onError?: (error: BpgError) => void;
  /** Incomplete incoming groups dropped by the decoder's idle timeout. */
  onExpired?: (group: BpgExpiredGroup) => void;
}

interface PendingRequest {
  resolve: (group: BpgGroup) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Sends a group of packets and resolves with the response group carrying the same group id and
 * target id. Incoming bytes are fed through receive(); sending goes through `transport`.
 */
export class BpgRequester {
  private readonly decoder: BpgDecoder;
  private readonly now: () => number;
  private readonly inflight = new Map<string, PendingRequest>();
  private nextGroupId: number;

  constructor(
    private readonly transport: BpgTransport,
    private readonly options: BpgRequesterOptions = {},
  ) {
    this.decoder = new BpgDecoder(options.decoder);
    this.now = options.now ?? Date.now;
    this.nextGroupId = options.firstGroupId ?? 1;
    checkU32('firstGroupId', this.nextGroupId);
  }

  get pendingRequests(): number {
    return this.inflight.size;
  }

  request(packets: readonly BpgRequestPacket[], options: { timeoutMs: number }): Promise<BpgGroup> {
    const first = packets[0];
    if (!first) return Promise.reject(new RangeError('a request needs at least one packet'));
    const { timeoutMs } = options;
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(new RangeError(`timeoutMs ${timeoutMs} is not a finite number >= 0`));
    }
    const targetId = first.targetId;
    if (packets.some((p) => p.targetId !== targetId)) {
      return Promise.reject(new RangeError('all packets of a request must share one targetId'));
    }
    const groupId = this.allocateGroupId(targetId);
    if (groupId === undefined) {
      return Promise.reject(new RangeError(`every group id is in use for target ${targetId}`));
    }
    let bytes: Uint8Array;
    try {
      const full = packets.map((p, i) => ({ ...p, groupId, endOfGroup: i === packets.length - 1 }));
      bytes = new Uint8Array(full.reduce((n, p) => n + encodedSize(p), 0));
      let at = 0;
      for (const p of full) at += encodeInto(bytes.subarray(at), p);
    } catch (e) {
      return Promise.reject(e);
    }
    const key = `${groupId}:${targetId}`;
    return new Promise<BpgGroup>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inflight.delete(key);
        reject(
          new TimeoutError(
            `BPG request (group ${groupId}, target ${targetId}) got no complete response within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      // Registered before sending: a loopback transport may answer synchronously.
      this.inflight.set(key, { resolve, reject, timer });
      try {
        this.transport.send(bytes);
      } catch (e) {
        clearTimeout(timer);
        this.inflight.delete(key);
        reject(e);
      }
    });
  }

  /** Feeds bytes received from the peer (any chunking). */
  receive(bytes: Uint8Array): void {
    const now = this.now();
    const out = this.decoder.push(bytes, now);
    for (const e of out.errors) this.options.onError?.(e);
    for (const g of out.groups) {
      const key = `${g.groupId}:${g.targetId}`;
      const req = this.inflight.get(key);
      if (!req) {
        this.options.onUnmatched?.(g);
        continue;
      }
      this.inflight.delete(key);
      clearTimeout(req.timer);
      req.resolve(g);
    }
    for (const g of this.decoder.expire(now)) this.options.onExpired?.(g);
  }

  /** Rejects every pending request with `reason` (e.g. when the channel closes). */
  close(reason: Error = new ChannelError('closed', 'BPG requester closed')): void {
    for (const req of this.inflight.values()) {
      clearTimeout(req.timer);
      req.reject(reason);
    }
    this.inflight.clear();
  }

  private allocateGroupId(targetId: number): number | undefined {
    // Bounded by the number of requests in flight, which is far below 2^32 in practice.
    for (let tries = 0; tries <= this.inflight.size; tries++) {
      const id = this.nextGroupId;
      this.nextGroupId = id === MAX_U32 ? 0 : id + 1;
      if (!this.inflight.has(`${id}:${targetId}`)) return id;
    }
    return undefined;
  }
}
