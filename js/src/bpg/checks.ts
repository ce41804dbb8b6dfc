// The validity rules of docs/bpg.md, B1-B7, checked by every decoder in this order, and
// their messages. B1 magic (bad_magic), B2 data length (data_length_too_small), B3 version
// (unsupported_version), B4 packet size (packet_too_large), B5 string length
// (string_length_too_large), B6 tag (invalid_tag), B7 metadata UTF-8 (invalid_metadata_utf8).
// The encoders apply B6 and B7 to what they write.
import { BPG_MAGIC, BPG_VERSION, MAX_U32, hex32, hex8 } from './wire';

// fatal: reject what the C++ decoder rejects instead of substituting U+FFFD.
// ignoreBOM: a leading U+FEFF is metadata content, and C++ keeps it.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;
}

/** B7: the metadata, or undefined when it is not well-formed UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    // Chromium's TextDecoder rejects views over a SharedArrayBuffer.
    return textDecoder.decode(isShared(bytes) ? bytes.slice() : bytes);
  } catch {
    return undefined;
  }
}

export function isTagByte(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** B6: the `invalid_tag` message for tag bytes b0, b1, or undefined when both are valid. */
export function tagProblem(b0: number, b1: number): string | undefined {
  const i = !isTagByte(b0) ? 0 : !isTagByte(b1) ? 1 : -1;
  if (i < 0) return undefined;
  return `tag byte ${i} is ${hex8(i === 0 ? b0 : b1)}; allowed are printable ASCII 0x20..0x7e`;
}

/** What B1-B5 and B7 report (B6 is tagProblem). */
export const messages = {
  badMagic: (m: number) => `magic ${hex32(m)} is not ${hex32(BPG_MAGIC)} ("BPG\\x01")`,
  dataLength: (dl: number) => `data length ${dl} is below the minimum 4 (the string length field)`,
  stringLength: (sl: number, dl: number) =>
    `string length ${sl} exceeds data length ${dl} - 4 = ${dl - 4}`,
  oversize: (total: number, max: number) => `packet size ${total} exceeds the maximum ${max}`,
  version: (v: number) => `version ${v} is above the supported version ${BPG_VERSION}`,
  utf8: (n: number) => `metadata of ${n} bytes is not well-formed UTF-8`,
};

/** An id the caller passes (not data from the wire): a RangeError, a caller bug. */
export function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U32) {
    throw new RangeError(`${name} ${v} is not an unsigned 32-bit integer`);
  }
}
