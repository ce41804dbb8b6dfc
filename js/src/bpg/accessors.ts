// Reading one field of a BPG packet in place, without decoding it (routing a flood of
// messages by tag).
import { BPG_HEADER_SIZE, BPG_MAGIC, BPG_OFFSETS } from './wire';

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
