// BPG: the framed packet codec carried over the channel (docs/bpg.md); the package's
// `./bpg` entry point. Byte-compatible with the C++ codec (native/src/bpg/); both are
// checked against test-vectors/bpg.json. No Node imports: it also runs in browsers and
// Web Workers. The modules, one job each, named as their C++ twins:
//   bpg/wire.ts            constants, prefix layout, packet and error types
//   bpg/checks.ts          the validity rules B1-B7 and their messages
//   bpg/accessors.ts       one field read in place (peekTag)
//   bpg/encoder.ts         encodedSize, encodeInto, encode
//   bpg/decode-one.ts      decodeOne
//   bpg/byte-queue.ts      the stream decoder's pending bytes
//   bpg/stream-decoder.ts  BpgDecoder
//   bpg/requester.ts       BpgRequester (TS only: request / response over a channel)
export {
  BPG_DEFAULT_GROUP_TIMEOUT_MS,
  BPG_DEFAULT_MAX_PACKET_SIZE,
  BPG_HEADER_SIZE,
  BPG_MAGIC,
  BPG_OFFSETS,
  BPG_PREFIX_SIZE,
  BPG_VERSION,
  BpgError,
  type BpgErrorCode,
  type BpgPacket,
  type BpgPacketInit,
} from './bpg/wire';
export { peekTag, tagNumber } from './bpg/accessors';
export { encode, encodedSize, encodeInto } from './bpg/encoder';
export { decodeOne, type BpgDecodeOneOptions } from './bpg/decode-one';
export {
  BpgDecoder,
  type BpgDecodeOutput,
  type BpgDecoderOptions,
  type BpgDecoderStats,
  type BpgExpiredGroup,
  type BpgGroup,
} from './bpg/stream-decoder';
export { BpgRequester, type BpgRequestPacket, type BpgRequesterOptions, type BpgTransport } from './bpg/requester';
