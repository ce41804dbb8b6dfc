// BPG wire format (docs/bpg.md, "Wire format"): the constants, the prefix layout and how
// it is read, the packet types and the error type. Big-endian u32 fields.
import { ChannelError } from '../errors';

export const BPG_MAGIC = 0x42504701; // "BPG" 0x01
export const BPG_PREFIX_SIZE = 22; // magic .. data length
export const BPG_HEADER_SIZE = 26; // prefix + string length
export const BPG_VERSION = 1;
/** Byte offsets of the prefix fields (big-endian; docs/bpg.md), for in-place readers and patchers. */
export const BPG_OFFSETS = { magic: 0, tag: 4, prop: 6, targetId: 10, groupId: 14, dataLength: 18, stringLength: 22 } as const;
export const BPG_DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024;
export const BPG_DEFAULT_GROUP_TIMEOUT_MS = 30_000;

export const END_OF_GROUP_BIT = 1;
export const MAX_U32 = 0xffffffff;

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

export interface Prefix {
  magic: number;
  tag0: number;
  tag1: number;
  prop: number;
  targetId: number;
  groupId: number;
  dataLength: number;
}

export function parsePrefix(dv: DataView, at: number): Prefix {
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

export function versionOf(prop: number): number {
  const v = (prop >>> 8) & 0xff;
  return v === 0 ? 1 : v; // version-0 encoders predate the field
}

/** The packet a validated prefix describes, with its metadata and binary. */
export function packetOf(pre: Prefix, metadata: string, binary: Uint8Array): BpgPacket {
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

export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function hex32(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

export function hex8(v: number): string {
  return '0x' + v.toString(16).padStart(2, '0');
}
