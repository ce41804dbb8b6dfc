// BPG encoding: the size of a packet, and writing it (into a region reserved in a ring, or
// a new array). Everything is checked before anything is written.
import { BpgError, BPG_HEADER_SIZE, BPG_MAGIC, BPG_PREFIX_SIZE, BPG_VERSION, END_OF_GROUP_BIT, MAX_U32, view, type BpgPacketInit } from './wire';
import { checkU32, tagProblem } from './checks';

const textEncoder = new TextEncoder();

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
