// Package entry point for Node and Electron: the channel with the native addon as its
// default peer. Browser code imports './browser' instead (no addon, no Node modules).
import { setDefaultTransportFactory, type ChannelOptions } from './channel';
import { AddonTransport } from './native';

setDefaultTransportFactory(
  (o: ChannelOptions) =>
    new AddonTransport({
      handler: o.handler ?? 'echo',
      ...(o.sourceCount !== undefined ? { sourceCount: o.sourceCount } : {}),
      ...(o.sourceSize !== undefined ? { sourceSize: o.sourceSize } : {}),
      ...(o.maxMessage !== undefined ? { maxMessage: o.maxMessage } : {}),
      spin: o.wakeMode === 'spin',
    }),
);

export {
  SharedMemoryChannel,
  type ChannelOptions,
  type ChannelStats,
  type MessageCallback,
  type ReceiveOptions,
  type Reservation,
  type SendData,
  type WakeMode,
} from './channel';
export { ChannelClosedError, ChannelError, ProtocolError, TimeoutError } from './errors';
export { AddonTransport, loadAddon, type NativeHandlerOptions } from './native';
export type { PeerTransport, TransportStartOptions } from './transport';
export * as protocol from './protocol';
export * as bpg from './bpg';
