// BPG one-shot decoding: the packet at the start of a buffer, checked B1-B7 in order
// (checks.ts), its metadata and binary views into the input.
import { BpgError, BPG_DEFAULT_MAX_PACKET_SIZE, BPG_HEADER_SIZE, BPG_MAGIC, BPG_PREFIX_SIZE, BPG_VERSION, packetOf, parsePrefix, versionOf, view, type BpgPacket } from './wire';
import { decodeUtf8, messages, tagProblem } from './checks';

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
  // B1 magic
  if (pre.magic !== BPG_MAGIC) throw new BpgError('bad_magic', messages.badMagic(pre.magic));
  // B2 data length
  if (pre.dataLength < 4) {
    throw new BpgError('data_length_too_small', messages.dataLength(pre.dataLength));
  }
  const total = BPG_PREFIX_SIZE + pre.dataLength;
  const version = versionOf(pre.prop);
  // B3 version
  if (version > BPG_VERSION) {
    throw new BpgError('unsupported_version', messages.version(version), { packetSize: total });
  }
  // B4 packet size
  if (total > max) throw new BpgError('packet_too_large', messages.oversize(total, max));
  if (bytes.byteLength < BPG_HEADER_SIZE) {
    throw new BpgError(
      'truncated',
      `${bytes.byteLength} bytes are fewer than the ${BPG_HEADER_SIZE}-byte header`,
      { packetSize: total },
    );
  }
  const stringLength = dv.getUint32(BPG_PREFIX_SIZE);
  // B5 string length
  if (stringLength > pre.dataLength - 4) {
    throw new BpgError('string_length_too_large', messages.stringLength(stringLength, pre.dataLength));
  }
  // B6 tag
  const tagError = tagProblem(pre.tag0, pre.tag1);
  if (tagError !== undefined) throw new BpgError('invalid_tag', tagError);
  if (bytes.byteLength < total) {
    throw new BpgError(
      'truncated',
      `${bytes.byteLength} bytes are fewer than the packet size ${total}`,
      { packetSize: total },
    );
  }
  // B7 metadata UTF-8
  const metaEnd = BPG_HEADER_SIZE + stringLength;
  const metadata = decodeUtf8(bytes.subarray(BPG_HEADER_SIZE, metaEnd));
  if (metadata === undefined) {
    throw new BpgError('invalid_metadata_utf8', messages.utf8(stringLength));
  }
  return { packet: packetOf(pre, metadata, bytes.subarray(metaEnd, total)), size: total };
}
