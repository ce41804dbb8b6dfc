// Entry point for browsers and Web Workers: everything but the native addon.
export {
  SharedMemoryChannel,
  type ChannelOptions,
  type ChannelStats,
  type InPlaceCallback,
  type FragmentStream,
  type MessageCallback,
  type ReceiveOptions,
  type Reservation,
  type SendData,
  type StreamEnd,
  type WakeMode,
} from './channel';
export { ChannelClosedError, ChannelError, ProtocolError, RegionError, TimeoutError, type ChannelErrorCode } from './errors';
export type { PeerStats, PeerTransport, TransportStartOptions } from './transport';
export * as protocol from './protocol';
export * as bpg from './bpg';
